"""Normalising Sentry events, stored shape and REST shape, into `ErrorEvent`.

Webhooks (`data.event`, `data.error`) and the legacy plugin carry the *stored* event
(`exception.values[]`, snake_case frames, tags as `[key, value]` pairs); the REST API returns
`entries[]` with camelCase frames and tags as `{key, value}` objects. Both are read with the
shared interface readers in `sentry_parts`. A document without an id gets a content digest and
one without a time gets `fields.MISSING_TIMESTAMP`, so normalising the same document twice
always gives the same event.
"""

from __future__ import annotations

import re
from typing import Any

from worker.models import ErrorEvent, ExceptionInfo, Frame, Source
from worker.normalise import sentry_parts as parts
from worker.normalise.fields import (
    PayloadError,
    content_id,
    first_text,
    first_time,
    pairs_to_dict,
    require_dict,
    text,
)

# A message event with an attached stack has no exception; its frames are kept under this type
# so `ErrorEvent.frames` and the fingerprint still see them.
MESSAGE_TYPE = "Message"

# Stored events carry the project as a numeric id; its slug is in the event's API URL.
_PROJECT_IN_URL = re.compile(r"/api/0/projects/[^/]+/(?P<slug>[^/]+)/events/")


def from_sentry_stored(
    event: dict[str, Any],
    *,
    project: str | None = None,
    issue_id: str | None = None,
    link: str | None = None,
) -> ErrorEvent:
    """An ErrorEvent from Sentry's stored/ingest event (webhooks, legacy plugin, raw samples)."""
    event = require_dict(event, "sentry event")
    tags = pairs_to_dict(event.get("tags"))
    fallback = parts.crashed_thread_frames(event.get("threads"), "threads")
    found = parts.exceptions(
        parts.pick(event, "exception", "sentry.interfaces.Exception"), fallback, "exception"
    )
    message = _stored_message(event)
    title = parts.title(event.get("title"), found, message)
    found = found or _message_stack(event.get("stacktrace"), message, fallback)
    return ErrorEvent(
        source=Source.SENTRY,
        event_id=first_text(event.get("event_id"), event.get("id")) or content_id(event),
        issue_id=issue_id or first_text(event.get("issue_id"), event.get("group_id")),
        project=project or _stored_project(event),
        platform=first_text(event.get("platform")),
        level=first_text(event.get("level"), tags.get("level")) or "error",
        title=title,
        message=message,
        exceptions=found,
        timestamp=first_time(event.get("timestamp"), event.get("datetime"), event.get("received")),
        release=parts.release(event.get("release")) or tags.get("sentry:release"),
        environment=first_text(event.get("environment"), tags.get("environment")),
        user=parts.user(parts.pick(event, "user", "sentry.interfaces.User")),
        tags=tags,
        request=parts.request(parts.pick(event, "request", "sentry.interfaces.Http"), "request"),
        link=link or first_text(event.get("web_url")),
    )


def from_sentry_api(
    event: dict[str, Any], *, project: str | None = None, link: str | None = None
) -> ErrorEvent:
    """An ErrorEvent from a REST API event (`GET .../events/{id}/`, `.../events/latest/`)."""
    event = require_dict(event, "sentry API event")
    entries = _entries(event)
    tags = pairs_to_dict(event.get("tags"))
    fallback = parts.crashed_thread_frames(entries.get("threads"), "entries[threads]")
    found = parts.exceptions(entries.get("exception"), fallback, "entries[exception]")
    message = _api_message(event, entries)
    title = parts.title(event.get("title"), found, message)
    found = found or _message_stack(entries.get("stacktrace"), message, fallback)
    return ErrorEvent(
        source=Source.SENTRY,
        event_id=first_text(event.get("eventID"), event.get("id")) or content_id(event),
        issue_id=first_text(event.get("groupID")),
        project=project or first_text(event.get("projectSlug"), event.get("projectID")),
        platform=first_text(event.get("platform")),
        level=first_text(event.get("level"), tags.get("level")) or "error",
        title=title,
        message=message,
        exceptions=found,
        timestamp=first_time(event.get("dateCreated"), event.get("dateReceived")),
        release=parts.release(event.get("release")) or tags.get("release"),
        environment=first_text(tags.get("environment"), event.get("environment")),
        user=parts.user(event.get("user")),
        tags=tags,
        request=parts.request(entries.get("request"), "entries[request]"),
        link=link or first_text(event.get("permalink"), event.get("web_url")),
    )


def _entries(event: dict[str, Any]) -> dict[str, Any]:
    """The API event's `entries` by type (`exception`, `request`, ...); each entry's `data`."""
    raw = event.get("entries")
    if raw is None:
        return {}
    if not isinstance(raw, list):
        raise PayloadError(f"entries must be a list, got {type(raw).__name__}")
    by_type: dict[str, Any] = {}
    for entry in raw:
        if isinstance(entry, dict) and isinstance(entry.get("type"), str):
            by_type.setdefault(entry["type"], entry.get("data"))
    return by_type


def _message_stack(stacktrace: Any, message: str, fallback: list[Frame]) -> list[ExceptionInfo]:
    """A stand-in exception holding a message event's stack, or [] when it has none."""
    frames = parts.frames(stacktrace, "stacktrace") if isinstance(stacktrace, dict) else []
    frames = frames or fallback
    if not frames:
        return []
    return [ExceptionInfo(type=MESSAGE_TYPE, value=message, frames=frames)]


def _stored_message(event: dict[str, Any]) -> str:
    logentry = parts.pick(event, "logentry", "sentry.interfaces.Message")
    if isinstance(logentry, dict):
        formatted = first_text(logentry.get("formatted"), logentry.get("message"))
        if formatted:
            return formatted
    return text(event.get("message")) or ""


def _api_message(event: dict[str, Any], entries: dict[str, Any]) -> str:
    entry = entries.get("message")
    if isinstance(entry, dict):
        formatted = first_text(entry.get("formatted"), entry.get("message"))
        if formatted:
            return formatted
    return text(event.get("message")) or ""


def _stored_project(event: dict[str, Any]) -> str | None:
    url = text(event.get("url")) or ""
    match = _PROJECT_IN_URL.search(url)
    if match:
        return match["slug"]
    return first_text(event.get("project"))
