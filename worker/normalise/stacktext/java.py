"""Parsing JVM stack traces (Java, Kotlin, Scala) as `Throwable.printStackTrace` prints them.

The JVM prints the thrown exception first and its causes below ("Caused by:"), each newest frame
first, and elides a cause's frames shared with the enclosing trace as "... N more". Here the
elided frames are filled back in from the enclosing trace, each trace is reversed to run oldest
first, and the exceptions are ordered deepest cause first, the thrown one last, as Sentry's Java
SDK orders them. "Suppressed:" blocks belong to other exceptions and are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from worker.models import ExceptionInfo, Frame
from worker.normalise.inapp import looks_like_app
from worker.normalise.stacktext.header import exception, parse_header

# Logback and Log4j may append packaging data after the frame: `at a.B.c(B.java:3) ~[app.jar:1.0]`.
_FRAME = re.compile(r"^\s*at\s+(?P<qualified>[^\s(]+)\((?P<location>[^)]*)\)(?:\s.*)?$")
_MORE = re.compile(r"^\s*\.\.\.\s*(?P<count>\d+)\s+(?:more|common frames omitted)\s*$")
_THREAD = re.compile(r'^Exception in thread "[^"]*"\s+')
_CAUSE = "Caused by:"
_SUPPRESSED = re.compile(r"^\s+Suppressed:\s")
_JVM_KIND = re.compile(r"^(?:[\w$]+\.)+[\w$]+(?::|$)|^[\w$]*(?:Exception|Error|Throwable)(?::|$)")


@dataclass
class _Block:
    header: tuple[str, str | None, str]
    printed: list[Frame] = field(default_factory=list)  # newest first, as printed
    more: int = 0


def parse_java(text: str) -> list[ExceptionInfo]:
    """Exceptions of a JVM stack trace, deepest cause first; [] when no `at` frame is found."""
    blocks = _blocks(text.splitlines())
    if not any(block.printed for block in blocks):
        return []
    for enclosing, block in zip(blocks, blocks[1:], strict=False):
        if block.more:
            block.printed.extend(enclosing.printed[-block.more :])
    return [exception(block.header, block.printed[::-1]) for block in reversed(blocks)]


def _blocks(lines: list[str]) -> list[_Block]:
    blocks: list[_Block] = []
    skipping = False
    for line in lines:
        start = _block_start(line, bool(blocks))
        if start is not None:
            blocks.append(_Block(start))
            skipping = False
        elif _SUPPRESSED.match(line):
            skipping = True
        elif skipping or not blocks:
            continue
        elif match := _FRAME.match(line):
            blocks[-1].printed.append(_frame(match))
        elif more := _MORE.match(line):
            blocks[-1].more = int(more["count"])
        elif not blocks[-1].printed and line.strip():
            name, module, message = blocks[-1].header
            blocks[-1].header = (name, module, f"{message}\n{line.strip()}".strip())
    return blocks


def _block_start(line: str, started: bool) -> tuple[str, str | None, str] | None:
    """The header of a new exception when `line` starts one."""
    if line.startswith(_CAUSE):
        return parse_header(line[len(_CAUSE) :])
    if started:
        return None
    candidate = _THREAD.sub("", line.strip())
    if candidate != line.strip() or _JVM_KIND.match(candidate):
        return parse_header(candidate)
    return None


def _frame(match: re.Match[str]) -> Frame:
    # `java.base/java.lang.Thread.run` and `app//com.x.Y.z` carry a module or loader prefix.
    qualified = match["qualified"].rpartition("/")[2]
    module, _, function = qualified.rpartition(".")
    filename, _, line = match["location"].partition(":")
    known_file = filename not in ("Native Method", "Unknown Source", "")
    return Frame(
        filename=filename if known_file else None,
        module=module or None,
        function=function,
        lineno=int(line) if line.isdigit() else None,
        in_app=looks_like_app(None, module),
    )
