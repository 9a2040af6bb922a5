"""Sending many messages to one actor at once (the web intake's batches).

On Redis, Dramatiq's `enqueue` is one round trip per message: a Lua script called with the
message. `send_many` calls the same script, by its hash and with the same arguments, for every
message of a batch through one pipeline, so a batch costs one round trip instead of one per
message (and one more, to load the script, the first time or after Redis forgot it);
`RedisBatchSender` does the same from an event loop, through redis-py's asyncio client. The
middleware hears of each message before and after, as it does for `enqueue`. The arguments are
those Dramatiq's own `RedisBroker._dispatch` passes (checked against the installed version by
`tests/test_sending.py`, which has real workers consume what was sent). Any other broker gets
the messages one by one through `Actor.send`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any
from uuid import uuid4

import dramatiq
import redis.asyncio
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis
from redis.exceptions import NoScriptError

Message = dramatiq.Message[Any]


def send_many(actor: dramatiq.Actor[Any, Any], calls: Sequence[tuple[Any, ...]]) -> None:
    """Send one message to `actor` for each argument tuple of `calls`, in order."""
    broker = actor.broker
    if not isinstance(broker, RedisBroker) or len(calls) < 2:
        for args in calls:
            actor.send(*args)
        return
    messages = _announced(actor, calls)
    script = broker.scripts["dispatch"]
    try:
        _pipeline(broker, broker.client.pipeline(transaction=False), script.sha,
                  messages).execute()
    except NoScriptError:  # every call failed alike, so none was enqueued: load, send again
        broker.client.script_load(script.script)
        _pipeline(broker, broker.client.pipeline(transaction=False), script.sha,
                  messages).execute()
    _settled(broker, messages)


class RedisBatchSender:
    """`send_many` for an event loop: the batch goes through an asyncio Redis client of its
    own, so the loop never blocks on the broker."""

    def __init__(self, broker: RedisBroker, url: str) -> None:
        self.broker = broker
        self.url = url  # the broker's own
        self.script = broker.scripts["dispatch"]
        self._clients: dict[asyncio.AbstractEventLoop, redis.asyncio.Redis] = {}

    @property
    def client(self) -> redis.asyncio.Redis:
        """The client of the running loop (its connections belong to it)."""
        loop = asyncio.get_running_loop()
        if loop not in self._clients:
            for old in [old for old in self._clients if old.is_closed()]:
                del self._clients[old]
            self._clients[loop] = redis.asyncio.Redis.from_url(self.url)
        return self._clients[loop]

    async def send(self, actor: dramatiq.Actor[Any, Any],
                   calls: Sequence[tuple[Any, ...]]) -> None:
        """Send one message to `actor` (of this broker) per argument tuple of `calls`."""
        if not calls:
            return
        messages = _announced(actor, calls)
        try:
            await _pipeline(self.broker, self.client.pipeline(transaction=False),
                            self.script.sha, messages).execute()
        except NoScriptError:
            await self.client.script_load(self.script.script)
            await _pipeline(self.broker, self.client.pipeline(transaction=False),
                            self.script.sha, messages).execute()
        _settled(self.broker, messages)

    async def aclose(self) -> None:
        """Close the running loop's client."""
        client = self._clients.pop(asyncio.get_running_loop(), None)
        if client is not None:
            await client.aclose()


def _announced(actor: dramatiq.Actor[Any, Any], calls: Sequence[tuple[Any, ...]]) -> list[Message]:
    messages = [actor.message(*args).copy(options={"redis_message_id": str(uuid4())})
                for args in calls]
    for message in messages:
        actor.broker.emit_before("enqueue", message, None)
    return messages


def _settled(broker: dramatiq.Broker, messages: list[Message]) -> None:
    for message in messages:
        broker.emit_after("enqueue", message, None)


def _pipeline(broker: RedisBroker, pipeline: Any, sha: str, messages: list[Message]) -> Any:
    # By its hash, as `Script` does, but without redis-py's SCRIPT EXISTS round trip before
    # every pipeline.
    unpack = broker._max_unpack_size()  # noqa: SLF001 - the argument enqueue passes
    for message in messages:
        # "enqueue", then the broker's fixed arguments; 0: no maintenance on enqueue (Dramatiq
        # does it now and then on other commands).
        pipeline.evalsha(sha, 1, broker.namespace, "enqueue", current_millis(),
                         message.queue_name, broker.broker_id, broker.heartbeat_timeout,
                         broker.dead_message_ttl, 0, unpack,
                         message.options["redis_message_id"], message.encode())
    return pipeline
