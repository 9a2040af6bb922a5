"""DatadogSource through the real datadog-api-client against the Datadog stand-in over HTTP.

The stand-in starts with the recorded error-stack logs (a Python traceback at 06:48:32.867Z on
2025-06-27 from `example-python-app`, a Node.js one in April from `cloudflare-mcp`) and the
recorded Error Tracking issue; each test adds the logs and issues its story needs.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import SecretStr

from integrations.datadog import DatadogSource
from integrations.datadog.client import build_configuration
from integrations.datadog.cursor import parse_cursor
from integrations.standins.base import Reply, recorded
from integrations.standins.datadog import (
    API_KEY,
    APP_KEY,
    DatadogStandIn,
    error_log,
    issue_resource,
)
from worker.models import Source
from worker.ports import ErrorSource, PermanentError, TransientError
from worker.settings import DatadogSettings

NOW = datetime(2025, 6, 27, 7, 0, tzinfo=UTC)
SERVICE = "example-python-app"
RECORDED_LOG_ID = "AQAAAYAZdbh47dGwNwAAAABBWUFaZGJyMUFBQ0s4OEN3YmZ1UDJRQUI"
ISSUE_A = "0a5c1e2e-5f0e-11f0-9f6a-da7ad0900002"
ISSUE_B = "1b6d2f3f-5f0e-11f0-9f6a-da7ad0900002"


class Clock:
    """A settable `now` for the source."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def standin() -> Iterator[DatadogStandIn]:
    with DatadogStandIn() as server:
        assert isinstance(server, DatadogStandIn)
        yield server


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW)


@pytest.fixture
def make_source(standin: DatadogStandIn, clock: Clock) -> Iterator[Callable[..., DatadogSource]]:
    sources: list[DatadogSource] = []

    def make(sleep: Callable[[float], None] | None = None, **overrides: object) -> DatadogSource:
        values: dict[str, object] = {"host": standin.url, "api_key": API_KEY, "app_key": APP_KEY,
                                     "services": [SERVICE], "settle_seconds": 0}
        values.update(overrides)
        settings = DatadogSettings.model_validate(values)
        source = (DatadogSource(settings, now=clock, sleep=sleep) if sleep
                  else DatadogSource(settings, now=clock))
        sources.append(source)
        return source

    yield make
    for source in sources:
        source.close()


def log_searches(standin: DatadogStandIn) -> list[dict]:
    return [call.json() for call in standin.calls if call.path == "/api/v2/logs/events/search"]


def test_source_satisfies_the_port(make_source: Callable[..., DatadogSource]) -> None:
    source = make_source()
    assert isinstance(source, ErrorSource)
    assert source.name == "datadog"


def test_pagination_yields_every_error_log_once_with_frames(
    standin: DatadogStandIn, make_source: Callable[..., DatadogSource]
) -> None:
    for n, minutes in ((1, 10), (2, 8), (3, 5)):
        standin.add_log(error_log(f"log-{n}", NOW - timedelta(minutes=minutes)))
    access_log = copy.deepcopy(recorded("datadog/logs-search.response.page1.json")["data"][0])
    access_log["id"] = "access-log"
    access_log["attributes"].update(service=SERVICE, timestamp="2025-06-27T06:55:00.000Z")
    standin.add_log(access_log)
    standin.add_log(error_log("other-service", NOW - timedelta(minutes=4), service="billing"))

    batch = make_source(page_limit=2).poll(None)

    ids = [event.event_id for event in batch.events]
    expected = {RECORDED_LOG_ID, "log-1", "log-2", "log-3"}
    assert len(ids) == len(set(ids)) == 4
    assert set(ids) == expected
    assert all(event.source is Source.DATADOG for event in batch.events)
    assert [e.timestamp for e in batch.events] == sorted(e.timestamp for e in batch.events)
    recorded_event = next(e for e in batch.events if e.event_id == RECORDED_LOG_ID)
    assert recorded_event.primary is not None and recorded_event.primary.type == "Exception"
    assert [f.function for f in recorded_event.frames] == ["<module>", "main"]
    assert recorded_event.frames[-1].lineno == 26
    pages = [body for body in log_searches(standin) if body["sort"] == "timestamp"]
    assert len(pages) == 3  # two full pages, then the empty last page
    assert "cursor" not in pages[0]["page"] and pages[1]["page"]["cursor"]
    assert "service:(example-python-app)" in pages[0]["filter"]["query"]


