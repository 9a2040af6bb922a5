"""Normalising Datadog log items and Error Tracking issues into `ErrorEvent`.

A Logs search item keeps Datadog's reserved fields in `attributes` (timestamp, service, status,
message, tags, host) and custom attributes one level deeper in `attributes.attributes`, where
Error Tracking reads `error.kind`, `error.message` and `error.stack` (a text trace, parsed by
`stacktext`), `http.*` and `issue.id`. Tags are `key:value` strings; `version`, `env` and
`git.commit.sha` become release and environment. An Error Tracking issue has no stack at all, so
`from_datadog_issue` borrows one from a sample event when the caller fetched it.
"""

from __future__ import annotations

from typing import Any

from worker.models import ErrorEvent, ExceptionInfo, RequestData, Source
from worker.normalise.fields import (
    PayloadError,
    content_id,
    first_text,
    first_time,
    optional_dict,
    pairs_to_dict,
    query_text,
    require_dict,
    text,
)
from worker.normalise.stacktext import detect_language, language_of, parse_stack
from worker.normalise.stacktext.header import split_kind

# Datadog log statuses (syslog severities plus `ok`) → suture levels.
_LEVELS = {
    "emerg": "fatal", "emergency": "fatal", "alert": "fatal", "critical": "fatal",
    "crit": "fatal", "fatal": "fatal", "error": "error", "err": "error",
    "warn": "warning", "warning": "warning", "notice": "info", "info": "info", "ok": "info",
    "debug": "debug", "trace": "debug",
}


def from_datadog_log(item: dict[str, Any]) -> ErrorEvent:
    """An ErrorEvent from one `data[]` item of a Logs search response.

    A log without `error.*` attributes still gives an event: its message is the title and it
    has no exceptions.
    """
    item = require_dict(item, "datadog log")
    attributes = require_dict(item.get("attributes"), "datadog log attributes")
    custom = optional_dict(attributes.get("attributes"), "datadog log attributes.attributes")
    tags = tags_from(attributes.get("tags"))
    if first_text(attributes.get("host")):
        tags.setdefault("host", str(attributes["host"]))
    error = optional_dict(custom.get("error"), "datadog log error")
    language = language_of(tags.get("source")) or language_of(first_text(custom.get("language")))
    found = _exceptions(error, language)
    message = text(attributes.get("message")) or text(error.get("message")) or ""
    return ErrorEvent(
        source=Source.DATADOG,
        event_id=first_text(item.get("id")) or content_id(item),
        issue_id=first_text(_dotted(custom, "issue", "id")),
        project=first_text(attributes.get("service"), tags.get("service")),
        platform=language or detect_language(text(error.get("stack")) or ""),
        level=_LEVELS.get((text(attributes.get("status")) or "").lower(), "error"),
        title=_title(found, message),
        message=message,
        exceptions=found,
        timestamp=first_time(attributes.get("timestamp")),
        release=release_from(tags) or first_text(custom.get("version")),
        environment=first_text(tags.get("env"), custom.get("env")),
        user=first_text(_dotted(custom, "usr", "email"), _dotted(custom, "usr", "id")),
        tags=tags,
        request=_request(custom.get("http")),
    )


def from_datadog_issue(
    issue: dict[str, Any], sample: ErrorEvent | None = None, *, link: str | None = None
) -> ErrorEvent:
    """An ErrorEvent for an Error Tracking issue, with the stack of `sample` when one is given.

    Without a sample the event is frameless, built from the issue's error type and message; its
    `event_id` digests the issue id and `last_seen` so each new sighting is a new occurrence.
    """
    issue = require_dict(issue, "datadog issue")
    if isinstance(issue.get("data"), dict) and "attributes" not in issue:
        issue = issue["data"]  # a whole get-issue response rather than its `data`
    issue_id = first_text(issue.get("id"))
    if not issue_id:
        raise PayloadError("datadog issue has no id")
    attributes = require_dict(issue.get("attributes"), "datadog issue attributes")
    kind, value = first_text(attributes.get("error_type")), text(attributes.get("error_message"))
    own = _issue_event(issue_id, attributes, kind, value or "")
    if sample is None:
        return own.model_copy(update={"link": link})
    return sample.model_copy(update={
        "issue_id": issue_id,
        "link": link or sample.link,
        "project": sample.project or own.project,
        "platform": sample.platform or own.platform,
        "release": sample.release or own.release,
        "exceptions": sample.exceptions or own.exceptions,
        "title": sample.title or own.title,
    })


