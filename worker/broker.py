"""The Dramatiq broker: Redis in production, an in-process in-memory broker when embedded.

Redis crash recovery is tuned here on purpose: with Dramatiq's defaults a message held by a
`kill -9`'d worker may not come back for many minutes; a short heartbeat timeout and a high
maintenance chance bring it back in seconds. The store's reconciler is the second net.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage

from worker.settings import Settings


def make_broker(settings: Settings) -> dramatiq.Broker:
    """A Redis broker when `broker_url` is set, else the in-memory one."""
    if settings.broker_url:
        broker: dramatiq.Broker = RedisBroker(
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