def test_stand_in_cursors_use_the_recorded_format(
    standin: DatadogStandIn, make_source: Callable[..., DatadogSource]
) -> None:
    make_source(page_limit=1, services=[], lookback_minutes=60 * 24 * 365).poll(None)

    first_page_cursor = log_searches(standin)[1]["page"]["cursor"]
    recorded_page = recorded("datadog/logs-search.response.error-stack.COMPOSED.json")
    # Ascending, the April log comes first; the recorded cursor points after that same log.
    assert first_page_cursor == recorded_page["meta"]["page"]["after"]


def test_issue_without_a_batch_log_gets_its_newest_log_as_sample(
    standin: DatadogStandIn, make_source: Callable[..., DatadogSource]
) -> None:
    for issue_id in (ISSUE_A, ISSUE_B):
        standin.add_issue(issue_resource(
            issue_id, service=SERVICE, first_seen=NOW - timedelta(days=2),
            last_seen=NOW - timedelta(minutes=3)))
    # ISSUE_A's logs are `error`, outside a logs query that only wants `critical`.
    standin.add_log(error_log("a-old", NOW - timedelta(minutes=20), issue_id=ISSUE_A))
    standin.add_log(error_log("a-new", NOW - timedelta(minutes=3), issue_id=ISSUE_A))
    critical = error_log("b-1", NOW - timedelta(minutes=7), issue_id=ISSUE_B)
    critical["attributes"]["status"] = "critical"
    standin.add_log(critical)

    batch = make_source(logs_query="status:critical AND @error.stack:*").poll(None)

    assert [e.event_id for e in batch.events].count("b-1") == 1
    from_issue = [e for e in batch.events if e.issue_id == ISSUE_A]
    assert len(from_issue) == 1 and from_issue[0].frames
    assert from_issue[0].timestamp == NOW - timedelta(minutes=3)
    assert all(e.issue_id in (ISSUE_A, ISSUE_B) for e in batch.events)
    sample_searches = [b for b in log_searches(standin) if "@issue.id" in b["filter"]["query"]]
    # One search for the issues the batch does not cover; ISSUE_B's log was already there.
    assert [b["filter"]["query"] for b in sample_searches] == [f"@issue.id:({ISSUE_A})"]
    assert sample_searches[0]["sort"] == "-timestamp"


def test_cursor_resumes_without_repeating_or_missing(
    standin: DatadogStandIn, make_source: Callable[..., DatadogSource], clock: Clock
) -> None:
    source = make_source()
    first = source.poll(None)
    assert [e.event_id for e in first.events] == [RECORDED_LOG_ID]
    assert parse_cursor(first.cursor) == datetime(2025, 6, 27, 6, 48, 32, 867000, tzinfo=UTC)

    again = source.poll(first.cursor)
    assert again.events == []
    assert again.cursor is not None and again.cursor >= str(first.cursor)  # ISO, UTC: ordered

    # A log stamped exactly at the cursor was already covered; a later one is new.
    standin.add_log(error_log("same-instant", datetime(2025, 6, 27, 6, 48, 32, 867000, tzinfo=UTC)))
    standin.add_log(error_log("newer", NOW + timedelta(minutes=1)))
    clock.now = NOW + timedelta(minutes=2)
    later = source.poll(again.cursor)
    assert [e.event_id for e in later.events] == ["newer"]
    assert later.cursor == "2025-06-27T07:01:00.000000Z"


def test_issue_sampled_at_the_cursor_is_not_returned_again(
    standin: DatadogStandIn, make_source: Callable[..., DatadogSource]
) -> None:
    seen_at = NOW - timedelta(minutes=9)
    standin.add_issue(issue_resource(ISSUE_A, service=SERVICE, first_seen=seen_at,
                                     last_seen=seen_at))
    standin.add_log(error_log("a-only", seen_at, issue_id=ISSUE_A))
    source = make_source(logs_query="status:critical")

    first = source.poll(None)
    assert [(e.event_id, e.issue_id) for e in first.events] == [("a-only", ISSUE_A)]
    again = source.poll(first.cursor)

    assert again.events == []
    assert again.cursor == first.cursor


def test_unfinished_window_resumes_after_the_last_complete_timestamp(
    standin: DatadogStandIn, make_source: Callable[..., DatadogSource]
) -> None:
    # burst-1 and burst-2 share a millisecond that the first page boundary cuts through.
    for name, minutes in (("burst-1", 4), ("burst-2", 4), ("burst-3", 3), ("burst-4", 2)):
        standin.add_log(error_log(name, NOW - timedelta(minutes=minutes)))
    source = make_source(page_limit=2, max_pages=1)

    batches: list[list[str]] = []
    cursor = None
    for _ in range(5):
        batch = source.poll(cursor)
        batches.append([e.event_id for e in batch.events])
        cursor = batch.cursor

    # A full last page may continue past its newest millisecond, so that one waits a poll.
    expected = [[RECORDED_LOG_ID], ["burst-1", "burst-2"], ["burst-3"], ["burst-4"], []]
    assert batches == expected


