"""Rebuilding the failing HTTP request of an error event, scrubbed, so previews can be sent it.

Every part of a recorded request was chosen by whoever sent it, and parts of it are secrets.
Only the method, path, query, body and an allowlist of harmless headers are kept: cookies,
credentials and any header the scrubber flags are never replayed. Values the scrubber would
remove become placeholders of the same shape (`worker.preview.standins`) and are named in the
result. The body's encoding follows its content type: Sentry records form posts as an object,
which is sent url-encoded again; multipart forms are sent url-encoded too, since events do not
keep file parts.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, quote, unquote, unquote_plus, urlencode, urlsplit

from worker.models import ErrorEvent, RequestData
from worker.preview.evidence import BodyKind, NoReplay, ReplayRequest
from worker.preview.standins import PLACEHOLDER, Placeholders, flagged
from worker.scrub import is_denylisted, scrub_name, scrub_text

# Headers that shape the answer (language, format, client) but never authenticate anyone.
SAFE_HEADERS = frozenset({
    "accept", "accept-language", "content-type", "content-language", "user-agent",
    "x-requested-with", "cache-control", "pragma", "dnt",
})
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_FORM = "application/x-www-form-urlencoded"
_MAX_DROPPED = 40


def replayable(event: ErrorEvent) -> ReplayRequest | NoReplay:
    """The event's failing request, scrubbed and ready to replay, or why there is none."""
    request = event.request
    if request is None:
        return NoReplay(reason="the event has no HTTP request (a background job, a command or "
                               "a script raised it)")
    if not request.url:
        return NoReplay(reason="the event's request has no URL")
    parts = urlsplit(request.url.strip())
    if parts.scheme.lower() not in ("", "http", "https"):
        return NoReplay(reason=f"the request's URL is not HTTP ({scrub_text(parts.scheme)[:20]})")
    method = (request.method or "GET").strip().upper()
    if method not in METHODS:
        return NoReplay(reason=f"the method {scrub_text(method)[:20]!r} is not replayed")
    found = Placeholders()
    path = _path(parts.path, found)
    query = _query(request.query if request.query is not None else parts.query, found)
    headers, dropped = _headers(request.headers)
    body, kind, content_type = _body(request, found)
    if content_type is not None:
        headers["Content-Type"] = content_type
    notes = [] if request.method else ["the event recorded no method; GET was assumed"]
    if "multipart" in _content_type(request.headers):
        notes.append("a multipart form was sent url-encoded (events do not keep file parts)")
    return ReplayRequest(
        method=method,
        path=path,
        query=query,
        headers=headers,
        body=body,
        body_kind=kind,
        exception=scrub_name(event.primary.type) if event.primary else None,
        placeholders=found.labels,
        dropped_headers=dropped,
        notes=notes,
    )


def _path(path: str, found: Placeholders) -> str:
    segments = []
    for index, segment in enumerate(path.split("/")):
        decoded = unquote(segment)
        replaced = found.text(f"path segment {index}", decoded)
        segments.append(segment if replaced == decoded else quote(replaced, safe="@:"))
    rebuilt = "/".join(segments)
    return rebuilt if rebuilt.startswith("/") else "/" + rebuilt


def _query(query: str, found: Placeholders) -> str:
    pairs = []
    for pair in query.lstrip("?").split("&"):
        if not pair:
            continue
        raw_name, equals, raw_value = pair.partition("=")
        name, value = unquote_plus(raw_name), unquote_plus(raw_value)
        clean_name = found.text("query:<name>", name)
        label = f"query:{clean_name}"
        secret = found.secret(label, name, value)
        replaced = PLACEHOLDER if secret else found.text(label, value)
        if clean_name == name and replaced == value:
            pairs.append(pair)  # unchanged: keep the original encoding byte for byte
        else:
            pairs.append(urlencode([(clean_name, replaced)]) if equals else quote(clean_name))
    return "&".join(pairs)


def _headers(recorded: dict[str, str]) -> tuple[dict[str, str], list[str]]:
    kept: dict[str, str] = {}
    dropped: list[str] = []
    for name, value in recorded.items():
        lowered = name.strip().lower()
        safe = lowered in SAFE_HEADERS and not is_denylisted(name) and not flagged(value)
        if safe and lowered != "content-type":  # the body decides its own content type
            kept["-".join(word.capitalize() for word in lowered.split("-"))] = scrub_text(value)
        elif not safe and len(dropped) < _MAX_DROPPED:
            dropped.append(scrub_text(name)[:60])
    return kept, dropped


def _content_type(headers: dict[str, str]) -> str:
    for name, value in headers.items():
        if name.strip().lower() == "content-type":
            return value.strip().lower()
    return ""


def _body(request: RequestData,
          found: Placeholders) -> tuple[str | None, BodyKind, str | None]:
    """The body to send, its kind, and the content type to send it with (None: none)."""
    if request.body is None or request.body == "":
        return None, "none", None
    declared = _content_type(request.headers)
    try:
        parsed = json.loads(request.body)
    except (ValueError, RecursionError):
        parsed = None
    if "form" in declared:
        return _form(request.body, parsed, found), "form", _FORM
    if "json" in declared or (not declared and isinstance(parsed, dict | list)):
        clean = found.json(parsed, "body") if parsed is not None else None
        if clean is not None:
            content_type = "application/json" if "json" not in declared else _safe(declared)
            return json.dumps(clean, ensure_ascii=False), "json", content_type
    return found.text("body", request.body), "raw", _safe(declared) if declared else None


def _safe(content_type: str) -> str:
    return "application/octet-stream" if flagged(content_type) else content_type


def _form(body: str, parsed: object, found: Placeholders) -> str:
    if isinstance(parsed, dict):
        items = [(str(key), value) for key, value in parsed.items()]
    else:
        items = list(parse_qsl(body, keep_blank_values=True))
    pairs: list[tuple[str, str]] = []
    for key, value in items:
        values = value if isinstance(value, list) else [value]
        for item in values:
            text = item if isinstance(item, str) else json.dumps(item, ensure_ascii=False)
            name = found.text("form:<name>", key)
            label = f"form:{name}"
            pairs.append((name, PLACEHOLDER if found.secret(label, key, text)
                          else found.text(label, text)))
    return urlencode(pairs)
