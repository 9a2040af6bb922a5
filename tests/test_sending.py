"""`send_many`: a batch of messages in one round trip on Redis, one by one elsewhere, each
consumed once by a real Dramatiq worker with the middleware hearing of every message."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import dramatiq
import pytest
import redis
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import Middleware

from tests.brokers import REDIS_URL, rabbitmq_vhost
from worker.sending import send_many


class Heard(Middleware):
    """Counts the enqueue hooks the broker calls."""

    def __init__(self) -> None:
        self.before: list[str] = []
        self.after: list[str] = []

    def before_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        self.before.append(message.message_id)

    def after_enqueue(self, broker: dramatiq.Broker, message: Any, delay: Any) -> None:
        self.after.append(message.message_id)


@contextmanager
def _broker(kind: str) -> Iterator[dramatiq.Broker]:
    if kind == "rabbitmq":
        with rabbitmq_vhost() as url:
            broker: dramatiq.Broker = RabbitmqBroker(url=url)
            yield broker
            broker.close()
        return
    namespace = f"suture-test-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(url=REDIS_URL, namespace=namespace)
    try:
        yield broker
    finally:
        broker.close()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)


@pytest.mark.redis
@pytest.mark.parametrize("kind", ["redis", pytest.param("rabbitmq", marks=pytest.mark.rabbitmq)])
def test_every_message_of_a_batch_is_consumed_once(kind):
    with _broker(kind) as broker:
        heard = Heard()
        broker.add_middleware(heard)
        seen: list[tuple[int, str]] = []
        done = threading.Event()

        @dramatiq.actor(broker=broker, queue_name="batch", max_retries=0)
        def record(number: int, word: str) -> None:
            seen.append((number, word))
            if len(seen) == 120:
                done.set()

        calls = [(number, f"w{number}") for number in range(120)]
        send_many(record, calls[:1])  # one alone takes Dramatiq's own path
        send_many(record, calls[1:70])
        send_many(record, calls[70:])
        send_many(record, [])
        worker = dramatiq.Worker(broker, worker_threads=4)
        worker.start()
        try:
            assert done.wait(30), f"consumed {len(seen)} of 120"
            worker.join()
        finally:
            worker.stop()
        assert sorted(seen) == sorted(calls)  # each once
        assert len(heard.before) == len(set(heard.before)) == 120
        assert heard.after == heard.before


@pytest.mark.redis
def test_a_batch_is_one_round_trip_on_redis(monkeypatch):
    with _broker("redis") as broker:
        @dramatiq.actor(broker=broker, queue_name="batch")
        def record(number: int) -> None:
            """Never run here."""

        record.send(-1)  # the script is loaded and the connection made
        writes: list[int] = []
        send = redis.connection.AbstractConnection.send_packed_command

        def counted(self: Any, command: Any, check_health: bool = True) -> None:
            writes.append(1)
            send(self, command, check_health)

        monkeypatch.setattr(redis.connection.AbstractConnection, "send_packed_command", counted)
        send_many(record, [(number,) for number in range(50)])
        assert len(writes) == 1  # the 50 together
        for number in range(3):
            record.send(100 + number)
        assert len(writes) == 4  # as against one per message through Actor.send
        assert broker.client.hlen(f"{broker.namespace}:batch.msgs") == 54


@pytest.mark.redis
def test_a_batch_reloads_the_script_when_redis_has_forgotten_it():
    with _broker("redis") as broker:
        @dramatiq.actor(broker=broker, queue_name="batch")
        def record(number: int) -> None:
            """Never run here."""

        record.send(-1)
        broker.client.script_flush()  # as after a restart of Redis
        send_many(record, [(number,) for number in range(10)])
        assert broker.client.hlen(f"{broker.namespace}:batch.msgs") == 11  # none twice