def test_short_rate_limit_is_waited_out(standin: DatadogStandIn,
                                        make_source: Callable[..., DatadogSource]) -> None:
    waits: list[float] = []
    standin.rate_limit(reset=2)

    batch = make_source(sleep=waits.append).poll(None)

    assert waits == [2.0]
    assert [e.event_id for e in batch.events] == [RECORDED_LOG_ID]


def test_long_rate_limit_raises_transient_with_reset(
    standin: DatadogStandIn, make_source: Callable[..., DatadogSource]
) -> None:
    waits: list[float] = []
    standin.rate_limit(reset=57, name="logs_list")

    with pytest.raises(TransientError) as caught:
        make_source(sleep=waits.append).poll(None)

    assert caught.value.retry_after == 57
    assert "logs_list" in str(caught.value)
    assert waits == []


def test_wrong_key_is_permanent(make_source: Callable[..., DatadogSource]) -> None:
    with pytest.raises(PermanentError, match="403.*Forbidden"):
        make_source(app_key="not-the-key").poll(None)


def test_server_error_is_transient(standin: DatadogStandIn,
                                   make_source: Callable[..., DatadogSource]) -> None:
    standin.fail_next(Reply(500, {"errors": ["Internal Server Error"]}))

    with pytest.raises(TransientError, match="500.*Internal Server Error"):
        make_source().poll(None)


def test_unreachable_host_is_transient(make_source: Callable[..., DatadogSource]) -> None:
    with pytest.raises(TransientError):
        make_source(host="http://127.0.0.1:9").poll(None)


def test_latest_event_samples_the_newest_log(standin: DatadogStandIn,
                                             make_source: Callable[..., DatadogSource]) -> None:
    standin.add_issue(issue_resource(ISSUE_A, service=SERVICE, first_seen=NOW - timedelta(days=3),
                                     last_seen=NOW - timedelta(hours=5)))
    standin.add_log(error_log("older", NOW - timedelta(days=2), issue_id=ISSUE_A))
    standin.add_log(error_log("newest", NOW - timedelta(hours=5), issue_id=ISSUE_A,
                              message="boom"))

    event = make_source().latest_event(ISSUE_A)

    assert event is not None
    assert event.issue_id == ISSUE_A and event.frames
    assert event.timestamp == NOW - timedelta(hours=5)
    assert event.primary is not None and event.primary.value == "boom"


def test_latest_event_is_none_without_logs_or_issue(
    standin: DatadogStandIn, make_source: Callable[..., DatadogSource]
) -> None:
    source = make_source()
    assert source.latest_event("5f8ebd5c-6dd9-11f0-8a28-da7ad0900002") is None  # RUM, no logs
    assert source.latest_event(ISSUE_B) is None  # unknown issue
    with pytest.raises(PermanentError):
        source.latest_event("x OR @evil:*")


def test_configuration_targets_the_site_unless_a_host_is_given() -> None:
    def settings(**values: str) -> DatadogSettings:
        return DatadogSettings.model_validate({"api_key": "a", "app_key": "b", **values})

    assert build_configuration(settings(site="datadoghq.eu")).host == "https://api.datadoghq.eu"
    assert build_configuration(settings(host="http://127.0.0.1:1")).host == "http://127.0.0.1:1"
    with pytest.raises(PermanentError, match="site"):
        build_configuration(settings(site="datadoghq.example"))
    with pytest.raises(PermanentError, match="app_key"):
        build_configuration(DatadogSettings(api_key=SecretStr("a")))


def test_quiet_window_moves_the_cursor_up_to_the_look_back(
    make_source: Callable[..., DatadogSource]
) -> None:
    batch = make_source(services=["quiet-service"]).poll("2025-06-26T00:00:00Z")

    assert batch.events == []
    assert batch.cursor == "2025-06-27T06:00:00.000000Z"  # NOW - lookback_minutes


def test_the_window_ends_settle_seconds_ago_so_late_indexed_logs_are_not_skipped(
    make_source: Callable[..., DatadogSource]
) -> None:
    settled = make_source(settle_seconds=10**9).poll(None)
    assert settled.events == []
    assert make_source().poll(None).events
