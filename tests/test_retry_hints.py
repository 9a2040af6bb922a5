"""A service's `Retry-After` reaches Dramatiq's retry: the retry is scheduled no sooner than asked.

End to end: a run is published to the GitHub stand-in, which answers GitHub's 429 with
`Retry-After`; the real `GitHubTickets` adapter raises `TransientError(retry_after=...)`, the real
actor fails, and Dramatiq's Retries middleware (in-memory broker, and Redis) schedules the retry.
A recording middleware reads the retry's `eta` as the broker stores it, so the 7-second case needs
no 7-second sleep; a short hint is then followed through to the filed ticket.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from dramatiq.middleware import Middleware

from integrations.github import GitHubTickets
from integrations.standins.base import recorded
from integrations.standins.github import GitHubStandIn
from tests.support import compact, make_app
from worker.actors import MAX_BACKOFF_MS, MIN_BACKOFF_MS
from worker.app import App
from worker.models import RunState
from worker.ports import TransientError
from worker.retry_hints import retry_delay_ms
from worker.settings import GitHubSettings

TOKEN = "retry-token"
REDIS_URL = "redis://127.0.0.1:6379/0"
SHOP = [{"name": "shop", "sentry_project": "front-end", "datadog_service": "example-python-app",
         "repository": ".", "slug": "acme/shop"}]


def now_ms() -> int:
    return int(time.time() * 1000)


class Recorder(Middleware):
    """Keeps, per actor, when a message failed, what retry was enqueued and when one started."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.failed: list[tuple[str, int, BaseException]] = []
        self.retries: list[tuple[str, int | None, int]] = []  # actor, delay, eta
        self.started: list[tuple[str, int, int]] = []  # actor, when, retries so far

    def before_process_message(self, broker: Any, message: Any) -> None:
        with self.lock:
            self.started.append((message.actor_name, now_ms(),
                                 message.options.get("retries", 0)))

    # Added last, so Dramatiq calls this before Retries' own `after_process_message`: the time
    # kept here is earlier than the moment the retry is enqueued.
    def after_process_message(self, broker: Any, message: Any, *, result: Any = None,
                              exception: BaseException | None = None) -> None:
        if exception is not None:
            with self.lock:
                self.failed.append((message.actor_name, now_ms(), exception))

    def before_enqueue(self, broker: Any, message: Any, delay: int | None) -> None:
        # The broker has already copied the message onto the delay queue with its `eta`; the
        # same message comes here again without a delay when it is due.
        if delay is not None and message.options.get("retries"):
            with self.lock:
                self.retries.append((message.actor_name, delay, message.options["eta"]))


def wait_for(condition: Callable[[], object], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.02)


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(token=TOKEN, repos=["acme/shop"]) as standin:
        yield standin  # type: ignore[misc]


@pytest.fixture(params=["stub", pytest.param("redis", marks=pytest.mark.redis)])
def broker_settings(request: pytest.FixtureRequest) -> Iterator[dict[str, Any]]:
    """No broker settings (the in-memory broker), or Redis under a namespace of its own."""
    if request.param == "stub":
        yield {}
        return
    namespace = f"suture-test-{uuid.uuid4().hex[:8]}"
    yield {"broker_url": REDIS_URL, "broker": {"namespace": namespace}}
    client = redis.Redis.from_url(REDIS_URL)
    try:
        for key in client.scan_iter(f"{namespace}*"):
            client.delete(key)
    finally:
        client.close()


def publishing_app(tmp_path: Path, github: GitHubStandIn,
                   broker_settings: dict[str, Any]) -> tuple[App, Recorder]:
    forge = GitHubTickets(GitHubSettings(base_url=github.url, token=TOKEN),
                          seconds_between_requests=0, seconds_between_writes=0)
    # The fix loop is off: the run goes from correlation straight to publishing.
    app = make_app(tmp_path, forge=forge, settings={"services": SHOP, "fix": {"enabled": False},
                                                    **broker_settings})
    recorder = Recorder()
    app.broker.add_middleware(recorder)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    delivery_id, _ = app.store.add_delivery("sentry", "event_alert", compact(payload), payload)
    app.actors.ingest_delivery.send(delivery_id)
    return app, recorder


def test_a_429_with_retry_after_7_schedules_the_retry_7_s_after_the_failure(
        tmp_path: Path, github: GitHubStandIn, broker_settings: dict[str, Any]) -> None:
    # Nothing reaches GitHub before the publish stage: its first request gets the 429.
    github.fail_secondary_rate_limit(retry_after=7, status=429)
    app, recorder = publishing_app(tmp_path, github, broker_settings)
    worker = app.worker(threads=2)
    worker.start()
    try:
        wait_for(lambda: recorder.retries)
    finally:
        worker.stop()
    [(actor, failed_at, error)] = recorder.failed
    [(retried, delay, eta)] = recorder.retries
    assert actor == retried == "publish_run"
    # The real adapter read the hint (Dramatiq may see it wrapped, with the hint as its cause).
    transient = error if isinstance(error, TransientError) else error.__cause__
    assert isinstance(transient, TransientError) and transient.retry_after == 7
    assert delay is not None and delay >= 7_000
    # The usual first backoff is one to two seconds: only the hint puts the retry this late.
    assert eta - failed_at >= 7_000
    assert eta - failed_at <= MAX_BACKOFF_MS + 1_000
    [run] = app.store.list_runs()
    assert run.state == RunState.PUBLISHING  # waiting for the retry, not failed
    assert github.issues("acme", "shop") == []
    app.close()


def test_the_retry_runs_no_sooner_than_asked_and_files_the_ticket(
        tmp_path: Path, github: GitHubStandIn) -> None:
    github.fail_secondary_rate_limit(retry_after=3, status=429)
    # The failed attempt's publication lease would defer the retry for its whole length (three
    # minutes by default); a short one lets the hint alone decide when the ticket is filed.
    app, recorder = publishing_app(tmp_path, github, {"publish_lease_seconds": 0.5})
    worker = app.worker(threads=2)
    worker.start()
    try:
        wait_for(lambda: app.store.list_runs() and app.store.list_runs()[0].state.terminal)
    finally:
        worker.stop()
    [run] = app.store.list_runs()
    assert run.state == RunState.TICKETED, run.reason
    assert len(github.issues("acme", "shop")) == 1
    [(_, failed_at, _)] = recorder.failed
    [retry_started] = [when for actor, when, retries in recorder.started
                       if actor == "publish_run" and retries == 1]
    assert retry_started - failed_at >= 3_000
    app.close()


def test_without_a_hint_the_usual_backoff_applies() -> None:
    assert MIN_BACKOFF_MS <= retry_delay_ms(0, 0.0, min_backoff_ms=MIN_BACKOFF_MS,
                                            max_backoff_ms=MAX_BACKOFF_MS) <= 2 * MIN_BACKOFF_MS


@pytest.mark.parametrize("retries", [0, 3, 12])
def test_the_delay_is_the_longer_of_hint_and_backoff_within_the_cap(retries: int) -> None:
    for hint in (0.4, 7, 59.9991, 10_000):
        delay = retry_delay_ms(retries, hint, min_backoff_ms=MIN_BACKOFF_MS,
                               max_backoff_ms=MAX_BACKOFF_MS)
        assert delay >= min(hint * 1000, MAX_BACKOFF_MS)
        assert delay <= MAX_BACKOFF_MS
        assert delay >= min(MIN_BACKOFF_MS * 2 ** retries, MAX_BACKOFF_MS // 2)
