"""Scrubbing of a whole `ErrorEvent`, field by field, into a new event.

Free text (title, message, exception values, source lines, request body) gets every rule.
Identifiers and paths (exception types and modules, function names, file paths) get only the
token and email rules, so they stay useful for grouping and for finding the code. Requests get
structure-aware treatment: query values under denylisted names and denylisted headers are
redacted outright, and a JSON body has denylisted keys redacted at any depth before being
re-serialised. The user becomes a stable pseudonym so "how many users" still works. Each field
is scrubbed through `scrub_text`/`scrub_name`, which never raise, and each step here falls back
to plain text scrubbing when structure cannot be parsed.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any
from urllib.parse import quote, unquote_plus

from worker.models import ErrorEvent, ExceptionInfo, Frame, RequestData
from worker.scrub.denylist import is_denylisted
from worker.scrub.text import FIELD, scrub_mapping, scrub_name, scrub_text

_PSEUDONYM = re.compile(r"user-[0-9a-f]{8}")
# Ids and names an SDK or a payload sets: only tokens and emails are taken out of them, so a
# release such as 1.2.3.4 or an event id stays what correlation and dedupe compare.
_IDENTIFIERS = ("event_id", "issue_id", "short_id", "project", "platform", "release",
                "environment", "link")


def scrub_event(event: ErrorEvent) -> ErrorEvent:
    """A copy of `event` with secrets and personal data removed from every text field."""
    return event.model_copy(
        update={
            **{field: _maybe(scrub_name, getattr(event, field)) for field in _IDENTIFIERS},
            "title": scrub_text(event.title),
            "message": scrub_text(event.message),
            "exceptions": [_scrub_exception(exc) for exc in event.exceptions],
            "user": pseudonym(event.user),
            "tags": _scrub_tags(event.tags),
            "request": _scrub_request(event.request) if event.request else None,
        }
    )


def pseudonym(user: str | None) -> str | None:
    """`user-<8 hex>`: the same for the same user, without revealing the id or email."""
    if user is None or _PSEUDONYM.fullmatch(user):
        return user
    return "user-" + hashlib.sha256(user.encode("utf-8", "surrogatepass")).hexdigest()[:8]


def _scrub_tags(tags: dict[str, str]) -> dict[str, str]:
    # Sentry repeats the user as a `user`/`sentry:user` tag; it gets the same pseudonym as the
    # user field, so hiding the user there is not undone here.
    scrubbed = scrub_mapping(tags)
    for key, value in tags.items():
        if key.lower().endswith("user") and isinstance(value, str):
            scrubbed[scrub_text(key)] = pseudonym(value) or ""
    return scrubbed


def _scrub_exception(exc: ExceptionInfo) -> ExceptionInfo:
    return exc.model_copy(
        update={
            "type": scrub_name(exc.type),
            "value": scrub_text(exc.value),
            "module": _maybe(scrub_name, exc.module),
            "frames": [scrub_frame(frame) for frame in exc.frames],
        }
    )


def scrub_frame(frame: Frame) -> Frame:
    """A frame with its paths and names scrubbed of tokens and emails, its line of all secrets."""
    return frame.model_copy(
        update={
            "filename": _maybe(scrub_name, frame.filename),
            "abs_path": _maybe(scrub_name, frame.abs_path),
            "module": _maybe(scrub_name, frame.module),
            "function": _maybe(scrub_name, frame.function),
            "context_line": _maybe(scrub_text, frame.context_line),
        }
    )


def _scrub_request(request: RequestData) -> RequestData:
    return request.model_copy(
        update={
            "url": _maybe(scrub_url, request.url),
            "query": _maybe(lambda query: scrub_text(scrub_query(query)), request.query),
            "headers": scrub_mapping(request.headers),
            "body": _maybe(scrub_body, request.body),
        }
    )


def _maybe(scrub: Any, value: str | None) -> str | None:
    return None if value is None else scrub(value)


def scrub_url(url: str) -> str:
    """`url` scrubbed, with query (and fragment) values under denylisted names redacted."""
    head, question, rest = url.partition("?")
    if question:
        query, hash_, fragment = rest.partition("#")
        url = head + question + scrub_query(query) + hash_ + fragment
    head, hash_, fragment = url.partition("#")
    if hash_ and "=" in fragment:  # OAuth implicit flow puts access_token=... in the fragment
        url = head + hash_ + scrub_query(fragment)
    return scrub_text(url)


def scrub_query(query: str) -> str:
    """A query string with values of denylisted names, and any secret in a value, redacted."""
    return "&".join(_scrub_query_pair(pair) for pair in query.split("&"))


def _scrub_query_pair(pair: str) -> str:
    name, equals, value = pair.partition("=")
    if not equals:
        return pair
    if is_denylisted(unquote_plus(name)):
        return f"{name}={FIELD}"
    decoded = unquote_plus(value)
    cleaned = scrub_text(decoded)
    # Re-encode only what changed, keeping markers readable.
    return pair if cleaned == decoded else f"{name}={quote(cleaned, safe='[]:')}"


def scrub_body(body: str) -> str:
    """A request body scrubbed; a JSON body also has denylisted keys redacted at any depth."""
    try:
        parsed = json.loads(body)
    except (ValueError, RecursionError):
        return scrub_text(body)
    if not isinstance(parsed, dict | list):
        return scrub_text(body)
    try:
        serialised = json.dumps(_scrub_json(parsed), ensure_ascii=False)
    except (ValueError, RecursionError):
        return scrub_text(body)
    return scrub_text(serialised)


def _scrub_json(value: Any) -> Any:
    if isinstance(value, dict):
        return {
            scrub_text(str(key)): FIELD if is_denylisted(str(key)) else _scrub_json(item)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_scrub_json(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        # A card number sent as a JSON number is still a card number.
        cleaned = scrub_text(str(value))
        return value if cleaned == str(value) else cleaned
    return value
