"""A Datadog API stand-in: Logs search and Error Tracking issues over real HTTP.

`DatadogStandIn` answers `POST /api/v2/logs/events/search` (cursor pagination through
`page.cursor` / `meta.page.after`, honouring `filter.from`/`filter.to`, `filter.query`,
`page.limit` and `sort`), `POST /api/v2/error-tracking/issues/search` (with `included` issues
when `include=issue`) and `GET /api/v2/error-tracking/issues/{id}`, all in the v2 wire format of
the recorded payloads in `recorded/datadog/`, so the real `datadog-api-client` runs unchanged
against it. It starts with the recorded error-stack logs and the recorded issue; tests add more
with `add_log` / `add_issue`, and inject rate limits with `rate_limit`. Queries are evaluated by
`datadogquery.SearchQuery` over the fields `_log_lookup` and `_issue_lookup` read.
"""

from __future__ import annotations

import base64
import copy
import json
import re
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from integrations.standins.base import Call, Reply, StandIn, recorded
from integrations.standins.datadogquery import Lookup, SearchQuery

API_KEY = "dd-standin-api-key"
APP_KEY = "dd-standin-application-key"
JSON_API = "application/vnd.api+json"

_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}
_DATE_MATH = re.compile(r"now(?:-(?P<n>\d+)(?P<unit>[smhdw]))?")
_ERROR_STACK = "datadog/logs-search.response.error-stack.COMPOSED.json"


def iso(moment: datetime) -> str:
    """A datetime as Datadog writes log timestamps: UTC, milliseconds, `Z`."""
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def error_log(log_id: str, timestamp: datetime, *, service: str = "example-python-app",
              issue_id: str | None = None, message: str | None = None) -> dict[str, Any]:
    """A Datadog error log in wire shape, cloned from the recorded Python traceback item."""
    item = copy.deepcopy(recorded(_ERROR_STACK)["data"][0])
    item["id"] = log_id
    attributes = item["attributes"]
    attributes["timestamp"] = iso(timestamp)
    attributes["service"] = service
    attributes["tags"] = [t for t in attributes["tags"] if not t.startswith("service:")]
    attributes["tags"].append(f"service:{service}")
    if message is not None:
        attributes["message"] = message
        attributes["attributes"]["error"]["message"] = message
    if issue_id is not None:
        attributes["attributes"]["issue"] = {"id": issue_id}
    return item


def issue_resource(issue_id: str, *, service: str, first_seen: datetime, last_seen: datetime,
                   **attributes: Any) -> dict[str, Any]:
    """An Error Tracking issue in wire shape, cloned from the recorded issue with overrides."""
    item = copy.deepcopy(recorded("datadog/error-tracking-get-issue.response.json")["data"])
    item["id"] = issue_id
    item.pop("relationships", None)  # the recorded case belongs to the recorded issue only
    item["attributes"].update(
        service=service, platform="BACKEND", languages=["PYTHON"], state="OPEN",
        first_seen=_epoch_ms(first_seen), last_seen=_epoch_ms(last_seen),
        **attributes,
    )
    return item


