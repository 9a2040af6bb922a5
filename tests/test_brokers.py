"""RabbitMQ as the alternative broker: chosen by the URL's scheme, with what suture relies on
from Redis — retries through the delay queue, dead letters, queue readings for `/metrics`,
liveness for `suture doctor` and `suture health`, and ticks that fire once without a leader
lock — each checked against the real server in a virtual host of the test's own."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import dramatiq
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker

from tests.brokers import rabbitmq_vhost
from tests.support import make_app, make_settings
from tests.test_doctor import probes
from tests.test_metrics import scrape, value
from worker.broker import make_broker
from worker.brokers import broker_kind, leader_for, ping
from worker.doctor import Status
from worker.doctor.checks import check_broker
from worker.health import broker_check
from worker.metrics import BrokerCollector
from worker.scheduler import RedisLeader, Scheduler
from worker.settings import ConfigError

DOWN = "amqp://guest:guest@127.0.0.1:9/%2F"


@pytest.fixture
def amqp_url() -> Iterator[str]:
    with rabbitmq_vhost() as url:
        yield url


@pytest.fixture
def rabbit(tmp_path, amqp_url) -> Iterator[dramatiq.Broker]:
    broker = make_broker(make_settings(tmp_path, broker_url=amqp_url))
    yield broker
    broker.close()


def test_the_scheme_chooses_the_broker(tmp_path):
    assert broker_kind(None) == "memory"
    assert broker_kind("redis://127.0.0.1:6379/0") == broker_kind("rediss://h/0") == "redis"
    assert broker_kind("amqp://h:5672/v") == broker_kind("amqps://h/v") == "rabbitmq"
    assert isinstance(make_broker(make_settings(tmp_path, broker_url=DOWN)), RabbitmqBroker)
    assert isinstance(make_broker(make_settings(tmp_path, broker_url="redis://127.0.0.1:9/0")),
                      RedisBroker)


def test_an_unknown_scheme_and_a_redis_namespace_on_rabbitmq_are_refused(tmp_path):
    with pytest.raises(ConfigError, match=r"http:// is not a broker.*amqp://"):
        make_settings(tmp_path, broker_url="http://127.0.0.1:5672/")
    with pytest.raises(ConfigError, match=r"namespace \(mine\) is Redis-only.*virtual host"):
        make_settings(tmp_path, broker_url=DOWN, broker={"namespace": "mine"})


def test_on_rabbitmq_the_scheduler_has_no_lock_and_each_tick_fires_once(tmp_path):
    assert leader_for(make_settings(tmp_path, broker_url=DOWN)) is None
    redis_leader = leader_for(make_settings(tmp_path, broker_url="redis://127.0.0.1:9/0"))
    assert isinstance(redis_leader, RedisLeader)
    # Two scheduler processes with no leader between them share one store: the slot claim
    # lets exactly one of them send each tick.
    app = make_app(tmp_path)
    sent: list[str] = []
    first, second = Scheduler(app, None), Scheduler(app, None)
    moment = datetime(2026, 1, 5, 12, 0, 30, tzinfo=UTC)
    fired = [ticker.tick("poll:sentry", 60, lambda: sent.append("poll"), now=moment)
             for ticker in (first, second, first)]
    assert fired == [True, False, False] and sent == ["poll"]
    app.close()


@pytest.mark.rabbitmq
def test_doctor_and_health_see_rabbitmq_answer_or_not(tmp_path, amqp_url):
    assert ping(amqp_url).startswith("rabbitmq ")
    ok = check_broker(make_settings(tmp_path, broker_url=amqp_url), probes())
    assert ok.status is Status.OK
    down = check_broker(make_settings(tmp_path, broker_url=DOWN), probes())
    assert down.status is Status.ERROR and "127.0.0.1:9" in down.found
    assert "guest:guest" not in down.found
    assert broker_check(amqp_url).ok
    unhealthy = broker_check(DOWN)
    assert not unhealthy.ok and "no AMQP connection to 127.0.0.1:9" in unhealthy.detail


def run_worker(broker: dramatiq.Broker, until: threading.Event, seconds: float = 30) -> None:
    worker = dramatiq.Worker(broker, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        assert until.wait(seconds), "the worker did not get there in time"
    finally:
        worker.stop()


@pytest.mark.rabbitmq
def test_a_failed_message_is_retried_through_the_delay_queue(rabbit):
    calls: list[int] = []
    done = threading.Event()

    @dramatiq.actor(broker=rabbit, actor_name=f"flaky_{uuid.uuid4().hex[:6]}",
                    max_retries=3, min_backoff=200, max_backoff=400)
    def flaky(n: int) -> None:
        calls.append(n)
        if len(calls) == 1:
            raise RuntimeError("first try fails")
        done.set()

    flaky.send(7)
    run_worker(rabbit, done)
    assert calls == [7, 7]


@pytest.mark.rabbitmq
def test_waiting_delayed_and_dead_messages_are_read_for_metrics(rabbit):
    dead = threading.Event()

    @dramatiq.actor(broker=rabbit, actor_name=f"doomed_{uuid.uuid4().hex[:6]}", max_retries=0,
                    queue_name="doomed")
    def doomed() -> None:
        dead.set()
        raise RuntimeError("always fails")

    @dramatiq.actor(broker=rabbit, actor_name=f"idle_{uuid.uuid4().hex[:6]}",
                    queue_name="idle")
    def idle() -> None:
        pass

    doomed.send()
    run_worker_on(rabbit, "doomed", dead)
    idle.send()
    idle.send()
    idle.send_with_options(delay=600_000)

    samples = scrape(BrokerCollector(rabbit))

    assert value(samples, "suture_broker_up") == 1
    assert value(samples, "suture_queue_messages", queue="idle") == 2
    assert value(samples, "suture_queue_messages", queue="idle.DQ") == 1
    assert value(samples, "suture_queue_dead_messages", queue="idle") == 0
    assert value(samples, "suture_queue_messages", queue="doomed") == 0
    assert value(samples, "suture_queue_dead_messages", queue="doomed") == 1


def run_worker_on(broker: dramatiq.Broker, queue: str, until: threading.Event) -> None:
    """Consume only `queue` until `until` is set and the message is settled."""
    worker = dramatiq.Worker(broker, queues={queue}, worker_threads=1, worker_timeout=100)
    worker.start()
    try:
        assert until.wait(30), "the worker did not get there in time"
    finally:
        worker.stop()  # stop() waits for the message in hand to be acknowledged or rejected


@pytest.mark.rabbitmq
def test_an_unreachable_rabbitmq_is_reported_down(tmp_path):
    broker = make_broker(make_settings(tmp_path, broker_url=DOWN))
    broker.declare_queue("default")
    samples = scrape(BrokerCollector(broker))
    assert value(samples, "suture_broker_up") == 0
