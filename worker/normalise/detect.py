"""Recognising which vendor shape a JSON document is, and normalising it (`suture ingest FILE`).

Shapes are told apart by keys no other shape has: Sentry API events have `entries`, platform
webhooks `action` plus a `data` object, legacy plugin bodies a top-level `event` object with the
issue `id`, stored events `exception`/`event_id`/`logentry`, Sentry issues `shortId`; Datadog
search responses are a `data` list, log items have `type: log` or log attributes, Error Tracking
issues `type: issue`, and monitor notifications `title` with `date`/`body`/`event_type`.
"""

from __future__ import annotations

from typing import Any

from worker.models import ErrorEvent
from worker.normalise.datadog import from_datadog_issue, from_datadog_log
from worker.normalise.datadog_monitor import from_datadog_monitor
from worker.normalise.fields import PayloadError, require_dict
from worker.normalise.sentry import from_sentry_api, from_sentry_stored
from worker.normalise.sentry_webhook import from_sentry_issue, from_sentry_webhook, resource_of

_STORED_KEYS = ("exception", "event_id", "logentry", "sentry.interfaces.Exception")
_MONITOR_KEYS = ("date", "body", "event_type", "alert_id", "last_updated")


def detect_and_normalise(payload: dict[str, Any]) -> ErrorEvent:
    """The error a vendor document reports, whatever its shape; PayloadError if none fits."""
    payload = require_dict(payload, "document")
    data = payload.get("data")
    if "entries" in payload:
        return from_sentry_api(payload)
    if "action" in payload and isinstance(data, dict):
        return _webhook(payload)
    if isinstance(payload.get("event"), dict) and "id" in payload:
        return _required(from_sentry_webhook(None, payload), "legacy plugin webhook")
    if any(key in payload for key in _STORED_KEYS):
        return from_sentry_stored(payload)
    if "shortId" in payload and isinstance(payload.get("metadata"), dict):
        return from_sentry_issue(payload)
    if isinstance(data, list):
        return from_datadog_log(_first_error_log(data))
    if isinstance(data, dict) and data.get("type") == "issue":
        return from_datadog_issue(data)
    if payload.get("type") == "issue" and isinstance(payload.get("attributes"), dict):
        return from_datadog_issue(payload)
    if payload.get("type") == "log" or _looks_like_log(payload):
        return from_datadog_log(payload)
    if "title" in payload and any(key in payload for key in _MONITOR_KEYS):
        return from_datadog_monitor(payload)
    raise PayloadError(f"not a Sentry or Datadog error document (keys: {_keys(payload)})")


def _webhook(payload: dict[str, Any]) -> ErrorEvent:
    resource = resource_of(payload)
    if resource is None:
        raise PayloadError(f"sentry webhook with unknown data (keys: {_keys(payload['data'])})")
    return _required(from_sentry_webhook(resource, payload), f"sentry {resource} webhook")


def _required(event: ErrorEvent | None, what: str) -> ErrorEvent:
    if event is None:
        raise PayloadError(f"{what} carries no error event")
    return event


def _first_error_log(items: list[Any]) -> dict[str, Any]:
    """The first log of a search response that carries `error.*` attributes."""
    for item in items:
        if not isinstance(item, dict) or not isinstance(item.get("attributes"), dict):
            continue
        custom = item["attributes"].get("attributes")
        if isinstance(custom, dict) and isinstance(custom.get("error"), dict):
            return dict(item)
    raise PayloadError(
        f"datadog search response: none of its {len(items)} items is a log with an error"
    )


def _looks_like_log(payload: dict[str, Any]) -> bool:
    attributes = payload.get("attributes")
    return isinstance(attributes, dict) and (
        "timestamp" in attributes and ("message" in attributes or "attributes" in attributes)
    )


def _keys(value: dict[str, Any]) -> str:
    names = sorted(str(key) for key in value)
    return ", ".join(names[:12]) + (", ..." if len(names) > 12 else "")
