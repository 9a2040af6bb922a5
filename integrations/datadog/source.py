"""Datadog as an `ErrorSource`: error logs and Error Tracking issues through datadog-api-client.

`DatadogSource.poll` reads one window, from the cursor (or `lookback_minutes` ago) to now: every
Error-Tracking-eligible log (`logs_query`, limited to the configured services) in ascending time
order over at most `max_pages` pages, then the Error Tracking issues active in the window. Issues
carry no stack trace, so each issue no log of the batch belongs to gets a sample: the newest log
carrying its `issue.id`, fetched for all such issues in one search. The cursor is the ISO 8601
UTC timestamp (`2025-06-27T06:48:32.867000Z`) of the newest event returned; a poll never returns
an event at or before its cursor. Datadog stamps logs to the millisecond and `filter.from` is an
inclusive minimum, so the log search starts at the millisecond after the cursor: nothing newer is
skipped and no page slot is spent re-reading what was returned. Event ids are stable, so what is
read twice (issue samples, a retried poll) is deduped by the store on `(source, event_id)`. Every
failure becomes `TransientError` (429, 408, 5xx, network) or `PermanentError` (other 4xx, malformed
replies); a 429 whose `X-RateLimit-Reset` is at most `max_wait` seconds away is waited out.
The client plumbing (configuration, calls, failures) is in `client`, the cursor and window
arithmetic in `cursor`.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any, TypeVar

from datadog_api_client import ApiClient
from datadog_api_client.v2.api.error_tracking_api import ErrorTrackingApi
from datadog_api_client.v2.api.logs_api import LogsApi
from datadog_api_client.v2.model.issues_search_request import IssuesSearchRequest
from datadog_api_client.v2.model.issues_search_request_data import IssuesSearchRequestData
from datadog_api_client.v2.model.issues_search_request_data_attributes import (
    IssuesSearchRequestDataAttributes,
)
from datadog_api_client.v2.model.issues_search_request_data_attributes_track import (
    IssuesSearchRequestDataAttributesTrack,
)
from datadog_api_client.v2.model.issues_search_request_data_type import (
    IssuesSearchRequestDataType,
)
from datadog_api_client.v2.model.logs_list_request import LogsListRequest
from datadog_api_client.v2.model.logs_list_request_page import LogsListRequestPage
from datadog_api_client.v2.model.logs_query_filter import LogsQueryFilter
from datadog_api_client.v2.model.logs_sort import LogsSort
from datadog_api_client.v2.model.search_issues_include_query_parameter_item import (
    SearchIssuesIncludeQueryParameterItem,
)

from integrations.datadog.client import NotFound, build_configuration, call, plain
from integrations.datadog.cursor import format_cursor, horizon, ms, parse_cursor, utc
from worker.models import ErrorEvent
from worker.normalise import PayloadError, from_datadog_issue, from_datadog_log
from worker.ports import PermanentError, PollBatch
from worker.settings import DatadogSettings

log = logging.getLogger(__name__)

# Datadog issue ids are UUIDs; anything else is refused before it reaches a search query.
_ISSUE_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
T = TypeVar("T")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class DatadogSource:
    """Polls Datadog Logs and Error Tracking and returns suture `ErrorEvent`s.

    `now` and `sleep` are injectable so tests control the window and never wait for real;
    `max_wait` caps how long one call may block on a rate limit before raising instead.
    """

    name = "datadog"

    def __init__(self, settings: DatadogSettings, *, now: Callable[[], datetime] = _utcnow,
                 sleep: Callable[[float], None] = time.sleep, max_wait: float = 5.0) -> None:
        self.settings = settings
        self._now, self._sleep, self._max_wait = now, sleep, max_wait
        self._client = ApiClient(build_configuration(settings))
        self._logs = LogsApi(self._client)
        self._issues = ErrorTrackingApi(self._client)

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self._client.close()

    def poll(self, cursor: str | None) -> PollBatch:
        """Error events newer than `cursor` (an ISO timestamp; None: `lookback_minutes` ago).

        The window ends `settle_seconds` ago: a log indexed after a poll but stamped before the
        window's end would otherwise be behind the cursor for good.
        """
        now = self._now() - timedelta(seconds=self.settings.settle_seconds)
        floor = now - timedelta(minutes=self.settings.lookback_minutes)
        since = parse_cursor(cursor) or floor
        items, complete = self._error_logs(since, now)
        log_events = _normalised(from_datadog_log, items)
        covered = {issue_id for issue_id in map(_issue_id_of, items) if issue_id}
        issue_events = self._issue_events(since, now, covered)
        until = None if complete else horizon(log_events, since)
        fresh = sorted(
            _unique(e for e in log_events + issue_events if utc(e.timestamp) > since
                    and (until is None or utc(e.timestamp) <= until)),
            key=lambda e: utc(e.timestamp),
        )
        marks = [utc(e.timestamp) for e in fresh] + ([since] if cursor else [])
        if complete:
            # The whole window was read, so nothing older than the look-back is still to come.
            marks.append(floor)
        return PollBatch(events=fresh, cursor=format_cursor(max(marks)) if marks else None)

    def latest_event(self, issue_id: str) -> ErrorEvent | None:
        """The newest log of Error Tracking issue `issue_id` as an event with the issue's id.

        None when the issue has no log since it was first seen (its errors came from traces or
        RUM, or its logs aged out) or Datadog does not know it (404).
        """
        if not _ISSUE_ID.fullmatch(issue_id):
            raise PermanentError(f"not a Datadog issue id: {issue_id[:80]!r}")
        try:
            issue = plain(self._call(self._issues.get_issue, issue_id)).get("data") or {}
        except NotFound:
            return None
        first_seen = (issue.get("attributes") or {}).get("first_seen")
        now = self._now()
        start = (datetime.fromtimestamp(first_seen / 1000, UTC) if isinstance(first_seen, int)
                 else now - timedelta(minutes=self.settings.lookback_minutes))
        samples = self._samples([issue_id], start, now, limit=1)
        sample = samples.get(issue_id)
        return from_datadog_issue(issue, sample) if sample is not None else None

    def _error_logs(self, since: datetime, end: datetime) -> tuple[list[dict[str, Any]], bool]:
        """Plain log items stamped after `since` (to the ms), oldest first; all pages read?"""
        body = LogsListRequest(
            filter=LogsQueryFilter(_from=str(ms(since) + 1), to=str(ms(end)),
                                   query=self._logs_query()),
            page=LogsListRequestPage(limit=self.settings.page_limit),
            sort=LogsSort.TIMESTAMP_ASCENDING,
        )
        items: list[dict[str, Any]] = []
        for _ in range(self.settings.max_pages):
            page = plain(self._call(self._logs.list_logs, body=body))
            items.extend(page.get("data") or [])
            after = ((page.get("meta") or {}).get("page") or {}).get("after")
            if not after:
                return items, True
            body.page = LogsListRequestPage(limit=self.settings.page_limit, cursor=after)
        return items, False

    def _issue_events(self, start: datetime, end: datetime, covered: set[str]) -> list[ErrorEvent]:
        """Events for the window's issues that no log of the batch already stands for."""
        attributes = IssuesSearchRequestDataAttributes(
            _from=ms(start), to=ms(end), query=self._issue_query(),
            track=IssuesSearchRequestDataAttributesTrack(self.settings.track),
        )
        request = IssuesSearchRequest(data=IssuesSearchRequestData(
            attributes=attributes, type=IssuesSearchRequestDataType.SEARCH_REQUEST))
        found = plain(self._call(self._issues.search_issues, request,
                                 include=[SearchIssuesIncludeQueryParameterItem.ISSUE]))
        issues = [item for item in found.get("included") or []
                  if item.get("type") == "issue" and item.get("id") not in covered]
        samples = self._samples([issue["id"] for issue in issues], start, end)

        def normalise(issue: dict[str, Any]) -> ErrorEvent:
            return from_datadog_issue(issue, samples.get(issue["id"]))

        return _normalised(normalise, issues)

    def _samples(self, issue_ids: list[str], start: datetime, end: datetime,
                 limit: int | None = None) -> dict[str, ErrorEvent]:
        """The newest log of each issue in the window, found with one `@issue.id:` search."""
        wanted = [issue_id for issue_id in issue_ids if _ISSUE_ID.fullmatch(issue_id)]
        if not wanted:
            return {}
        body = LogsListRequest(
            filter=LogsQueryFilter(_from=str(ms(start)), to=str(ms(end)),
                                   query=f"@issue.id:({' OR '.join(wanted)})"),
            page=LogsListRequestPage(limit=limit or self.settings.page_limit),
            sort=LogsSort.TIMESTAMP_DESCENDING,
        )
        items = plain(self._call(self._logs.list_logs, body=body)).get("data") or []
        samples: dict[str, ErrorEvent] = {}
        for event in _normalised(from_datadog_log, items):  # newest first: keep the first
            if event.issue_id in wanted:
                samples.setdefault(event.issue_id, event)
        return samples

    def _logs_query(self) -> str:
        services, query = self._services(), self.settings.logs_query
        return f"({query}) AND {services}" if services else query

    def _issue_query(self) -> str:
        return self._services() or "*"

    def _services(self) -> str:
        names = self.settings.services
        return f"service:({' OR '.join(names)})" if names else ""

    def _call(self, operation: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run one API operation through `client.call`, with this source's sleep and patience."""
        return call(partial(operation, *args, **kwargs), sleep=self._sleep,
                    max_wait=self._max_wait)


def _normalised(normalise: Callable[[dict[str, Any]], ErrorEvent],
                items: list[dict[str, Any]]) -> list[ErrorEvent]:
    """Each item normalised; a malformed one is logged and skipped so it cannot stall polling."""
    events = []
    for item in items:
        try:
            events.append(normalise(item))
        except PayloadError as exc:
            log.warning("skipping a malformed Datadog item %r: %s", str(item.get("id"))[:80], exc)
    return events


def _issue_id_of(item: dict[str, Any]) -> str | None:
    custom = (item.get("attributes") or {}).get("attributes") or {}
    issue = custom.get("issue")
    issue_id = issue.get("id") if isinstance(issue, dict) else None
    return issue_id if isinstance(issue_id, str) else None


def _unique(events: Any) -> list[ErrorEvent]:
    seen: dict[str, ErrorEvent] = {}
    for event in events:
        seen.setdefault(event.event_id, event)
    return list(seen.values())
