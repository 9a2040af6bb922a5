"""suture's log lines: plain text for a terminal, or one JSON object per line for a collector.

`configure_logging` sets up the root logger once per process (`log_format` in the settings).
Both formats scrub the rendered message, the extra fields and any traceback: a log line may
quote an error message, a webhook's reason or a comment, all of which may carry someone's
secret. Extra fields are what a caller passes in `extra=` (`run_id`, `state`, `delivery_id`,
`status`, ...): text lines show them as `key=value` after the message, JSON lines as keys of the
object.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, Literal

from worker.egress import Channel, outbound

LogFormat = Literal["text", "json"]
_HANDLER = "suture"

# Attributes every LogRecord has; anything else on a record came from `extra=`. uvicorn adds
# `color_message`, the same message with terminal colours.
_STANDARD = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message", "asctime", "taskName", "color_message"}


def extra_fields(record: logging.LogRecord) -> dict[str, Any]:
    """The fields a caller attached with `extra=`, strings scrubbed, in the order given."""
    fields: dict[str, Any] = {}
    for key, value in record.__dict__.items():
        if key in _STANDARD or key.startswith("_"):
            continue
        fields[key] = _clean(value)
    return fields


def _clean(value: Any) -> Any:
    """A JSON-ready value: strings scrubbed, numbers and booleans kept, anything else as its
    scrubbed text."""
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [_clean(item) for item in value]
    return outbound(str(value), Channel.LOG)


class TextFormatter(logging.Formatter):
    """`<time> <LEVEL> <logger> <message> key=value ...`, scrubbed."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        """The record as one scrubbed text line (a traceback follows on its own lines)."""
        line = outbound(super().format(record), Channel.LOG)
        fields = extra_fields(record)
        if fields:
            pairs = " ".join(f"{key}={json.dumps(value)}" for key, value in fields.items())
            head, newline, rest = line.partition("\n")
            line = f"{head} {pairs}{newline}{rest}"
        return line


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the extra
    fields, and `exception` when a traceback was logged; everything scrubbed."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one line of JSON."""
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": outbound(record.getMessage(), Channel.LOG),
        }
        for key, value in extra_fields(record).items():
            entry.setdefault(key, value)  # an extra named like a core key never replaces it
        if record.exc_info:
            entry["exception"] = outbound(self.formatException(record.exc_info), Channel.LOG)
        elif record.exc_text:
            entry["exception"] = outbound(record.exc_text, Channel.LOG)
        return json.dumps(entry, ensure_ascii=False)


class _Stderr(logging.StreamHandler):  # type: ignore[type-arg]
    """A handler writing to whatever `sys.stderr` is when a record comes (a test runner or a
    daemon may swap it after start-up)."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property  # type: ignore[override]
    def stream(self) -> Any:
        """The current standard error."""
        return sys.stderr

    @stream.setter
    def stream(self, _value: Any) -> None:
        pass


def make_formatter(log_format: LogFormat) -> logging.Formatter:
    """The formatter for `log_format`."""
    return JsonFormatter() if log_format == "json" else TextFormatter()


def configure_logging(log_format: LogFormat = "text", level: int = logging.INFO) -> None:
    """Send every logger's records at `level` and above to stderr in `log_format` (uvicorn's
    loggers propagate to the root one when it is started with `log_config=None`). Called again,
    it replaces its own handler and leaves any other alone."""
    handler = _Stderr()
    handler.setFormatter(make_formatter(log_format))
    handler.set_name(_HANDLER)
    root = logging.getLogger()
    for old in [h for h in root.handlers if h.get_name() == _HANDLER]:
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