class DatadogStandIn(StandIn):
    """A Datadog API on 127.0.0.1 holding logs and Error Tracking issues in memory."""

    def __init__(self, api_key: str = API_KEY, app_key: str = APP_KEY, port: int = 0) -> None:
        super().__init__(port)
        self.api_key, self.app_key = api_key, app_key
        self.logs: list[dict[str, Any]] = []
        self.issues: dict[str, dict[str, Any]] = {}
        self._data_lock = threading.Lock()
        for item in recorded(_ERROR_STACK)["data"]:
            self.add_log(item)
        self.add_issue(recorded("datadog/error-tracking-get-issue.response.json")["data"])
        self.route("POST", r"/api/v2/logs/events/search", self._guarded(self._search_logs))
        self.route("POST", r"/api/v2/error-tracking/issues/search",
                   self._guarded(self._search_issues))
        self.route("GET", r"/api/v2/error-tracking/issues/(?P<issue_id>[^/]+)",
                   self._guarded(self._get_issue))

    def add_log(self, item: dict[str, Any]) -> None:
        """Index one log item (wire shape: `{"id", "type": "log", "attributes": {...}}`)."""
        with self._data_lock:
            self.logs.append(copy.deepcopy(item))

    def add_issue(self, issue: dict[str, Any]) -> None:
        """Store one Error Tracking issue (wire shape: `{"id", "type": "issue", ...}`)."""
        with self._data_lock:
            self.issues[issue["id"]] = copy.deepcopy(issue)

    def rate_limit(self, reset: int = 1, times: int = 1, name: str = "logs_query") -> None:
        """Answer the next `times` requests with Datadog's 429 and its rate-limit headers."""
        headers = {"X-RateLimit-Limit": "300", "X-RateLimit-Period": "3600",
                   "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(reset),
                   "X-RateLimit-Name": name}
        self.fail_next(Reply(429, {"errors": ["Too many requests"]}, headers), times)

    def _guarded(self, handler: Callable[[Call], Reply]) -> Callable[[Call], Reply]:
        def guarded(call: Call) -> Reply:
            # Datadog answers a wrong key and a wrong application key alike: 403 Forbidden.
            if (call.headers.get("dd-api-key") != self.api_key
                    or call.headers.get("dd-application-key") != self.app_key):
                return Reply(403, {"errors": ["Forbidden"]})
            return handler(call)

        return guarded

    def _search_logs(self, call: Call) -> Reply:
        body = call.json() or {}
        window, page = body.get("filter") or {}, body.get("page") or {}
        try:
            start = _instant(window.get("from", "now-15m"))
            end = _instant(window.get("to", "now"))
            query = SearchQuery(window.get("query") or "*")
        except ValueError as exc:
            return Reply(400, {"errors": [str(exc)]})
        with self._data_lock:
            hits = [log for log in self.logs
                    if start <= _log_time(log) <= end and query.matches(_log_lookup(log))]
        hits.sort(key=lambda log: (_log_time(log), log["id"]),
                  reverse=body.get("sort") == "-timestamp")
        offset = _offset_after(hits, page.get("cursor"))
        if offset is None:
            return Reply(400, {"errors": ["invalid page cursor"]})
        limit = int(page.get("limit", 10))
        chunk = hits[offset:offset + limit]
        if not chunk:
            return Reply(200, recorded("datadog/logs-search.response.last-page.json"))
        response: dict[str, Any] = {
            "data": chunk,
            "meta": {"elapsed": 1, "request_id": f"standin-{len(self.calls)}", "status": "done"},
        }
        if len(chunk) == limit:
            # Like Datadog: a full page always carries a cursor; the page after the end is empty.
            after = _cursor_for(chunk[-1]["id"])
            response["meta"]["page"] = {"after": after}
            response["links"] = {"next": f"{self.url}/api/v2/logs/events?page%5Bcursor%5D={after}"}
        return Reply(200, response)

    def _search_issues(self, call: Call) -> Reply:
        attributes = ((call.json() or {}).get("data") or {}).get("attributes") or {}
        missing = [key for key in ("query", "from", "to") if key not in attributes]
        if missing or ("track" in attributes) == ("persona" in attributes):
            detail = f"missing {missing}" if missing else "exactly one of track or persona"
            return _api_error(400, "Bad Request", detail)
        try:
            query = SearchQuery(attributes["query"])
        except ValueError as exc:
            return _api_error(400, "Bad Request", str(exc))
        start, end = int(attributes["from"]), int(attributes["to"])
        with self._data_lock:
            found = [issue for issue in self.issues.values()
                     if issue["attributes"].get("last_seen", 0) >= start
                     and issue["attributes"].get("first_seen", 0) <= end
                     and query.matches(_issue_lookup(issue))]
            # Search results are a top-N list with no pagination, newest activity first here.
            found.sort(key=lambda issue: -issue["attributes"].get("last_seen", 0))
            found = copy.deepcopy(found[:100])
            results = [self._search_result(issue) for issue in found]
        response: dict[str, Any] = {"data": results}
        if "issue" in (call.arg("include") or "").split(","):
            response["included"] = found
        return Reply(200, response, content_type=JSON_API)

    def _search_result(self, issue: dict[str, Any]) -> dict[str, Any]:
        """One `error_tracking_search_result`; call with the data lock held."""
        count = sum(1 for log in self.logs if _issue_of(log) == issue["id"])
        return {
            "id": issue["id"],
            "type": "error_tracking_search_result",
            "attributes": {"impacted_sessions": 0, "impacted_users": 0, "total_count": count},
            "relationships": {"issue": {"data": {"id": issue["id"], "type": "issue"}}},
        }

    def _get_issue(self, call: Call) -> Reply:
        with self._data_lock:
            issue = self.issues.get(call.params["issue_id"])
        if issue is None:
            return _api_error(404, "Not Found", "issue not found")
        return Reply(200, {"data": copy.deepcopy(issue)}, content_type=JSON_API)


def _log_lookup(log: dict[str, Any]) -> Lookup:
    attributes = log.get("attributes") or {}

    def lookup(key: str) -> list[str]:
        if key == "":
            return [str(attributes.get("message", ""))]
        if key.startswith("@"):
            value: Any = attributes.get("attributes") or {}
            for part in key[1:].split("."):
                value = value.get(part) if isinstance(value, dict) else None
            return [] if value is None else [str(value)]
        if key in ("service", "status", "host", "message"):
            return [str(attributes[key])] if key in attributes else []
        return [tag.partition(":")[2] for tag in attributes.get("tags", [])
                if tag.partition(":")[0] == key]

    return lookup


def _issue_lookup(issue: dict[str, Any]) -> Lookup:
    attributes = issue.get("attributes") or {}

    def lookup(key: str) -> list[str]:
        value = attributes.get(key.lstrip("@") or "error_message")
        values = value if isinstance(value, list) else [value]
        return [str(v) for v in values if v is not None]

    return lookup


def _issue_of(log: dict[str, Any]) -> str | None:
    found = _log_lookup(log)("@issue.id")
    return found[0] if found else None


def _log_time(log: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(log["attributes"]["timestamp"])


def _instant(value: Any) -> datetime:
    """A `filter.from`/`filter.to` value: epoch ms, ISO 8601, or `now` / `now-15m` date math."""
    text = str(value).strip()
    if text.isdigit():
        return datetime.fromtimestamp(int(text) / 1000, UTC)
    math = _DATE_MATH.fullmatch(text)
    if math:
        back = timedelta(**{_UNITS[math["unit"]]: int(math["n"])}) if math["n"] else timedelta()
        return datetime.now(UTC) - back
    moment = datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _epoch_ms(moment: datetime) -> int:
    return (moment.astimezone(UTC) - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _cursor_for(log_id: str) -> str:
    raw = json.dumps({"after": log_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _offset_after(hits: list[dict[str, Any]], cursor: str | None) -> int | None:
    if not cursor:
        return 0
    try:
        after = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))["after"]
    except (ValueError, KeyError, TypeError):
        return None
    ids = [log["id"] for log in hits]
    return ids.index(after) + 1 if after in ids else None


def _api_error(status: int, title: str, detail: str) -> Reply:
    return Reply(status, {"errors": [{"status": str(status), "title": title, "detail": detail}]},
                 content_type=JSON_API)
