"""SentrySource against the Sentry stand-in over real HTTP: paging, cursors, rate limits, errors."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from integrations.sentry import SentrySource
from integrations.standins.base import Reply, recorded
from integrations.standins.sentry import RATE_LIMITED, SentryStandIn
from worker.ports import ErrorSource, PermanentError, TransientError
from worker.settings import SentrySettings

TOKEN = "sntrys-test-token"
ISSUES_PATH = "/api/0/organizations/the-interstellar-jurisdiction/issues/"
SEEDED = {"1": "pump-station", "6507376925": "CLOUDFLARE-MCP"}
BASE = datetime(2025, 5, 1, 10, 0, 0, tzinfo=UTC)


@pytest.fixture
def standin() -> Iterator[SentryStandIn]:
    running = SentryStandIn(token=TOKEN)
    running.start()
    yield running
    running.stop()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_source(sleeps: list[float]) -> Iterator[Callable[..., SentrySource]]:
    """Build sources against a stand-in (settings overridable); all are closed after the test."""
    made: list[SentrySource] = []

    def make(standin: SentryStandIn, **overrides: Any) -> SentrySource:
        values: dict[str, Any] = {
            "base_url": standin.url,
            "org": standin.org,
            "token": SecretStr(TOKEN),
            "page_limit": 3,
        }
        values.update(overrides)
        made.append(SentrySource(SentrySettings(**values), sleep=sleeps.append))
        return made[-1]

    yield make
    for source in made:
        source.close()


@pytest.fixture
def source(standin: SentryStandIn, make_source: Callable[..., SentrySource]) -> SentrySource:
    return make_source(standin)


def iso(instant: datetime) -> str:
    return instant.isoformat().replace("+00:00", "Z")


def add_issue(standin: SentryStandIn, issue_id: str, last_seen: datetime,
              with_event: bool = True) -> str:
    """Add an issue shaped like the recorded list item; its event is the recorded Cloudflare one."""
    issue = dict(recorded("sentry/api-org-issues-list.json")[0], id=issue_id,
                 shortId=f"PUMP-STATION-{issue_id}", lastSeen=iso(last_seen))
    event_id = f"{int(issue_id):032x}"
    event = dict(recorded("sentry/api-event-javascript-cloudflare.json"),
                 id=event_id, eventID=event_id, groupID=issue_id, dateCreated=iso(last_seen))
    standin.add_issue(issue, event if with_event else None)
    return event_id


def list_calls(standin: SentryStandIn) -> list[Any]:
    return [call for call in standin.calls if call.path == ISSUES_PATH]


def test_source_satisfies_the_port(source: SentrySource) -> None:
    assert isinstance(source, ErrorSource)
    assert source.name == "sentry"


def test_poll_follows_pages_and_returns_every_issue_once_oldest_first(
    standin: SentryStandIn, source: SentrySource
) -> None:
    added = [str(n) for n in range(100, 107)]
    for offset, issue_id in enumerate(added):
        add_issue(standin, issue_id, BASE + timedelta(minutes=offset))

    batch = source.poll(None)

    assert [event.issue_id for event in batch.events] == ["1", "6507376925", *added]
    assert batch.cursor == iso(BASE + timedelta(minutes=6))
    cursors = [call.arg("cursor") for call in list_calls(standin)]
    assert len(cursors) == 3  # 9 issues, 3 per page, and the third page says results="false"
    assert cursors[0] is None and None not in cursors[1:]


def test_poll_sends_the_configured_query_sort_limit_and_projects(
    standin: SentryStandIn, make_source: Callable[..., SentrySource]
) -> None:
    polling = make_source(standin, projects=["CLOUDFLARE-MCP"], query="is:unresolved")

    batch = polling.poll("2025-04-01T00:00:00Z")

    assert [event.issue_id for event in batch.events] == ["6507376925"]
    call = list_calls(standin)[0]
    assert call.query["query"] == ["is:unresolved lastSeen:>2025-04-01T00:00:00Z"]
    assert call.query["sort"] == ["date"]
    assert call.query["limit"] == ["3"]
    assert call.query["project"] == ["CLOUDFLARE-MCP"]
    assert call.headers["authorization"] == f"Bearer {TOKEN}"


def test_poll_from_its_own_cursor_returns_nothing(source: SentrySource) -> None:
    first = source.poll(None)

    again = source.poll(first.cursor)

    assert len(first.events) == 2
    assert again.events == []
    assert again.cursor == first.cursor


def test_poll_returns_only_the_issue_seen_after_the_cursor(
    standin: SentryStandIn, source: SentrySource
) -> None:
    add_issue(standin, "200", BASE + timedelta(seconds=10))
    cursor = source.poll(None).cursor
    # Same minute as the cursor: the server's minute-grained filter still lists issue 200.
    event_id = add_issue(standin, "201", BASE + timedelta(seconds=40, microseconds=5000))

    batch = source.poll(cursor)

    assert [(event.issue_id, event.event_id) for event in batch.events] == [("201", event_id)]
    assert batch.cursor == "2025-05-01T10:00:40.005000Z"
    assert source.poll(batch.cursor).events == []


def test_recurring_issue_comes_back_with_its_new_event(
    standin: SentryStandIn, source: SentrySource
) -> None:
    add_issue(standin, "300", BASE)
    cursor = source.poll(None).cursor
    newer = add_issue(standin, "300", BASE + timedelta(hours=1))

    batch = source.poll(cursor)

    assert [event.event_id for event in batch.events] == [newer]


def test_issue_without_a_latest_event_is_still_reported(
    standin: SentryStandIn, source: SentrySource
) -> None:
    cursor = source.poll(None).cursor
    add_issue(standin, "400", BASE, with_event=False)

    batch = source.poll(cursor)

    assert [event.issue_id for event in batch.events] == ["400"]
    assert batch.events[0].frames == []
    assert batch.events[0].project == "pump-station"
    assert batch.cursor == iso(BASE)


def test_poll_stops_at_max_pages_with_the_newest_issues(
    standin: SentryStandIn, make_source: Callable[..., SentrySource]
) -> None:
    for n in range(10):
        add_issue(standin, str(500 + n), BASE + timedelta(minutes=n))
    polling = make_source(standin, page_limit=2, max_pages=2)

    batch = polling.poll(None)

    assert [event.issue_id for event in batch.events] == ["506", "507", "508", "509"]
    assert len(list_calls(standin)) == 2


def test_rate_limit_is_waited_out_until_the_reset(
    standin: SentryStandIn, source: SentrySource, sleeps: list[float]
) -> None:
    standin.rate_limit_next(2, reset_in=1)

    batch = source.poll(None)

    assert len(batch.events) == 2
    assert len(sleeps) == 2
    assert all(0 < wait <= 2 for wait in sleeps)  # until X-Sentry-Rate-Limit-Reset, not longer


def test_rate_limit_beyond_max_wait_is_handed_back_as_transient(
    standin: SentryStandIn, source: SentrySource, sleeps: list[float]
) -> None:
    standin.rate_limit_next(1, reset_in=60)

    with pytest.raises(TransientError) as raised:
        source.poll(None)

    assert raised.value.retry_after is not None and 55 < raised.value.retry_after <= 61
    assert RATE_LIMITED in str(raised.value)
    assert sleeps == []


def test_rate_limit_without_reset_header_backs_off_exponentially(
    standin: SentryStandIn, source: SentrySource, sleeps: list[float]
) -> None:
    standin.rate_limit_next(2, reset_in=None)

    assert len(source.poll(None).events) == 2
    assert sleeps == [1.0, 2.0]


def test_rate_limit_that_never_ends_is_transient(
    standin: SentryStandIn, source: SentrySource, sleeps: list[float]
) -> None:
    standin.rate_limit_next(10, reset_in=None)

    with pytest.raises(TransientError) as raised:
        source.poll(None)

    assert sleeps == [1.0, 2.0, 4.0]
    assert raised.value.retry_after == 8.0  # the next back-off step, beyond max_wait


def test_spent_budget_defers_the_next_request(
    standin: SentryStandIn, source: SentrySource
) -> None:
    reset = math.ceil(time.time()) + 60
    spent = {"X-Sentry-Rate-Limit-Remaining": "0", "X-Sentry-Rate-Limit-Reset": str(reset)}
    standin.fail_next(Reply(200, standin.issue("1"), spent))
    requests_before = len(standin.calls)

    with pytest.raises(TransientError) as raised:
        source.latest_event("1")

    assert raised.value.retry_after is not None and raised.value.retry_after > 5
    assert len(standin.calls) == requests_before + 1  # the events request was never sent


def test_bad_token_is_permanent(
    standin: SentryStandIn, make_source: Callable[..., SentrySource]
) -> None:
    polling = make_source(standin, token=SecretStr("wrong"))

    with pytest.raises(PermanentError, match="401: Invalid token"):
        polling.poll(None)


def test_unknown_organisation_is_permanent(
    standin: SentryStandIn, make_source: Callable[..., SentrySource]
) -> None:
    with pytest.raises(PermanentError, match="404"):
        make_source(standin, org="someone-else").poll(None)


def test_server_error_is_transient(standin: SentryStandIn, source: SentrySource) -> None:
    standin.fail_next(Reply(500, {"detail": "Internal Error"}))

    with pytest.raises(TransientError, match="500: Internal Error"):
        source.poll(None)


def test_unreachable_sentry_is_transient(make_source: Callable[..., SentrySource]) -> None:
    with SentryStandIn(token=TOKEN) as gone:
        pass  # stopped: its port now refuses connections

    with pytest.raises(TransientError, match="unreachable"):
        make_source(gone).poll(None)


def test_timeout_is_transient(standin: SentryStandIn) -> None:
    standin.slow("GET", ISSUES_PATH, 1.0)
    settings = SentrySettings(base_url=standin.url, org=standin.org, token=SecretStr(TOKEN))

    with httpx.Client(timeout=0.2) as impatient, pytest.raises(TransientError, match="timed out"):
        SentrySource(settings, client=impatient).poll(None)


def test_missing_configuration_is_permanent() -> None:
    with pytest.raises(PermanentError, match="org and sentry.token"):
        SentrySource(SentrySettings(org="acme"))


@pytest.mark.parametrize("issue_id", sorted(SEEDED))
def test_latest_event_normalises_the_recorded_events(
    standin: SentryStandIn, source: SentrySource, issue_id: str
) -> None:
    event = source.latest_event(issue_id)

    assert event is not None
    assert event.issue_id == issue_id
    assert event.project == SEEDED[issue_id]
    assert event.link == f"{standin.url}/organizations/{standin.org}/issues/{issue_id}/"
    assert event.frames and all(frame.function or frame.filename for frame in event.frames)


def test_latest_event_of_the_cloudflare_issue_keeps_its_exception(source: SentrySource) -> None:
    event = source.latest_event("6507376925")

    assert event is not None
    assert event.event_id == "7ca573c0f4814912aaa9bdc77d1a7d51"
    assert event.primary is not None
    assert event.primary.type == "Error"
    assert event.primary.value == "Tool list_organizations is already registered"


def test_latest_event_of_an_unknown_issue_is_none(source: SentrySource) -> None:
    assert source.latest_event("999") is None


def test_latest_event_of_an_issue_without_events_is_none(
    standin: SentryStandIn, source: SentrySource
) -> None:
    add_issue(standin, "600", BASE, with_event=False)

    assert source.latest_event("600") is None


def test_latest_event_refuses_ids_that_would_leave_the_issue_path(
    standin: SentryStandIn, source: SentrySource
) -> None:
    with pytest.raises(PermanentError):
        source.latest_event("../../projects")

    assert standin.calls == []


def test_standin_link_header_follows_sentry_pagination(standin: SentryStandIn) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    url = standin.url + ISSUES_PATH

    first = httpx.get(url, params={"limit": 1}, headers=headers)
    last = httpx.get(url, params={"limit": 1, "cursor": first.links["next"]["cursor"]},
                     headers=headers)

    assert first.links["previous"]["results"] == "false"
    assert first.links["next"]["results"] == "true"
    assert first.links["next"]["url"].startswith(url)
    assert first.headers["X-Hits"] == "2"
    assert [issue["id"] for issue in first.json() + last.json()] == ["6507376925", "1"]
    assert last.links["previous"]["results"] == "true"
    assert last.links["next"]["results"] == "false"
    assert int(last.headers["X-Sentry-Rate-Limit-Remaining"]) > 0


def test_standin_refuses_requests_without_a_token(standin: SentryStandIn) -> None:
    answer = httpx.get(standin.url + ISSUES_PATH)

    assert answer.status_code == 401
    assert answer.json() == {"detail": "Authentication credentials were not provided."}
