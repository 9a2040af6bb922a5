"""A Sentry REST API stand-in: the issue and event endpoints suture polls, with recorded payloads.

It serves `GET /api/0/organizations/{org}/issues/` (newest `lastSeen` first, `limit` and `cursor`
paging with Sentry's `Link` header, `project` and `lastSeen:>TS` filters), issue details, an
issue's events, and its latest/oldest/recommended or a given event. It starts with the recorded
org-issues example (served with the recorded JavaScript event) and the recorded Cloudflare issue
and event; `add_issue` adds or updates issues at runtime. An issue's notes (`comments/`, alias
`notes/`) can be listed and posted (`sentrynotes.py`); `notes` reads them back for tests. Like
Sentry it checks the bearer token, puts `X-Sentry-Rate-Limit-*` headers on its answers, and
`rate_limit_next` makes the next requests answer 429 with Sentry's body and reset header and no
`Retry-After`. Permalinks point here.
Search terms other than `lastSeen:>` are accepted and ignored.
"""

from __future__ import annotations

import copy
import hmac
import math
import re
import threading
import time
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from integrations.standins.base import Call, Handler, Reply, StandIn, recorded
from integrations.standins.sentrynotes import IssueNotes

RATE_LIMIT = 40
RATE_LIMITED = (
    "You are attempting to use this endpoint too frequently. Limit is 40 requests in 1 seconds"
)
NOT_FOUND = {"detail": "The requested resource does not exist"}

_ORG = r"/api/0/organizations/(?P<org>[^/]+)"
_ISSUE = _ORG + r"/issues/(?P<issue_id>[^/]+)"
_LAST_SEEN = re.compile(r"(?:^|\s)lastSeen:>(\S+)")
_SUMMARY_KEYS = (
    "id", "eventID", "groupID", "projectID", "title", "message", "dateCreated", "platform",
    "culprit", "location", "user", "tags", "metadata", "crashFile",
)


