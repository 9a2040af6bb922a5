"""What suture needs from a broker beyond sending and consuming, for Redis and for RabbitMQ.

The broker is chosen by `broker_url`'s scheme (`redis://`, `rediss://`, `unix://` for Redis;
`amqp://`, `amqps://` for RabbitMQ; unset: the in-memory broker of `suture run`). Dramatiq gives
both retries, delayed messages (a `<queue>.DQ` queue) and dead letters (`<queue>.XQ`); what it
does not give the same way on both is here:

- liveness (`ping`) for `suture doctor` and `suture health`;
- queue readings (`queue_counts`) for `/metrics`. Redis counts every message not yet finished
  (waiting, prefetched or running). RabbitMQ's passive queue declare counts only the messages
  waiting (ready); those delivered to a worker and not yet acknowledged are not in it.
- scheduler leadership (`leader_for`): a Redis lock on Redis. With RabbitMQ there is no lock:
  every scheduler process ticks and the store's `slots` table, one row per (job, interval) that
  only one claimer can insert, makes each tick fire once. That table is already what keeps a
  tick from firing twice when a Redis lock is lost in a failover, so it is the guarantee on
  both; the lock only spares the losers a database round trip per tick.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker

if TYPE_CHECKING:
    from worker.scheduler import RedisLeader
    from worker.settings import Settings

BrokerKind = Literal["redis", "rabbitmq", "memory"]
SCHEMES: dict[str, BrokerKind] = {"redis": "redis", "rediss": "redis", "unix": "redis",
                                  "amqp": "rabbitmq", "amqps": "rabbitmq"}
CONNECT_SECONDS = 5.0


def broker_kind(url: str | None) -> BrokerKind:
    """Which broker `url` names; ValueError saying which schemes exist when it names none."""
    if not url:
        return "memory"
    scheme = urlsplit(url).scheme.lower()
    if scheme not in SCHEMES:
        known = ", ".join(f"{name}://" for name in SCHEMES)
        raise ValueError(f"broker_url scheme {scheme + '://' if scheme else '(none)'} is not a "
                         f"broker suture speaks; use one of {known}")
    return SCHEMES[scheme]


def ping(url: str) -> str:
    """Connect to the broker at `url` and say what answered; raises when it does not."""
    if broker_kind(url) == "rabbitmq":
        connection = _amqp_connect(url)
        try:
            version = connection._impl.server_properties.get("version", b"?")  # noqa: SLF001
        finally:
            connection.close()
        text = version.decode() if isinstance(version, bytes) else str(version)
        return f"rabbitmq {text} answers"
    client = redis.Redis.from_url(url, socket_connect_timeout=CONNECT_SECONDS,
                                  socket_timeout=CONNECT_SECONDS)
    try:
        client.ping()
    finally:
        client.close()
    return "redis answers"


def queue_counts(broker: dramatiq.Broker, queues: Iterable[str]) -> dict[str, tuple[int, int]]:
    """Queue name → (messages not yet finished, dead-lettered messages), for each of `queues`
    and its delay queue `<queue>.DQ` (whose dead count is 0: its dead letters go to the
    queue's)."""
    names = sorted(queues)
    if isinstance(broker, RedisBroker):
        return {queue: (int(broker.client.hlen(f"{broker.namespace}:{queue}.msgs")),
                        int(broker.client.hlen(f"{broker.namespace}:{queue}.XQ.msgs"))
                        if not queue.endswith(".DQ") else 0)
                for queue in _with_delayed(names)}
    if isinstance(broker, StubBroker):
        found: dict[str, tuple[int, int]] = {}
        for queue in _with_delayed(names):
            stub = broker.queues.get(queue)
            dead = broker.dead_letters_by_queue.get(queue, [])
            found[queue] = (stub.unfinished_tasks if stub is not None else 0, len(dead))
        return found
    return _rabbitmq_counts(broker, names)


def leader_for(settings: Settings) -> RedisLeader | None:
    """The scheduler's leader election: a Redis lock on Redis, none on RabbitMQ (the slots
    table makes each tick fire once, see the module's docstring) or in memory."""
    from worker.scheduler import RedisLeader

    if broker_kind(settings.broker_url) == "redis" and settings.broker_url:
        return RedisLeader(settings.broker_url)
    return None


def _with_delayed(queues: list[str]) -> list[str]:
    return [name for queue in queues for name in (queue, f"{queue}.DQ")]


def _rabbitmq_counts(broker: dramatiq.Broker, queues: list[str]) -> dict[str, tuple[int, int]]:
    """Ready-message counts by passive declares on a connection of its own (a declare of a
    queue nobody has created yet closes its channel with 404: that queue holds nothing)."""
    import pika

    parameters = getattr(broker, "parameters", None)
    if isinstance(parameters, list):
        parameters = parameters[0]
    connection = pika.BlockingConnection(_bounded(parameters))
    try:
        def ready(queue: str) -> int:
            channel = connection.channel()
            try:
                frame = channel.queue_declare(queue=queue, passive=True)
            except pika.exceptions.ChannelClosedByBroker as exc:
                if exc.reply_code == 404:
                    return 0
                raise
            count = int(frame.method.message_count)
            channel.close()
            return count

        found: dict[str, tuple[int, int]] = {}
        for queue in queues:
            found[queue] = (ready(queue), ready(f"{queue}.XQ"))
            found[f"{queue}.DQ"] = (ready(f"{queue}.DQ"), 0)
        return found
    finally:
        connection.close()


def _amqp_connect(url: str):  # noqa: ANN202 - pika is imported lazily, so is its type
    """A connection to RabbitMQ; ConnectionError naming the server (never the password) when
    there is none (pika's own errors often carry no message)."""
    import pika

    parameters = pika.URLParameters(url)
    try:
        return pika.BlockingConnection(_bounded(parameters))
    except pika.exceptions.AMQPError as exc:
        reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
        raise ConnectionError(f"no AMQP connection to {parameters.host}:{parameters.port} "
                              f"(vhost {parameters.virtual_host}): {reason}") from None


def _bounded(parameters):  # noqa: ANN001, ANN202
    """A copy of `parameters` (pika's) with one connection attempt and bounded waits, so a
    probe or a scrape answers within seconds when the server is down."""
    bounded = copy.copy(parameters)
    bounded.connection_attempts = 1
    bounded.socket_timeout = CONNECT_SECONDS
    bounded.stack_timeout = CONNECT_SECONDS
    bounded.blocked_connection_timeout = CONNECT_SECONDS
    return bounded
