"""`SentrySource`: the `ErrorSource` port over Sentry's REST API, polled with a lastSeen cursor.

A poll lists the organisation's issues seen after the cursor (newest first, as `sort=date` gives
them), fetches each one's latest full event and normalises it, and returns the events oldest
first with the newest `lastSeen` as the next cursor. Sentry's date filter is coarse, so issues are
filtered again here: `poll(cursor)` never returns an issue last seen at or before `cursor`. An
issue whose latest event is gone or unreadable still yields a frameless event built from the issue
itself, so a poll never drops an issue silently.

`link_change` leaves one note on an issue pointing at the change that fixes it (`notes.py`). A
source built with `require_token=False` for a webhook-only setup cannot poll or comment.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from integrations.sentry.client import SentryClient, SentryNotFound
from integrations.sentry.notes import link_note
from worker.models import ErrorEvent
from worker.normalise import PayloadError, from_sentry_api, from_sentry_issue
from worker.ports import PermanentError, PollBatch
from worker.settings import SentrySettings

log = logging.getLogger(__name__)

# Numeric ids and short ids (PUMP-STATION-1); anything else could walk out of the issue's path.
_ISSUE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


class SentrySource:
    """Polls one Sentry organisation's issues, fetches their latest events, and links changes.

    Without `sentry.org` and `sentry.token` it refuses to be built, unless `require_token=False`
    (a webhook-only setup): then `poll` and `latest_event` raise `PermanentError` and
    `link_change` returns None.
    """

    name = "sentry"

    def __init__(
        self,
        settings: SentrySettings,
        *,
        client: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        max_wait: float = 5.0,
        require_token: bool = True,
    ) -> None:
        configured = bool(settings.org) and settings.token is not None
        if require_token and not configured:
            raise PermanentError(_UNCONFIGURED)
        self.settings = settings
        self._org_path = f"/api/0/organizations/{quote(settings.org or '', safe='')}"
        self._client: SentryClient | None = None
        if configured and settings.token is not None:
            self._client = SentryClient(
                settings.base_url,
                settings.token.get_secret_value(),
                client=client,
                sleep=sleep,
                max_wait=max_wait,
            )
        self._said_why_no_links = False

    @property
    def _api(self) -> SentryClient:
        if self._client is None:
            raise PermanentError(_UNCONFIGURED)
        return self._client

    def close(self) -> None:
        """Release the HTTP connections this source opened."""
        if self._client is not None:
            self._client.close()

    def link_change(self, issue_id: str, url: str, text: str) -> str | None:
        """Leave `text` (which carries `url`) as a note on the issue, once; the note's id.

        A note already carrying `url` is reused, so crashes and retries never post twice. None
        when this source has no token (logged once) or cannot prove the issue lacks the link.
        """
        if self._client is None:
            if not self._said_why_no_links:
                self._said_why_no_links = True
                log.warning(
                    "sentry issues get no link to their fix: commenting needs sentry.org and a "
                    "sentry.token with event:write (this is a webhook-only setup)"
                )
            return None
        notes_path = f"{self._issue_path(issue_id)}comments/"
        return link_note(self._client, notes_path, url, text, max_pages=self.settings.max_pages)

    def resolve_in_next_release(self, issue_id: str) -> bool:
        """Mark the issue resolved in the next release (Sentry then reopens it, as a regression,
        if it is seen in a later release); False when this source has no token."""
        if self._client is None:
            return False
        answer = self._client.put(self._issue_path(issue_id),
                                  {"status": "resolved", "statusDetails": {"inNextRelease": True}})
        return isinstance(answer, dict) and answer.get("status") == "resolved"

    def poll(self, cursor: str | None) -> PollBatch:
        """Events of the issues last seen after `cursor`, oldest first, and the next cursor."""
        seen_issues = self._issues_since(parse_cursor(cursor))
        if not seen_issues:
            return PollBatch(events=[], cursor=cursor)
        events = [self._event_for(issue) for _, issue in seen_issues]
        return PollBatch(
            events=[event for event in events if event is not None],
            cursor=format_cursor(seen_issues[-1][0]),
        )

    def latest_event(self, issue_id: str) -> ErrorEvent | None:
        """The newest full event of an issue, normalised; None when the issue or event is gone."""
        path = self._issue_path(issue_id)
        try:
            issue = self._api.get(path)
            raw = self._api.get(f"{path}events/latest/")
        except SentryNotFound:
            return None
        if not isinstance(issue, dict):
            raise PermanentError(f"sentry issue {issue_id}: expected a JSON object")
        try:
            return self._normalise(raw, issue)
        except PayloadError as exc:
            raise PermanentError(f"sentry issue {issue_id}: unreadable event: {exc}") from exc

    def _issues_since(self, since: datetime | None) -> list[tuple[datetime, dict[str, Any]]]:
        """(lastSeen, issue) of the issues last seen after `since`, one per id, oldest first."""
        newest: dict[str, tuple[datetime, dict[str, Any]]] = {}
        path, params = f"{self._org_path}/issues/", self._list_params(since)
        page = None
        for page in self._api.pages(path, params, max_pages=self.settings.max_pages):
            fresh, reached_older = _split(page.items, since)
            for seen, issue in fresh:
                key = str(issue["id"])
                # An issue that recurs between two page requests can be listed twice.
                if key not in newest or newest[key][0] < seen:
                    newest[key] = (seen, issue)
            if reached_older:
                return _oldest_first(newest)  # sorted newest first: later pages are older still
        if page is not None and page.next_cursor is not None:
            log.warning(
                "sentry poll stopped after %d pages with more issues left; older ones wait "
                "until they recur (raise sentry.max_pages or poll more often)",
                self.settings.max_pages,
            )
        return _oldest_first(newest)

    def _list_params(self, since: datetime | None) -> dict[str, Any]:
        query = self.settings.query.strip()
        if since is not None:
            # Sentry's grammar takes ISO 8601 with Z; seconds are enough since we filter again.
            query = f"{query} lastSeen:>{since.strftime('%Y-%m-%dT%H:%M:%SZ')}".strip()
        params: dict[str, Any] = {"query": query, "sort": "date", "limit": self.settings.page_limit}
        if self.settings.projects:
            params["project"] = list(self.settings.projects)
        return params

    def _event_for(self, issue: dict[str, Any]) -> ErrorEvent | None:
        """The issue's latest event, or a frameless event from the issue when it has none."""
        path = self._issue_path(str(issue["id"]))
        try:
            raw = self._api.get(f"{path}events/latest/")
            return self._normalise(raw, issue)
        except SentryNotFound:
            log.info("sentry issue %s has no latest event; using the issue alone", issue["id"])
        except PayloadError as exc:
            log.warning("sentry issue %s: unreadable latest event (%s)", issue["id"], exc)
        return _frameless(issue)

    def _normalise(self, raw: Any, issue: dict[str, Any]) -> ErrorEvent:
        project = issue.get("project") or {}
        event = from_sentry_api(
            raw,
            project=project.get("slug") if isinstance(project, dict) else None,
            link=issue.get("permalink"),
        )
        if not event.issue_id:
            event = event.model_copy(update={"issue_id": str(issue["id"])})
        return event

    def _issue_path(self, issue_id: str) -> str:
        if not _ISSUE_ID.fullmatch(issue_id):
            raise PermanentError(f"not a sentry issue id: {issue_id!r}")
        return f"{self._org_path}/issues/{issue_id}/"


