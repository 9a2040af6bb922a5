"""Normalising Datadog monitor webhook notifications into `ErrorEvent`.

Monitor webhooks are user-written templates, so every value arrives as a string: dates are
epoch milliseconds (`"1591216985000"`), the body (`$EVENT_MSG`) is Markdown wrapped in `%%%`,
and `$TAGS` is one comma-separated string. The default template has only the event fields; an
extended one adds the alert id, transition, status, scope and tags, which become event tags. When
the monitor's message embeds an error stack (a log monitor quoting `error.stack`), it is parsed.
"Test Notifications" from a monitor's editor are marked: Datadog puts `[TEST]` among the title's
leading tags (`[Triggered] [TEST] Host Cluster Alert`) and opens the body with "Test notification
triggered by <user>".
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from worker.models import ErrorEvent, Source
from worker.normalise.datadog import release_from
from worker.normalise.fields import PayloadError, parse_time, require_dict
from worker.normalise.stacktext import detect_language, parse_stack

# Extended-template fields kept as tags, by their template key.
_ALERT_FIELDS = ("alert_id", "alert_metric", "alert_priority", "alert_transition",
                 "alert_status", "alert_type", "alert_scope", "event_type", "host_name",
                 "priority")
_TRANSITION_LEVELS = {"triggered": "error", "re-triggered": "error", "recovered": "info",
                      "warn": "warning", "re-warn": "warning", "no data": "warning"}
_TYPE_LEVELS = {"error": "error", "warning": "warning", "info": "info", "success": "info"}
_TITLE_STATE = re.compile(r"^\[(?P<state>[^\]]+)\]")
_LINK = re.compile(r"\]\((?P<url>https?://[^)\s]+)\)")
_UNRENDERED = re.compile(r"^\$[A-Z_]+$")
_LEADING_TAGS = re.compile(r"^(?:\s*\[[^\]]*\])+")
_TEST_BODY = re.compile(r"^\s*Test notification triggered by\b", re.IGNORECASE | re.MULTILINE)


def from_datadog_monitor(body: dict[str, Any]) -> ErrorEvent:
    """An ErrorEvent for one monitor notification; PayloadError for bodies that are not one."""
    body = require_dict(body, "datadog monitor webhook")
    event_id = _required(body, "id")
    title = _required(body, "title")
    timestamp = _timestamp(body)
    message = _markdown(_string(body, "body") or "")
    tags = _tags(body)
    found = parse_stack(message) if detect_language(message) else []
    return ErrorEvent(
        source=Source.DATADOG,
        event_id=event_id,
        project=tags.get("service"),
        level=_level(body, title),
        title=title,
        message=message,
        exceptions=found,
        timestamp=timestamp,
        release=release_from(tags),
        environment=tags.get("env"),
        tags=tags,
        link=_first_link(message),
        test_notification=is_test_notification(title, message),
    )


def is_test_notification(title: str, message: str) -> bool:
    """Whether a monitor notification is one Datadog sent to try the monitor, not an alert."""
    leading = _LEADING_TAGS.match(title)
    tags = {tag.strip().upper() for tag in re.findall(r"\[([^\]]*)\]", leading[0])} if leading \
        else set()
    return "TEST" in tags or bool(_TEST_BODY.search(message))


def _string(body: dict[str, Any], key: str) -> str | None:
    """A template value: a string (numbers tolerated); None when absent or left unrendered."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise PayloadError(f"datadog monitor webhook: {key} must be a string, "
                           f"got {type(value).__name__}")
    found = str(value).strip()
    return None if not found or _UNRENDERED.match(found) else found


def _required(body: dict[str, Any], key: str) -> str:
    raw = body.get(key)
    if isinstance(raw, str) and _UNRENDERED.match(raw.strip()):
        raise PayloadError(f"datadog monitor webhook: {key} is the unrendered template "
                           f"variable {raw.strip()}; this is a template, not a notification")
    found = _string(body, key)
    if found is None:
        raise PayloadError(f"datadog monitor webhook has no {key} (is ${key.upper()} in the "
                           f"payload template?)")
    return found


def _timestamp(body: dict[str, Any]) -> datetime:
    for key in ("date", "last_updated"):
        raw = _string(body, key)
        if raw is not None:
            parsed = parse_time(raw)
            if parsed is None:
                raise PayloadError(f"datadog monitor webhook: {key} {raw!r} is not epoch "
                                   "milliseconds")
            return parsed
    raise PayloadError("datadog monitor webhook has no date (add $DATE to the payload template)")


def _markdown(text: str) -> str:
    """The message without Datadog's `%%%` Markdown fences."""
    stripped = text.strip()
    if stripped.startswith("%%%") and stripped.endswith("%%%") and len(stripped) >= 6:
        stripped = stripped[3:-3]
    return stripped.strip()


def _tags(body: dict[str, Any]) -> dict[str, str]:
    tags: dict[str, str] = {}
    for item in (_string(body, "tags") or "").split(","):
        key, _, value = item.strip().partition(":")
        if key:
            tags.setdefault(key, value)
    for key in _ALERT_FIELDS:
        if (found := _string(body, key)) is not None:
            tags[key] = found
    org = body.get("org")
    if isinstance(org, dict):
        for key in ("id", "name"):
            if (found := _string(org, key)) is not None:
                tags[f"org_{key}"] = found
    return tags


def _level(body: dict[str, Any], title: str) -> str:
    alert_type = (_string(body, "alert_type") or "").lower()
    if alert_type in _TYPE_LEVELS:
        return _TYPE_LEVELS[alert_type]
    transition = (_string(body, "alert_transition") or "").lower()
    state = _TITLE_STATE.match(title)
    key = transition or (state["state"].lower() if state else "")
    return _TRANSITION_LEVELS.get(key, "error")


def _first_link(message: str) -> str | None:
    match = _LINK.search(message)
    return match["url"] if match else None
