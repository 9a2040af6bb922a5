"""Reading the "Kind: message" line that heads a stack trace in every language suture parses.

Python, JavaScript and the JVM all print an exception as its (possibly qualified) type name, a
colon and the message. Qualified names are split the way Sentry's SDKs report them: the simple
type name in `type` and the package or module in `module`, so `builtins.KeyError`,
`requests.exceptions.ConnectionError` and `java.lang.IllegalStateException` line up with what a
Sentry event for the same error carries.
"""

from __future__ import annotations

import re

from worker.models import ExceptionInfo, Frame

_KIND = r"[A-Za-z_$][\w$]*(?:\.[A-Za-z_$][\w$]*)*"
_HEADER = re.compile(rf"^(?:Uncaught\s+)?(?P<kind>{_KIND})(?::[ \t]?(?P<message>.*))?$")


def split_kind(kind: str) -> tuple[str, str | None]:
    """(`type`, `module`) of a possibly qualified exception name."""
    module, dot, name = kind.rpartition(".")
    return (name, module) if dot and module and name else (kind, None)


def parse_header(line: str, *, bare_kind: bool = True) -> tuple[str, str | None, str] | None:
    """(`type`, `module`, `message`) of a "Kind: message" line, or None when it is not one.

    With `bare_kind`, a lone name without a colon ("KeyError") is accepted too; callers reading
    free text turn that off so an ordinary word is not taken for an exception type.
    """
    match = _HEADER.match(line.strip())
    if not match or (match["message"] is None and not bare_kind):
        return None
    name, module = split_kind(match["kind"])
    return name, module, (match["message"] or "").strip()


def exception(header: tuple[str, str | None, str], frames: list[Frame]) -> ExceptionInfo:
    """An ExceptionInfo from a parsed header and frames already ordered oldest first."""
    name, module, message = header
    return ExceptionInfo(type=name, module=module, value=message, frames=frames)


def unparsed(text: str) -> ExceptionInfo:
    """The best reading of text no parser understood: "Kind: message" if it starts so, no frames."""
    first = next((line.strip() for line in text.splitlines() if line.strip()), "")
    header = parse_header(first, bare_kind=False)
    if header is None:
        return ExceptionInfo(type="Error", value=first)
    return exception(header, [])
