"""Parsing CPython's printed tracebacks, chained exceptions included.

CPython prints frames oldest first and, for chained errors, the cause before the exception that
was finally raised ("The above exception was the direct cause..." / "During handling of the above
exception..."), which is already the order `ErrorEvent.exceptions` wants. Caret lines, repeated
frame notes and log prefixes before the first "Traceback" are skipped.
"""

from __future__ import annotations

import re

from worker.models import ExceptionInfo, Frame
from worker.normalise.inapp import looks_like_app
from worker.normalise.stacktext.header import exception, parse_header

_TRACEBACK = "Traceback (most recent call last):"
_FRAME = re.compile(r'^\s+File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<function>.+))?$')
_CHAIN = ("During handling of the above exception", "The above exception was the direct cause")
_NOISE = re.compile(r"^\s*(?:[\^~\-+]+\s*)+$|^\s*\[Previous line repeated \d+ more times?\]$")


def parse_python(text: str) -> list[ExceptionInfo]:
    """Exceptions of a Python traceback, causes first; [] when there is none."""
    lines = text.splitlines()
    found: list[ExceptionInfo] = []
    frames: list[Frame] = []
    in_traceback = False
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.strip().endswith(_TRACEBACK):
            frames, in_traceback = [], True
        elif match := _FRAME.match(line):
            frames.append(_frame(match, _source_line(lines, index)))
            in_traceback = True
        elif line.startswith(_CHAIN) or _NOISE.match(line) or not line.strip():
            continue
        elif not line[0].isspace() and (in_traceback or _chain_follows(lines, index)):
            header = parse_header(line)
            if header is None:
                continue
            message, index = _message(header[2], lines, index)
            found.append(exception((header[0], header[1], message), frames))
            frames, in_traceback = [], False
    return found


def _frame(match: re.Match[str], source: str | None) -> Frame:
    path = match["path"]
    return Frame(
        filename=path,
        abs_path=path if path.startswith("/") or path[1:3] in (":\\", ":/") else None,
        function=match["function"],
        lineno=int(match["line"]),
        in_app=looks_like_app(path),
        context_line=source,
    )


def _source_line(lines: list[str], index: int) -> str | None:
    """The source line CPython prints under a frame, if the next line is one."""
    if index >= len(lines):
        return None
    candidate = lines[index]
    if not candidate[:1].isspace() or _FRAME.match(candidate) or _NOISE.match(candidate):
        return None
    return candidate.strip() or None


def _chain_follows(lines: list[str], index: int) -> bool:
    """True when the next non-blank line is a chaining note (a cause printed without frames)."""
    rest = (line for line in lines[index:] if line.strip())
    return next(rest, "").startswith(_CHAIN)


def _message(first: str, lines: list[str], index: int) -> tuple[str, int]:
    """A possibly multi-line exception message and the index after it."""
    parts = [first]
    while index < len(lines):
        line = lines[index]
        if not line.strip() or line.strip().endswith(_TRACEBACK) or line.startswith(_CHAIN):
            break
        parts.append(line.rstrip())
        index += 1
    return "\n".join(parts).strip(), index
