"""Rendering tickets (and later PR bodies and digests) from the Jinja2 templates in playbooks/.

Templates are data. Rendering is strict (`StrictUndefined`): a template naming a field that does
not exist fails loudly in tests instead of printing nothing in production. Untrusted text reaches a
template only after the scrubber, and the `md` and `fenced` filters keep it from being read as
Markdown (mentions, links, HTML) by the forge.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~@])")


def escape_markdown(text: object) -> str:
    """Make untrusted text render literally: no emphasis, links, HTML or @mentions."""
    flat = " ".join(str(text).split())
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat)


def fenced(text: object, language: str = "") -> str:
    """A fenced code block that the text cannot close early."""
    body = str(text)
    longest = max((len(run) for run in re.findall(r"`+", body)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}{language}\n{body}\n{fence}"


class Renderer:
    """Loads templates from `<playbooks>/templates` and renders them strictly."""

    def __init__(self, playbooks_dir: Path) -> None:
        self.env = Environment(
            loader=FileSystemLoader(str(playbooks_dir / "templates")),
            undefined=StrictUndefined,
            autoescape=False,  # Markdown, not HTML: untrusted text goes through `md`/`fenced`
            keep_trailing_newline=True,
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["md"] = escape_markdown
        self.env.filters["fenced"] = fenced

    def render(self, name: str, **context: Any) -> str:
        """Render template `name` with `context`."""
        return self.env.get_template(name).render(**context)
