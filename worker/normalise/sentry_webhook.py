"""Normalising Sentry webhook deliveries (integration platform and legacy plugin) into `ErrorEvent`.

The integration platform wraps every delivery as `{action, installation, data, actor}` and names
the resource in the `Sentry-Hook-Resource` header: `event_alert` and `error` carry a stored event
(`data.event`, `data.error`); `issue` carries only the issue, which becomes a frameless event (the
caller fetches the latest full event later); `installation`, `metric_alert`, `comment` and newer
resources carry no error and give None. The legacy "WebHooks" plugin posts the issue's fields with
the stored event under `event` and no resource header at all.
"""

from __future__ import annotations

from typing import Any

from worker.models import ErrorEvent, ExceptionInfo, Source
from worker.normalise.fields import (
    PayloadError,
    content_id,
    first_text,
    first_time,
    optional_dict,
    require_dict,
)
from worker.normalise.sentry import from_sentry_stored

# The resources that report an error; every other resource is acknowledged and ignored.
SENTRY_ERROR_RESOURCES = frozenset({"event_alert", "error", "issue"})
# Resource → the key under `data` that holds the stored event.
_EVENT_RESOURCES = {"event_alert": "event", "error": "error"}
# Keys under `data` that identify a resource when the header was not kept.
_DATA_KEYS = {"event": "event_alert", "error": "error", "issue": "issue",
              "metric_alert": "metric_alert", "comment": "comment", "installation": "installation"}
_LEGACY_RESOURCES = ("", "legacy", "plugin")


def from_sentry_webhook(resource: str | None, body: dict[str, Any]) -> ErrorEvent | None:
    """The error a webhook delivery reports, or None for resources that carry no error.

    `resource` is the `Sentry-Hook-Resource` header; when it is empty the resource is read from
    the body (legacy plugin bodies have no `data`; platform bodies name it by their `data` key).
    """
    body = require_dict(body, "sentry webhook body")
    if resource is not None and not isinstance(resource, str):
        raise PayloadError(f"webhook resource must be a string, got {type(resource).__name__}")
    resource = (resource or "").strip().lower()
    if resource in _LEGACY_RESOURCES and "data" not in body and "event" in body:
        return _legacy(body)
    resource = resource if resource not in _LEGACY_RESOURCES else resource_of(body) or ""
    if resource in _EVENT_RESOURCES:
        key = _EVENT_RESOURCES[resource]
        data = require_dict(body.get("data"), f"{resource} webhook data")
        if data.get(key) is None:
            raise PayloadError(f"{resource} webhook has no data.{key}")
        return from_sentry_stored(require_dict(data[key], f"{resource} webhook data.{key}"))
    if resource == "issue":
        data = require_dict(body.get("data"), "issue webhook data")
        if data.get("issue") is None:
            raise PayloadError("issue webhook has no data.issue")
        return from_sentry_issue(require_dict(data["issue"], "issue webhook data.issue"))
    if not resource:
        raise PayloadError("not a sentry webhook: no resource given and none found in the body")
    return None


def resource_of(body: dict[str, Any]) -> str | None:
    """The resource a platform webhook body is about, read from its `data` keys."""
    data = body.get("data")
    if not isinstance(data, dict):
        return None
    return next((resource for key, resource in _DATA_KEYS.items() if key in data), None)


def from_sentry_issue(issue: dict[str, Any], *, link: str | None = None) -> ErrorEvent:
    """A frameless event standing for a Sentry issue (webhook `data.issue` or an API issue).

    Its `event_id` digests the issue id and `lastSeen`, so a redelivered webhook dedupes while a
    regression (a newer `lastSeen`) counts as a new occurrence.
    """
    issue = require_dict(issue, "sentry issue")
    issue_id = first_text(issue.get("id"))
    if not issue_id:
        raise PayloadError("sentry issue has no id")
    metadata = optional_dict(issue.get("metadata"), "sentry issue metadata")
    project = issue.get("project")
    kind = first_text(metadata.get("type"))
    value = first_text(metadata.get("value")) or ""
    return ErrorEvent(
        source=Source.SENTRY,
        event_id=content_id("sentry-issue", issue_id, issue.get("lastSeen")),
        issue_id=issue_id,
        short_id=first_text(issue.get("shortId")),
        project=first_text(project.get("slug")) if isinstance(project, dict) else None,
        platform=first_text(issue.get("platform")),
        level=first_text(issue.get("level")) or "error",
        title=first_text(issue.get("title"), metadata.get("title")) or value,
        message="" if kind else value,
        exceptions=[ExceptionInfo(type=kind, value=value)] if kind else [],
        timestamp=first_time(issue.get("lastSeen"), issue.get("firstSeen")),
        link=link or first_text(issue.get("web_url"), issue.get("permalink")),
    )


def _legacy(body: dict[str, Any]) -> ErrorEvent:
    """The legacy plugin: issue fields at the top, the stored event under `event`."""
    event = require_dict(body.get("event"), "legacy plugin webhook event")
    issue_id = first_text(body.get("id"))
    if not issue_id:
        raise PayloadError("legacy plugin webhook has no issue id")
    return from_sentry_stored(
        event,
        project=first_text(body.get("project_slug"), body.get("project")),
        issue_id=issue_id,
        link=first_text(body.get("url")),
    )
