"""The scheduler: one firing per slot across schedulers, and one leader across processes (Redis)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta

import dramatiq
import pytest
import redis

from tests.support import make_app
from worker.scheduler import LOCK_NAME, RedisLeader, Scheduler

REDIS_URL = "redis://127.0.0.1:6379/0"
START = datetime(2025, 6, 27, 6, 0, tzinfo=UTC)  # on a minute boundary


class Follower:
    """A leader that never holds the lock."""

    held = False


class Counter:
    """A job's send function that counts its calls."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self) -> None:
        self.calls += 1


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.close()


@pytest.fixture
def second_app(tmp_path):
    """Another process's wiring on the same database."""
    app = make_app(tmp_path)
    yield app
    app.close()


def wait_until(condition: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def queued(app) -> list[dramatiq.Message]:
    queue = app.broker.queues["default"]
    return [dramatiq.Message.decode(data) for data in list(queue.queue)]


def test_a_slot_fires_once_even_with_two_schedulers_on_the_same_store(app, second_app):
    first, second = Scheduler(app), Scheduler(second_app)
    send = Counter()

    fired = [first.tick("reconcile", 60, send, now=START),
             second.tick("reconcile", 60, send, now=START + timedelta(seconds=5)),
             first.tick("reconcile", 60, send, now=START + timedelta(seconds=59))]

    assert fired == [True, False, False]
    assert send.calls == 1


def test_the_next_slot_fires_again(app, second_app):
    send = Counter()
    Scheduler(app).tick("reconcile", 60, send, now=START)

    assert Scheduler(second_app).tick("reconcile", 60, send, now=START + timedelta(seconds=60))
    assert send.calls == 2


def test_slots_are_per_job(app):
    scheduler = Scheduler(app)
    send = Counter()

    assert scheduler.tick("poll:sentry", 60, send, now=START)
    assert scheduler.tick("poll:datadog", 60, send, now=START)
    assert send.calls == 2


def test_a_scheduler_that_does_not_lead_never_fires_and_claims_nothing(app, second_app):
    send = Counter()

    assert not Scheduler(app, leader=Follower()).tick("reconcile", 60, send, now=START)

    assert send.calls == 0
    # The slot is still free for the leader.
    assert Scheduler(second_app).tick("reconcile", 60, send, now=START)


def test_jobs_are_reconcile_alone_without_pollable_sources(app):
    jobs = Scheduler(app).jobs()

    assert list(jobs) == ["reconcile", "retention:purge"]
    assert jobs["reconcile"][0] == app.settings.reconcile_interval_seconds


def test_jobs_poll_each_configured_source(tmp_path):
    app = make_app(tmp_path, settings={
        "sentry": {"org": "acme", "token": "sentry-token"},
        "datadog": {"api_key": "dd-api", "app_key": "dd-app"},
        "poll_interval_seconds": 120,
    })
    try:
        jobs = Scheduler(app).jobs()
        assert sorted(jobs) == ["poll:datadog", "poll:sentry", "reconcile", "retention:purge"]
        assert jobs["poll:sentry"][0] == jobs["poll:datadog"][0] == 120

        jobs["poll:sentry"][1]()
        jobs["poll:datadog"][1]()

        messages = queued(app)
        assert [(m.actor_name, m.args) for m in messages] == [
            ("poll_source", ("sentry",)), ("poll_source", ("datadog",))]
    finally:
        app.close()


def test_only_a_source_with_enough_configuration_is_polled(tmp_path):
    # A Sentry org without a token cannot be polled.
    app = make_app(tmp_path, settings={"sentry": {"org": "acme"},
                                       "datadog": {"api_key": "dd-api", "app_key": "dd-app"}})
    try:
        assert sorted(Scheduler(app).jobs()) == ["poll:datadog", "reconcile", "retention:purge"]
    finally:
        app.close()


def test_started_scheduler_fires_its_jobs_right_away(tmp_path):
    app = make_app(tmp_path, settings={"sentry": {"org": "acme", "token": "sentry-token"}})
    scheduler = Scheduler(app)
    scheduler.start()
    try:
        assert wait_until(lambda: len(queued(app)) == 1, timeout=10)
        assert [(m.actor_name, m.args) for m in queued(app)] == [("poll_source", ("sentry",))]
    finally:
        scheduler.stop()
        app.close()


# Redis leadership ----------------------------------------------------------------------------


@pytest.fixture
def lock_name() -> Iterator[str]:
    name = f"{LOCK_NAME}:test:{uuid.uuid4().hex}"
    yield name
    client = redis.Redis.from_url(REDIS_URL)
    client.delete(name)
    client.close()


@pytest.fixture
def leaders(lock_name) -> Iterator[Callable[[], RedisLeader]]:
    """Make started leaders on one lock; every one is stopped at the end."""
    made: list[RedisLeader] = []

    def make() -> RedisLeader:
        leader = RedisLeader(REDIS_URL, ttl_seconds=1.0, name=lock_name)
        made.append(leader)
        leader.start()
        return leader

    yield make
    for leader in made:
        leader.stop()


@pytest.mark.redis
def test_of_two_leaders_exactly_one_holds_the_lock(leaders):
    first, second = leaders(), leaders()

    assert [first.held, second.held] == [True, False]


@pytest.mark.redis
def test_the_lock_is_renewed_while_the_leader_lives(leaders, lock_name):
    first, second = leaders(), leaders()
    client = redis.Redis.from_url(REDIS_URL)
    try:
        # Watch the lock's remaining time fall and jump back up, four times: without renewal
        # a 1 s lock would have expired before the fourth jump.
        for _ in range(4):
            assert wait_until(lambda: 0 < client.pttl(lock_name) < 800, timeout=5)
            assert wait_until(lambda: client.pttl(lock_name) > 900, timeout=5)
        assert [first.held, second.held] == [True, False]
    finally:
        client.close()


@pytest.mark.redis
def test_when_the_leader_stops_the_other_takes_over(leaders):
    first, second = leaders(), leaders()
    assert first.held

    first.stop()

    assert not first.held
    assert wait_until(lambda: second.held, timeout=5)


@pytest.mark.redis
def test_a_dead_leaders_lock_expires_and_a_live_one_takes_over(leaders, lock_name):
    client = redis.Redis.from_url(REDIS_URL)
    try:
        # A leader that died: it took the lock and never renews or releases it.
        assert client.lock(lock_name, timeout=1.0).acquire(blocking=False)
        survivor = leaders()
        assert not survivor.held

        assert wait_until(lambda: survivor.held, timeout=5)
    finally:
        client.close()


@pytest.mark.redis
def test_only_the_leading_scheduler_fires(app, second_app, leaders):
    leading, following = Scheduler(app, leaders()), Scheduler(second_app, leaders())
    send = Counter()

    assert not following.tick("reconcile", 60, send, now=START)
    assert leading.tick("reconcile", 60, send, now=START)
    assert not following.tick("reconcile", 60, send, now=START + timedelta(seconds=60))
    assert send.calls == 1
