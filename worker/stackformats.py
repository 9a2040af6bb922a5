"""Printing one exception's stack the way its own runtime prints it.

Events hold frames oldest first whatever their language (see `worker.normalise.stacktext`); a
reader recognises a trace by its runtime's shape, so each language gets its own: Python's
"most recent call last" traceback, V8's `    at fn (file:line:col)`, the JVM's
`\\tat pkg.Class.method(File.java:line)`, Go's `pkg.func(...)` / `\\tfile:line` pairs, Ruby's
`file:line:in 'method'`, PHP's `#0 file(line): fn()` and .NET's `   at Ns.Class.Method() in
file:line N`. Anything else gets a neutral listing that says which end is the crash.
"""

from __future__ import annotations

from collections.abc import Callable

from worker.models import ExceptionInfo, Frame

# Module names Python leaves off when it prints an exception's type.
_PYTHON_BUILTINS = {"builtins", "__builtin__", "exceptions", "__main__"}


def _qualified(exc: ExceptionInfo, separator: str = ".") -> str:
    return f"{exc.module}{separator}{exc.type}" if exc.module else exc.type


def _header(kind: str, value: str) -> str:
    return kind + (f": {value}" if value else "")


def _path(frame: Frame, prefer_absolute: bool = False) -> str:
    first, second = ((frame.abs_path, frame.filename) if prefer_absolute
                     else (frame.filename, frame.abs_path))
    return first or second or ""


def _omitted(count: int, indent: str) -> list[str]:
    return [f"{indent}... {count} older frame{'s' if count != 1 else ''} omitted"] if count else []


def python(exc: ExceptionInfo, frames: list[Frame], omitted: int) -> str:
    """`Traceback (most recent call last):`, frames oldest first, the exception last."""
    lines = ["Traceback (most recent call last):"] if frames else []
    lines += _omitted(omitted, "  ")
    for frame in frames:
        where = _path(frame) or frame.module or "<unknown>"
        line = f", line {frame.lineno}" if frame.lineno is not None else ""
        lines.append(f'  File "{where}"{line}, in {frame.function or "<module>"}')
        if frame.context_line and frame.context_line.strip():
            lines.append(f"    {frame.context_line.strip()}")
    kind = exc.type if (exc.module or "") in _PYTHON_BUILTINS else _qualified(exc)
    lines.append(_header(kind, exc.value))
    return "\n".join(lines)


def javascript(exc: ExceptionInfo, frames: list[Frame], omitted: int) -> str:
    """V8: `Type: message`, then `    at fn (file:line:col)` newest first."""
    lines = [_header(exc.type, exc.value)]
    for frame in reversed(frames):
        path = _path(frame, prefer_absolute=True)
        where = (path + "".join(f":{n}" for n in (frame.lineno, frame.colno) if n is not None)
                 if path and frame.lineno is not None else path)
        if not where:
            lines.append(f"    at {frame.function or '<anonymous>'}")
        elif frame.function:
            lines.append(f"    at {frame.function} ({where})")
        else:
            lines.append(f"    at {where}")
    return "\n".join(lines + _omitted(omitted, "    "))


def java(exc: ExceptionInfo, frames: list[Frame], omitted: int) -> str:
    """The JVM: `pkg.Type: message`, then `\\tat pkg.Class.method(File.java:line)` newest first."""
    lines = [_header(_qualified(exc), exc.value)]
    for frame in reversed(frames):
        method = ".".join(part for part in (frame.module, frame.function or "<unknown>") if part)
        if not frame.filename:
            where = "Unknown Source"
        else:
            where = frame.filename + (f":{frame.lineno}" if frame.lineno is not None else "")
        lines.append(f"\tat {method}({where})")
    return "\n".join(lines + _omitted(omitted, "\t"))


