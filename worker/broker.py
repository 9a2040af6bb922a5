"""The Dramatiq broker: Redis (default) or RabbitMQ by the URL's scheme, an in-process in-memory
broker when embedded.

Redis crash recovery is tuned here on purpose: with Dramatiq's defaults a message held by a
`kill -9`'d worker may not come back for many minutes; a short heartbeat timeout and a high
maintenance chance bring it back in seconds. RabbitMQ needs no such tuning: a killed worker's
connection closes and the server puts its unacknowledged messages back on the queue at once.
Either way the store's reconciler is the second net. What differs between the two brokers
(queue readings, liveness, leadership) is in `worker.brokers`.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from worker.brokers import broker_kind
from worker.settings import Settings


def make_broker(settings: Settings) -> dramatiq.Broker:
    """A Redis or RabbitMQ broker when `broker_url` is set (by its scheme), else the in-memory
    one."""
    kind = broker_kind(settings.broker_url)
    broker: dramatiq.Broker
    if kind == "rabbitmq":
        # Imported here: pika is needed only by deployments that chose RabbitMQ.
        from dramatiq.brokers.rabbitmq import RabbitmqBroker

        # Publisher confirms: a send returns only once RabbitMQ has taken the message, so a
        # webhook answered 202 is not lost to a broker restart a moment later.
        broker = RabbitmqBroker(url=settings.broker_url, confirm_delivery=True)
    elif kind == "redis":
        broker = RedisBroker(
            url=settings.broker_url,
            namespace=settings.broker.namespace,
            heartbeat_timeout=settings.broker.heartbeat_timeout_ms,
            maintenance_chance=settings.broker.maintenance_chance,
        )
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    broker.add_middleware(CurrentMessage())
    return broker


def join_all(broker: dramatiq.Broker, timeout_ms: int | None = None) -> None:
    """Wait until every queue of the in-memory broker is empty, messages sent meanwhile included.

    Stages hand runs from the default queue to the agent queue and back, so one pass over the
    queues is not enough: repeat until a whole pass finds nothing to wait for.
    """
    assert isinstance(broker, StubBroker)
    while True:
        for name in list(broker.queues):
            if name.endswith(".DQ") or name.endswith(".XQ"):
                continue
            broker.join(name, timeout=timeout_ms, fail_fast=False)
        pending = sum(queue.unfinished_tasks for queue in broker.queues.values())
        if not pending:
            return
