"""Keep another project's source out of committed cases, and put it back at run time.

A Sentry event carries a few lines of source around every frame (``pre_context``,
``context_line``, ``post_context``). Those lines are the benchmarked project's code, which this
repository does not commit: ``strip`` removes them before a case is written, and ``restore``
reads the same lines back from the repository at the case's release when the benchmark runs,
exactly as sentry-sdk read them from the deployed files (5 lines either side).
"""

from __future__ import annotations

import subprocess
from functools import lru_cache
from typing import Any

SOURCE_KEYS = ("pre_context", "context_line", "post_context")
CONTEXT_LINES = 5


def _frames(event: dict[str, Any]) -> list[dict[str, Any]]:
    values = (event.get("exception") or {}).get("values") or []
    return [frame for value in values
            for frame in ((value.get("stacktrace") or {}).get("frames") or [])]


def strip(event: dict[str, Any]) -> dict[str, Any]:
    """The event without source lines or local variables (changed in place and returned)."""
    for frame in _frames(event):
        for key in (*SOURCE_KEYS, "vars"):
            frame.pop(key, None)
    return event


@lru_cache(maxsize=512)
def _lines(repo: str, release: str, path: str) -> tuple[str, ...] | None:
    shown = subprocess.run(["git", "-C", repo, "show", f"{release}:{path}"],
                           capture_output=True, check=False)
    if shown.returncode != 0:
        return None
    return tuple(shown.stdout.decode("utf-8", "replace").splitlines())


def restore(event: dict[str, Any], repo: str, release: str) -> dict[str, Any]:
    """Fill in each frame's source lines from ``repo`` at ``release`` (in place, returned).

    Only frames whose ``filename`` is a path inside the repository get lines; interpreter and
    library frames stay without, as they would for a deployment without their sources.
    """
    for frame in _frames(event):
        path, lineno = frame.get("filename"), frame.get("lineno")
        if not path or not lineno or path.startswith("/"):
            continue
        lines = _lines(repo, release, path)
        if lines is None or lineno > len(lines):
            continue
        index = lineno - 1
        frame["pre_context"] = list(lines[max(0, index - CONTEXT_LINES):index])
        frame["context_line"] = lines[index]
        frame["post_context"] = list(lines[index + 1:index + 1 + CONTEXT_LINES])
    return event
