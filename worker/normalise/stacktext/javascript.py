"""Parsing JavaScript stack traces as V8 (Node, Chrome, Deno, Bun, Workers) and Gecko print them.

V8 prints the error's `name: message` and then `    at fn (file:line:col)` frames newest first;
frames are reversed here so the crash comes last. `async` is a call modifier, not part of the
name, so it is dropped; frames without a file (`<anonymous>`, `native`, `index 0` of
`Promise.all`) are engine internals and never in-app.
"""

from __future__ import annotations

import re

from worker.models import ExceptionInfo, Frame
from worker.normalise.inapp import looks_like_app
from worker.normalise.stacktext.header import exception, parse_header

_V8 = re.compile(r"^\s*at (?:(?P<function>.*?) \((?P<location>.*)\)|(?P<bare>\S.*?))\s*$")
_GECKO = re.compile(r"^\s*(?P<function>[^@\s]*)@(?P<location>\S+:\d+(?::\d+)?)\s*$")
_LOCATION = re.compile(r"^(?P<path>.+?):(?P<line>\d+)(?::(?P<col>\d+))?$")


def parse_javascript(text: str) -> list[ExceptionInfo]:
    """The exception of a V8 or Gecko stack trace; [] when no frame line is found."""
    lines = text.splitlines()
    first_frame = next((i for i, line in enumerate(lines) if _frame_match(line)), None)
    if first_frame is None:
        return []
    frames = [_frame(match) for line in lines[first_frame:] if (match := _frame_match(line))]
    frames.reverse()
    header_text = "\n".join(line.strip() for line in lines[:first_frame]).strip()
    return [exception(_header(header_text), frames)]


def _frame_match(line: str) -> re.Match[str] | None:
    return _V8.match(line) or _GECKO.match(line)


def _header(header_text: str) -> tuple[str, str | None, str]:
    """(`type`, `module`, `message`); a message-only or empty header reads as a plain Error."""
    first, _, rest = header_text.partition("\n")
    parsed = parse_header(first) if first else None
    if parsed is None:
        return "Error", None, header_text
    message = "\n".join(part for part in (parsed[2], rest.strip()) if part)
    return parsed[0], parsed[1], message


def _frame(match: re.Match[str]) -> Frame:
    location = match["location"] if match["location"] is not None else match["bare"]
    function = match["function"] or None
    if function and function.startswith("async "):
        function = function[len("async ") :]
    if location.startswith("eval at "):
        location = location.rpartition(", ")[2]  # the eval'd code's own position
    located = _LOCATION.match(location)
    if located is None:
        # No file position: `at fn (native)`, `at async Promise.all (index 0)`, `<anonymous>`.
        return Frame(function=function or location, in_app=False)
    path = located["path"]
    return Frame(
        filename=path,
        abs_path=path,
        function=function,
        lineno=int(located["line"]),
        colno=int(located["col"]) if located["col"] else None,
        in_app=looks_like_app(path),
    )