def go(exc: ExceptionInfo, frames: list[Frame], omitted: int) -> str:
    """A Go panic: `panic: message`, the goroutine, then `pkg.func(...)` / `\\tfile:line` pairs."""
    kind = "fatal error" if exc.type == "fatal" else "panic"
    value = exc.value if exc.type in ("panic", "fatal") else _header(exc.type, exc.value)
    lines = [f"{kind}: {value}".rstrip(), "", "goroutine 1 [running]:"]
    for frame in reversed(frames):
        name = ".".join(part for part in (frame.module, frame.function or "???") if part)
        lines.append(f"{name}(...)")
        where = _path(frame, prefer_absolute=True) or "???"
        lines.append(f"\t{where}:{frame.lineno if frame.lineno is not None else 0}")
    return "\n".join(lines + _omitted(omitted, "\t"))


def _ruby_location(frame: Frame) -> str:
    line = f":{frame.lineno}" if frame.lineno is not None else ""
    return f"{_path(frame) or '(unknown)'}{line}:in '{frame.function or '<main>'}'"


def ruby(exc: ExceptionInfo, frames: list[Frame], omitted: int) -> str:
    """Ruby: `file:line:in 'method': message (Type)`, then `\\tfrom file:line:in 'method'`."""
    message = f"{exc.value} ({exc.type})" if exc.value else exc.type
    if not frames:
        return message
    newest, *older = reversed(frames)
    lines = [f"{_ruby_location(newest)}: {message}"]
    lines += [f"\tfrom {_ruby_location(frame)}" for frame in older]
    return "\n".join(lines + _omitted(omitted, "\t"))


def php(exc: ExceptionInfo, frames: list[Frame], omitted: int) -> str:
    """PHP: `Type: message in file:line`, `Stack trace:`, `#0 file(line): fn()` newest first."""
    kind = _qualified(exc, "\\")
    crash = frames[-1] if frames else None
    where = (f" in {_path(crash, prefer_absolute=True)}:{crash.lineno}"
             if crash and crash.lineno is not None else "")
    lines = [f"{_header(kind, exc.value)}{where}", "Stack trace:"]
    for number, frame in enumerate(reversed(frames)):
        function = frame.function or "{closure}"
        call = function if function.endswith(")") else f"{function}()"
        line = f"({frame.lineno})" if frame.lineno is not None else ""
        lines.append(f"#{number} {_path(frame, prefer_absolute=True) or '[internal function]'}"
                     f"{line}: {call}")
    lines.append(f"#{len(frames)} {{main}}" if not omitted else f"#{len(frames)} ... "
                 f"{omitted} older frame{'s' if omitted != 1 else ''} omitted")
    return "\n".join(lines)


def dotnet(exc: ExceptionInfo, frames: list[Frame], omitted: int) -> str:
    """.NET: `Ns.Type: message`, then `   at Ns.Class.Method() in file:line N` newest first."""
    lines = [_header(_qualified(exc), exc.value)]
    for frame in reversed(frames):
        function = frame.function or "<unknown>"
        method = function if not frame.module or function.startswith(frame.module + ".") \
            else f"{frame.module}.{function}"
        call = method if method.endswith(")") else f"{method}()"
        path = _path(frame, prefer_absolute=True)
        where = (f" in {path}:line {frame.lineno}" if path and frame.lineno is not None
                 else f" in {path}" if path else "")
        lines.append(f"   at {call}{where}")
    return "\n".join(lines + _omitted(omitted, "   "))


def neutral(exc: ExceptionInfo, frames: list[Frame], omitted: int) -> str:
    """A runtime suture does not know: the exception, then frames oldest first, crash last."""
    lines = [_header(_qualified(exc), exc.value)]
    if frames:
        lines.append("Stack, oldest call first, crash last:")
    lines += _omitted(omitted, "  ")
    for frame in frames:
        place = _path(frame) or frame.module or "?"
        line = f":{frame.lineno}" if frame.lineno is not None else ""
        function = f" in {frame.function}" if frame.function else ""
        library = "" if frame.in_app else " (library)"
        lines.append(f"  {place}{line}{function}{library}")
        if frame.context_line and frame.context_line.strip():
            lines.append(f"      {frame.context_line.strip()}")
    return "\n".join(lines)


Formatter = Callable[[ExceptionInfo, list[Frame], int], str]
FORMATTERS: dict[str, Formatter] = {
    "python": python, "javascript": javascript, "java": java, "go": go, "ruby": ruby,
    "php": php, "dotnet": dotnet, "neutral": neutral,
}