def _issue_event(issue_id: str, attributes: dict[str, Any], kind: str | None,
                 value: str) -> ErrorEvent:
    name, module = split_kind(kind) if kind else ("Error", None)
    languages = attributes.get("languages")
    language = languages[0] if isinstance(languages, list) and languages else None
    tags = {key: found for key in ("file_path", "function_name", "state")
            if (found := first_text(attributes.get(key)))}
    last_seen = attributes.get("last_seen")
    return ErrorEvent(
        source=Source.DATADOG,
        event_id=content_id("datadog-issue", issue_id, last_seen),
        issue_id=issue_id,
        project=first_text(attributes.get("service")),
        platform=language_of(first_text(language)) or _lower(attributes.get("platform")),
        title=f"{kind}: {value}" if kind and value else kind or value,
        exceptions=[ExceptionInfo(type=name, module=module, value=value)] if kind or value else [],
        timestamp=first_time(last_seen, attributes.get("first_seen")),
        release=first_text(attributes.get("last_seen_version"),
                           attributes.get("first_seen_version")),
        tags=tags,
    )


def tags_from(value: Any) -> dict[str, str]:
    """Datadog's `["key:value", ...]` tags as a dict; the first value of a repeated key wins."""
    if isinstance(value, dict):
        return pairs_to_dict(value)
    tags: dict[str, str] = {}
    for tag in value if isinstance(value, list) else []:
        if isinstance(tag, str) and tag:
            key, _, found = tag.partition(":")
            tags.setdefault(key, found)
    return tags


def release_from(tags: dict[str, str]) -> str | None:
    """The release tagged on a Datadog event: `version`, else the deployed commit."""
    return first_text(tags.get("version"), tags.get("git.commit.sha"))


def _exceptions(error: dict[str, Any], language: str | None) -> list[ExceptionInfo]:
    """Exceptions from `error.stack`, with the raised one's type and message from `error.*`."""
    kind, message = first_text(error.get("kind")), text(error.get("message"))
    found = parse_stack(text(error.get("stack")) or "", language)
    if not found:
        if not (kind or message):
            return []
        found = [ExceptionInfo(type="Error")]
    raised = found[-1]
    update: dict[str, Any] = {}
    if kind:  # the tracer's own record of the type beats what was read back from text
        update["type"], update["module"] = split_kind(kind)
    if message:
        update["value"] = message
    return [*found[:-1], raised.model_copy(update=update)]


def _title(found: list[ExceptionInfo], message: str) -> str:
    if found:
        raised = found[-1]
        return f"{raised.type}: {raised.value}" if raised.value else raised.type
    return message.splitlines()[0].strip() if message.strip() else ""


def _request(http: Any) -> RequestData | None:
    if not isinstance(http, dict):
        return None
    details = http.get("url_details")
    query = details.get("queryString") if isinstance(details, dict) else None
    method, url = first_text(http.get("method")), first_text(http.get("url"))
    if not (method or url):
        return None
    headers = pairs_to_dict(http.get("headers")) if isinstance(http.get("headers"), dict) else {}
    return RequestData(method=method, url=url, query=query_text(query), headers=headers)


def _dotted(custom: dict[str, Any], group: str, key: str) -> Any:
    """`custom[group][key]`, or the flattened `custom["group.key"]` some pipelines produce."""
    nested = custom.get(group)
    if isinstance(nested, dict) and nested.get(key) is not None:
        return nested[key]
    return custom.get(f"{group}.{key}")


def _lower(value: Any) -> str | None:
    found = first_text(value)
    return found.lower() if found else None
