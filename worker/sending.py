"""Sending many messages to one actor at once (the web intake's batches).

On Redis, Dramatiq's `enqueue` is one round trip per message: a Lua script called with the
message. `send_many` calls the same script, with the same arguments, for every message of a
batch through one pipeline, so a batch costs one round trip; the middleware hears of each
message before and after, as it does for `enqueue`. The arguments are those Dramatiq's own
`RedisBroker._dispatch` passes (checked against the installed version by
`tests/test_sending.py`, which has real workers consume what was sent). Any other broker gets
the messages one by one through `Actor.send`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis


def send_many(actor: dramatiq.Actor[Any, Any], calls: Sequence[tuple[Any, ...]]) -> None:
    """Send one message to `actor` for each argument tuple of `calls`, in order."""
    broker = actor.broker
    if not isinstance(broker, RedisBroker) or len(calls) < 2:
        for args in calls:
            actor.send(*args)
        return
    messages = [actor.message(*args).copy(options={"redis_message_id": str(uuid4())})
                for args in calls]
    pipeline = broker.client.pipeline(transaction=False)
    dispatch = broker.scripts["dispatch"]
    unpack = broker._max_unpack_size()  # noqa: SLF001 - the argument enqueue passes
    for message in messages:
        broker.emit_before("enqueue", message, None)
        # "enqueue", then the broker's fixed arguments; 0: no maintenance on enqueue (Dramatiq
        # does it now and then on other commands).
        dispatch(keys=[broker.namespace], client=pipeline, args=[
            "enqueue", current_millis(), message.queue_name, broker.broker_id,
            broker.heartbeat_timeout, broker.dead_message_ttl, 0, unpack,
            message.options["redis_message_id"], message.encode()])
    pipeline.execute()
    for message in messages:
        broker.emit_after("enqueue", message, None)