class SentryStandIn(StandIn):
    """Sentry's issue API for one organisation, over real HTTP on 127.0.0.1."""

    def __init__(
        self,
        token: str = "sentry-test-token",
        *,
        org: str = "the-interstellar-jurisdiction",
        port: int = 0,
        seed: bool = True,
    ) -> None:
        super().__init__(port)
        self.token = token
        self.org = org
        self._data = threading.Lock()
        self._issues: dict[str, dict[str, Any]] = {}
        self._events: dict[str, list[dict[str, Any]]] = {}  # per issue, newest first
        self.route("GET", _ORG + r"/issues/", self._guarded(self._list_issues))
        self.route("GET", _ISSUE + r"/", self._guarded(self._issue_details))
        self.route("PUT", _ISSUE + r"/", self._guarded(self._update_issue))
        self.route("GET", _ISSUE + r"/events/", self._guarded(self._issue_events))
        self.route("GET", _ISSUE + r"/events/(?P<which>[^/]+)/", self._guarded(self._event))
        self._notes = IssueNotes(self._known, _offset, self._link)
        self.route("GET", _ISSUE + r"/(?:comments|notes)/", self._guarded(self._notes.list))
        self.route("POST", _ISSUE + r"/(?:comments|notes)/", self._guarded(self._notes.create))
        if seed:
            self._seed()

    def add_issue(self, issue: dict[str, Any], latest_event: dict[str, Any] | None = None) -> None:
        """Add or replace an issue (by `id`); `latest_event`, if given, becomes its newest event.

        The issue's `permalink` is rewritten to point at this stand-in.
        """
        stored = copy.deepcopy(issue)
        issue_id = str(stored["id"])
        stored["id"] = issue_id
        stored["permalink"] = f"{self.url}/organizations/{self.org}/issues/{issue_id}/"
        with self._data:
            self._issues[issue_id] = stored
            events = self._events.setdefault(issue_id, [])
            if latest_event is not None:
                events.insert(0, copy.deepcopy(latest_event))

    def issue(self, issue_id: str) -> dict[str, Any]:
        """A copy of a stored issue, as the API serves it."""
        with self._data:
            return copy.deepcopy(self._issues[issue_id])

    def notes(self, issue_id: str) -> list[dict[str, Any]]:
        """Copies of the notes left on an issue, newest first, as the API lists them."""
        return self._notes.notes(issue_id)

    def rate_limit_next(self, times: int = 1, reset_in: float | None = 1) -> None:
        """Answer the next `times` requests with 429, resetting `reset_in` seconds from now.

        `reset_in=None` leaves out the rate-limit headers, as a proxy in front of Sentry might.
        """
        headers = {}
        if reset_in is not None:
            headers = self._budget_headers(remaining=0, reset=math.ceil(time.time() + reset_in))
        self.fail_next(Reply(429, {"detail": RATE_LIMITED}, headers), times)

    def _seed(self) -> None:
        listed = recorded("sentry/api-org-issues-list.json")[0]
        javascript = dict(recorded("sentry/api-event-javascript.json"), groupID=str(listed["id"]))
        self.add_issue(listed, javascript)
        self.add_issue(
            recorded("sentry/api-issue-details.json"),
            recorded("sentry/api-event-javascript-cloudflare.json"),
        )

    def _guarded(self, handler: Handler) -> Handler:
        """Check the token and organisation, then add the rate-limit headers to the answer."""

        def guarded(call: Call) -> Reply:
            reply = self._refusal(call) or handler(call)
            reply.headers = {**self._budget_headers(), **reply.headers}
            return reply

        return guarded

    def _refusal(self, call: Call) -> Reply | None:
        scheme, _, token = call.headers.get("authorization", "").partition(" ")
        if not token:
            return Reply(401, {"detail": "Authentication credentials were not provided."})
        if scheme.lower() != "bearer" or not hmac.compare_digest(token.strip(), self.token):
            return Reply(401, {"detail": "Invalid token"})
        if call.params["org"] != self.org:
            return Reply(404, NOT_FOUND)
        return None

    def _list_issues(self, call: Call) -> Reply:
        try:
            limit = int(call.arg("limit") or 100)
            offset = _offset(call.arg("cursor"), limit)
            since = _since(call.arg("query") or "")
        except ValueError as exc:
            return Reply(400, {"detail": str(exc)})
        if not 1 <= limit <= 100:
            return Reply(400, {"detail": "Invalid limit: must be between 1 and 100"})
        projects = {p for p in call.query.get("project", []) if p != "-1"}
        with self._data:
            matching = [
                copy.deepcopy(issue)
                for issue in self._issues.values()
                if _in_projects(issue, projects) and (since is None or _seen(issue) > since)
            ]
        matching.sort(key=lambda issue: (_seen(issue), issue["id"]), reverse=True)
        headers = {
            "Link": self._link(call, offset, limit, len(matching)),
            "X-Hits": str(len(matching)),
        }
        return Reply(200, matching[offset : offset + limit], headers)

    def _known(self, issue_id: str) -> bool:
        with self._data:
            return issue_id in self._issues

    def _update_issue(self, call: Call) -> Reply:
        """`PUT .../issues/{id}/`: status changes (`resolved` with `statusDetails` such as
        `inNextRelease`, `unresolved`, `ignored`); answers the fields it changed, as Sentry
        does."""
        issue_id = call.params["issue_id"]
        body = call.json() or {}
        status = body.get("status")
        if status not in (None, "resolved", "unresolved", "ignored", "resolvedInNextRelease"):
            return Reply(400, {"status": [f'"{status}" is not a valid choice.']})
        with self._data:
            issue = self._issues.get(issue_id)
            if issue is None:
                return Reply(404, {"detail": "The requested resource does not exist"})
            if status == "resolvedInNextRelease":
                status, body = "resolved", {**body, "statusDetails": {"inNextRelease": True}}
            if status is not None:
                issue["status"] = status
            details = body.get("statusDetails") or {}
            issue["statusDetails"] = details
            return Reply(200, {"status": issue["status"], "statusDetails": details})

    def _issue_details(self, call: Call) -> Reply:
        with self._data:
            issue = self._issues.get(call.params["issue_id"])
            return Reply(200, copy.deepcopy(issue)) if issue else Reply(404, NOT_FOUND)

    def _issue_events(self, call: Call) -> Reply:
        with self._data:
            if call.params["issue_id"] not in self._issues:
                return Reply(404, NOT_FOUND)
            events = copy.deepcopy(self._events.get(call.params["issue_id"], []))
        if (call.arg("full") or "false").lower() not in ("true", "1"):
            events = [{key: event.get(key) for key in _SUMMARY_KEYS} for event in events]
        return Reply(200, events, {"Link": self._link(call, 0, max(len(events), 1), len(events))})

    def _event(self, call: Call) -> Reply:
        which = call.params["which"]
        with self._data:
            if call.params["issue_id"] not in self._issues:
                return Reply(404, NOT_FOUND)
            events = self._events.get(call.params["issue_id"], [])
            if which in ("latest", "recommended"):
                found = events[:1]
            elif which == "oldest":
                found = events[-1:]
            else:
                found = [e for e in events if which in (e.get("id"), e.get("eventID"))][:1]
            if not found:
                return Reply(404, {"detail": "Event not found"})
            return Reply(200, copy.deepcopy(found[0]))

    def _link(self, call: Call, offset: int, limit: int, total: int) -> str:
        """Sentry's `Link` header: both rels always present, `results` says if they hold any."""
        before, after = f"0:{offset}:1", f"0:{offset + limit}:0"
        return ", ".join(
            [
                self._link_entry(call, "previous", before, offset > 0),
                self._link_entry(call, "next", after, offset + limit < total),
            ]
        )

    def _link_entry(self, call: Call, rel: str, cursor: str, results: bool) -> str:
        query = {key: values for key, values in call.query.items() if key != "cursor"}
        query["cursor"] = [cursor]
        url = f"{self.url}{call.path}?{urlencode(query, doseq=True)}"
        return f'<{url}>; rel="{rel}"; results="{str(results).lower()}"; cursor="{cursor}"'

    @staticmethod
    def _budget_headers(remaining: int = RATE_LIMIT - 1, reset: int = 0) -> dict[str, str]:
        reset = reset or math.ceil(time.time()) + 1
        return {
            "X-Sentry-Rate-Limit-Limit": str(RATE_LIMIT),
            "X-Sentry-Rate-Limit-Remaining": str(remaining),
            "X-Sentry-Rate-Limit-Reset": str(reset),
            "X-Sentry-Rate-Limit-ConcurrentLimit": "25",
            "X-Sentry-Rate-Limit-ConcurrentRemaining": "24",
        }