_UNCONFIGURED = "sentry polling needs sentry.org and sentry.token"


def parse_cursor(cursor: str | None) -> datetime | None:
    """The instant a cursor stands for (UTC); None for no cursor."""
    if not cursor:
        return None
    try:
        instant = datetime.fromisoformat(cursor)
    except ValueError as exc:
        raise PermanentError(f"not a sentry poll cursor: {cursor!r}") from exc
    return instant.replace(tzinfo=UTC) if instant.tzinfo is None else instant.astimezone(UTC)


def format_cursor(instant: datetime) -> str:
    """A cursor for `instant`: ISO 8601 in UTC with a Z, keeping sub-second precision."""
    return instant.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _split(
    items: Iterable[Any], since: datetime | None
) -> tuple[list[tuple[datetime, dict[str, Any]]], bool]:
    """(lastSeen, issue) of the issues seen after `since`, and whether an older one was listed.

    Malformed items (no id, no readable lastSeen) are logged and left out.
    """
    fresh: list[tuple[datetime, dict[str, Any]]] = []
    reached_older = False
    for item in items:
        seen = _last_seen(item) if isinstance(item, dict) and item.get("id") else None
        if seen is None:
            log.warning("sentry listed an issue without id or lastSeen; skipped")
        elif since is None or seen > since:
            fresh.append((seen, item))
        else:
            reached_older = True
    return fresh, reached_older


def _oldest_first(
    by_id: dict[str, tuple[datetime, dict[str, Any]]],
) -> list[tuple[datetime, dict[str, Any]]]:
    return sorted(by_id.values(), key=lambda pair: (pair[0], str(pair[1]["id"])))


def _last_seen(issue: dict[str, Any]) -> datetime | None:
    value = issue.get("lastSeen")
    if not isinstance(value, str):
        return None
    try:
        return parse_cursor(value)
    except PermanentError:
        return None


def _frameless(issue: dict[str, Any]) -> ErrorEvent | None:
    """An event built from the issue alone (title, level, exception type), like an issue webhook."""
    try:
        return from_sentry_issue(issue, link=issue.get("permalink"))
    except PayloadError as exc:
        log.warning("sentry issue %s cannot be represented (%s); skipped", issue.get("id"), exc)
        return None
