"""Parsing Go panics and fatal errors as the Go runtime prints them.

A panic prints `panic: message`, then each goroutine as `goroutine N [state]:` followed by
pairs of lines: the function (with its arguments) and, indented, `file.go:line +0xoffset`. Only
the first goroutine, the one that panicked, is read; its frames are printed newest first and are
reversed here. Names are split as Sentry's Go SDK splits them: `github.com/x/pkg.(*T).Run` is
module `github.com/x/pkg` and function `(*T).Run`. The runtime's own frames are library code.
"""

from __future__ import annotations

import re

from worker.models import ExceptionInfo, Frame
from worker.normalise.inapp import looks_like_app

_PANIC = re.compile(r"^(?P<kind>panic|fatal error): (?P<message>.*?)(?: \[recovered\])?\s*$")
_GOROUTINE = re.compile(r"^goroutine \d+ \[[^\]]*\]:\s*$")
_LOCATION = re.compile(r"^\s+(?P<path>\S.*?):(?P<line>\d+)(?: \+0x[0-9a-fA-F]+)?\s*$")
_CREATED_BY = re.compile(r"^created by (?P<name>\S+?)(?: in goroutine \d+)?\s*$")


def parse_go(text: str) -> list[ExceptionInfo]:
    """The panic of a Go crash report; [] when there is no `goroutine N [...]:` section."""
    lines = text.splitlines()
    start = next((i for i, line in enumerate(lines) if _GOROUTINE.match(line)), None)
    if start is None:
        return []
    frames = _frames(lines[start + 1 :])
    frames.reverse()
    panic = next((m for line in lines[:start] if (m := _PANIC.match(line.strip()))), None)
    kind, message = (panic["kind"], panic["message"]) if panic else ("panic", "")
    return [ExceptionInfo(type="fatal" if kind == "fatal error" else "panic", value=message,
                          frames=frames)]


def _frames(lines: list[str]) -> list[Frame]:
    """Frames of one goroutine, newest first, up to the blank line that ends it."""
    frames: list[Frame] = []
    function: str | None = None
    for line in lines:
        if not line.strip():
            if frames:
                break
            continue
        located = _LOCATION.match(line)
        if located and function is not None:
            frames.append(_frame(function, located["path"], int(located["line"])))
            function = None
        elif not line[0].isspace():
            created = _CREATED_BY.match(line)
            function = created["name"] if created else _strip_arguments(line.strip())
    return frames


def _strip_arguments(call: str) -> str:
    """`main.(*T).run(0xc000, ...)` → `main.(*T).run`: drop the final parenthesised group."""
    if not call.endswith(")"):
        return call
    depth = 0
    for index in range(len(call) - 1, -1, -1):
        depth += {")": 1, "(": -1}.get(call[index], 0)
        if depth == 0:
            return call[:index]
    return call


def _frame(qualified: str, path: str, line: int) -> Frame:
    slash = qualified.rfind("/")
    dot = qualified.find(".", slash + 1)
    module, function = (qualified[:dot], qualified[dot + 1 :]) if dot > 0 else (None, qualified)
    runtime = module == "runtime" or (module or "").startswith("runtime/")
    return Frame(
        filename=path,
        abs_path=path,
        module=module,
        function=function,
        lineno=line,
        in_app=not runtime and looks_like_app(path),
    )