def _offset(cursor: str | None, limit: int) -> int:
    """The list offset a `value:offset:is_prev` cursor stands for."""
    if not cursor:
        return 0
    parts = cursor.split(":")
    if len(parts) != 3:
        raise ValueError(f"Invalid cursor parameter: {cursor}")
    offset, is_prev = int(parts[1]), parts[2] == "1"
    return max(0, offset - limit) if is_prev else max(0, offset)


def _since(query: str) -> datetime | None:
    """The `lastSeen:>TS` bound of a search query, truncated to the minute as Sentry's index is."""
    match = _LAST_SEEN.search(query)
    if not match:
        return None
    try:
        instant = _parse(match.group(1))
    except ValueError:
        raise ValueError(f"Error parsing search query: invalid date {match.group(1)!r}") from None
    return instant.replace(second=0, microsecond=0)


def _seen(issue: dict[str, Any]) -> datetime:
    return _parse(issue["lastSeen"])


def _parse(value: str) -> datetime:
    instant = datetime.fromisoformat(value)
    # Sentry writes naive dates in UTC.
    return instant if instant.tzinfo else instant.replace(tzinfo=UTC)


def _in_projects(issue: dict[str, Any], projects: set[str]) -> bool:
    if not projects:
        return True
    project = issue.get("project") or {}
    return str(project.get("id")) in projects or project.get("slug") in projects


def main() -> None:
    """Serve until interrupted: `python -m integrations.standins.sentry [TOKEN [PORT]]`."""
    import sys

    token = sys.argv[1] if len(sys.argv) > 1 else "sentry-test-token"
    port = int(sys.argv[2]) if len(sys.argv) > 2 else 0
    standin = SentryStandIn(token=token, port=port)
    standin.start()
    print(f"Sentry stand-in for org {standin.org!r} at {standin.url} (token {token!r})")
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        standin.stop()


if __name__ == "__main__":
    main()
