"""Rendering tickets (and later PR bodies and digests) from the Jinja2 templates in playbooks/.

Templates are data. Rendering is strict (`StrictUndefined`): a template naming a field that does
not exist fails loudly in tests instead of printing nothing in production. Untrusted text reaches a
template only after the scrubber, and the `md`, `code`, `fenced` and `link` filters keep it from
being read as Markdown (mentions, links, HTML) by the forge. Whitespace is flattened in every
inline filter: a blank line inside untrusted text would otherwise end the code span or list item
it sits in and let the rest be read as Markdown.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, StrictUndefined

_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()<>#+!|~])")
_BACKTICKS = re.compile(r"`+")
# What may not appear inside a CommonMark autolink: controls, space, `<` and `>`.
_AUTOLINK_UNSAFE = re.compile(r"[\x00-\x20<>\x7f]")
_WEB_URL = re.compile(r"https?://", re.IGNORECASE)


def escape_markdown(text: object) -> str:
    """Make untrusted text render literally: no emphasis, links, HTML or @mentions."""
    flat = " ".join(str(text).split())
    # Forges find mentions in the rendered text, where a backslash escape is already gone; a
    # word joiner after "@" breaks the mention pattern and shows nothing.
    return _MARKDOWN_SPECIAL.sub(r"\\\1", flat).replace("@", "@\u2060")


def _longest_backtick_run(text: str) -> int:
    return max((len(run) for run in _BACKTICKS.findall(text)), default=0)


def inline_code(text: object) -> str:
    """A one-line inline code span that the text cannot close early ("" for empty text)."""
    flat = " ".join(str(text).split())
    if not flat:
        return ""
    delimiter = "`" * (_longest_backtick_run(flat) + 1)
    # A space on both sides is stripped by the renderer; it keeps an edge backtick literal.
    pad = " " if flat.startswith("`") or flat.endswith("`") else ""
    return f"{delimiter}{pad}{flat}{pad}{delimiter}"


def autolink(url: object) -> str:
    """An http(s) URL as an autolink it cannot break out of; anything else as inline code."""
    text = str(url).strip()
    if not _WEB_URL.match(text):
        return inline_code(text)
    return "<" + _AUTOLINK_UNSAFE.sub(lambda match: f"%{ord(match.group()):02X}", text) + ">"


def fenced(text: object, language: str = "") -> str:
    """A fenced code block that the text cannot close early."""
    body = str(text)
    longest = _longest_backtick_run(body)
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
        self.env.filters["code"] = inline_code
        self.env.filters["fenced"] = fenced
        self.env.filters["link"] = autolink

    def render(self, name: str, **context: Any) -> str:
        """Render template `name` with `context`."""
        return self.env.get_template(name).render(**context)
