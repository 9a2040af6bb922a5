"""Reading the interfaces Sentry's two event shapes share: exceptions, frames, request, user.

Sentry stores events snake_case (`abs_path`, `lineno`, `in_app`, `query_string`) and its REST
API returns the same interfaces camelCase (`absPath`, `lineNo`, `inApp`, `query`, frame
`context` as `[[lineNo, line], ...]`). Every reader here accepts both spellings, so one parser
serves webhooks, the legacy plugin and polled API events alike.
"""

from __future__ import annotations

from typing import Any

from worker.models import ExceptionInfo, Frame, RequestData
from worker.normalise.fields import (
    PayloadError,
    body_text,
    first_text,
    integer,
    optional_dict,
    pairs_to_dict,
    query_text,
    text,
)
from worker.normalise.inapp import looks_like_app


def pick(data: dict[str, Any], *keys: str) -> Any:
    """The first present, non-null value among the spellings `keys`."""
    for key in keys:
        if data.get(key) is not None:
            return data[key]
    return None


def values_of(interface: Any, where: str) -> list[dict[str, Any]]:
    """The dict items of an interface given as `{"values": [...]}` or as a bare list."""
    if interface is None:
        return []
    items = interface.get("values") if isinstance(interface, dict) else interface
    if items is None:
        return []
    if not isinstance(items, list):
        raise PayloadError(f"{where}.values must be a list, got {type(items).__name__}")
    return [item for item in items if isinstance(item, dict)]


def exceptions(interface: Any, fallback_frames: list[Frame], where: str) -> list[ExceptionInfo]:
    """ExceptionInfos of an exception interface, in Sentry's order (causes first).

    `fallback_frames` (the crashed thread's stack) go to the last exception when it has none,
    which is how Sentry reports native and some JVM crashes.
    """
    values = values_of(interface, where)
    found = [_exception(value, f"{where}.values[{i}]") for i, value in enumerate(values)]
    if found and not found[-1].frames and fallback_frames:
        found[-1] = found[-1].model_copy(update={"frames": fallback_frames})
    return found


def _exception(value: dict[str, Any], where: str) -> ExceptionInfo:
    stacktrace = optional_dict(value.get("stacktrace"), f"{where}.stacktrace")
    return ExceptionInfo(
        type=first_text(value.get("type")) or "Error",
        value=text(value.get("value")) or "",
        module=first_text(value.get("module")),
        frames=frames(stacktrace, f"{where}.stacktrace"),
    )


def frames(stacktrace: dict[str, Any], where: str) -> list[Frame]:
    """Frames of a stacktrace interface, oldest first as Sentry sends them."""
    raw = stacktrace.get("frames")
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise PayloadError(f"{where}.frames must be a list, got {type(raw).__name__}")
    return [frame(item) for item in raw if isinstance(item, dict)]


def frame(data: dict[str, Any]) -> Frame:
    """One frame, snake_case or camelCase."""
    filename = first_text(data.get("filename"))
    abs_path = first_text(pick(data, "abs_path", "absPath"))
    module = first_text(data.get("module"))
    in_app = pick(data, "in_app", "inApp")
    lineno = integer(pick(data, "lineno", "lineNo"))
    return Frame(
        filename=filename,
        abs_path=abs_path,
        module=module,
        function=first_text(data.get("function"), pick(data, "raw_function", "rawFunction")),
        lineno=lineno,
        colno=integer(pick(data, "colno", "colNo")),
        # Sentry omits in_app when the SDK could not tell; decide by path like text traces.
        in_app=in_app if isinstance(in_app, bool) else looks_like_app(abs_path or filename, module),
        context_line=first_text(data.get("context_line")) or _context_line(data, lineno),
    )


def _context_line(data: dict[str, Any], lineno: int | None) -> str | None:
    """The crash line out of the API's `context: [[lineNo, line], ...]`."""
    context = data.get("context")
    if lineno is None or not isinstance(context, list):
        return None
    for entry in context:
        if isinstance(entry, list) and len(entry) == 2 and integer(entry[0]) == lineno:
            return text(entry[1])
    return None


def crashed_thread_frames(interface: Any, where: str) -> list[Frame]:
    """Frames of the crashed (else current) thread of a threads interface, if it has any."""
    threads = values_of(interface, where)
    chosen = next((t for t in threads if t.get("crashed") is True), None) or next(
        (t for t in threads if t.get("current") is True), None
    )
    if chosen is None:
        return []
    return frames(optional_dict(chosen.get("stacktrace"), f"{where}.stacktrace"), where)


def request(data: Any, where: str) -> RequestData | None:
    """The request interface, or None when absent or empty."""
    if data is None:
        return None
    data = optional_dict(data, where)
    result = RequestData(
        method=first_text(data.get("method")),
        url=first_text(data.get("url")),
        query=query_text(pick(data, "query_string", "query")),
        headers=pairs_to_dict(data.get("headers")),
        body=body_text(data.get("data")),
    )
    return None if result == RequestData() else result


def user(data: Any) -> str | None:
    """One identity for the user interface: email, username, id, else `ip:<address>`."""
    if not isinstance(data, dict):
        return None
    named = first_text(data.get("email"), data.get("username"), data.get("id"))
    if named:
        return named
    address = first_text(data.get("ip_address"))
    return f"ip:{address}" if address else None


def release(value: Any) -> str | None:
    """A release from a string (stored events) or an object with `version` (API events)."""
    if isinstance(value, dict):
        return first_text(value.get("version"), value.get("shortVersion"))
    return first_text(value)


def title(explicit: Any, found: list[ExceptionInfo], message: str) -> str:
    """Sentry's title when given, else "Type: value" of the raised exception, else the message."""
    given = first_text(explicit)
    if given:
        return given
    if found:
        raised = found[-1]
        return f"{raised.type}: {raised.value}" if raised.value else raised.type
    return message.splitlines()[0] if message else ""
