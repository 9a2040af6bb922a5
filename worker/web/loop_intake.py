"""The web intake on the event loop, for a PostgreSQL store: group commit without threads.

What `worker.web.intake.Intake` does with writer and sender threads, done here by tasks of the
web process's own event loop: a request adds its delivery to the waiting list and awaits it; a
writer task (`writers` of them, each with its own asyncio connection in autocommit) takes what
is waiting (after `linger_ms`, at most `max_batch`), stores it with one INSERT, sends the new
deliveries' ids (one pipeline on Redis: `worker.sending.RedisBatchSender`) and resolves the
requests. Nothing blocks the loop and no thread has to take the interpreter's lock back from
it: measured, the threads' hand-overs cost the event loop more CPU per webhook than its own
work. A failed enqueue leaves the delivery pending for the reconciler; a connection that fails
is replaced and the batch tried once more; an unreachable database is a 503 with `Retry-After`.
The same back-pressure as the threaded intake: 429 with `Retry-After`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, NamedTuple

import dramatiq
import psycopg
from dramatiq.brokers.redis import RedisBroker

from worker.intake_settings import IntakeSettings
from worker.sending import RedisBatchSender, send_many
from worker.store.batch import COUNT_PENDING, NewDelivery, Stored, store_deliveries_async
from worker.web.intake import refuse_when_behind
from worker.web.rejection import Rejection

log = logging.getLogger("suture.web")

SendLater = Callable[[list[int]], Awaitable[object]]
Outcome = Stored | BaseException
Connection = psycopg.AsyncConnection[Any]
CONNECT_SECONDS = 5


class _Waiting(NamedTuple):
    delivery: NewDelivery
    send: SendLater | None
    future: asyncio.Future[Stored]


class LoopIntake:
    """Group-committing deliveries on the event loop, to PostgreSQL at `conninfo`."""

    def __init__(self, conninfo: str, settings: IntakeSettings,
                 clock: Callable[[], datetime], broker_url: str | None = None) -> None:
        self._conninfo = conninfo
        self._settings = settings
        self._clock = clock
        self._broker_url = broker_url
        self._redis: RedisBatchSender | None = None
        self._waiting: list[_Waiting] = []
        self._ready: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._started: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._counter: asyncio.Task[None] | None = None
        self._closed = False
        self._pending = 0

    async def submit(self, delivery: NewDelivery, send: SendLater | None = None) -> Stored:
        """Store `delivery` (and, when new, `send` its id with the others of its batch that
        name the same `send`); returns once it is committed and sent."""
        self.admit()
        loop = asyncio.get_running_loop()
        if self._loop is not loop:
            # The first request; or a new loop (a test client runs one per request), where the
            # last loop's tasks can no longer run: begin again on this one.
            self._loop, self._waiting = loop, []
            self._started = asyncio.ensure_future(self._start())
        assert self._started is not None
        await asyncio.shield(self._started)
        self.admit()  # the backlog was read just now, the first time
        future: asyncio.Future[Stored] = asyncio.get_running_loop().create_future()
        self._waiting.append(_Waiting(delivery, send, future))
        assert self._ready is not None
        self._ready.set()
        return await future

    def admit(self) -> None:
        """Refuse (429) when this process is too far behind or too much waits to be processed."""
        refuse_when_behind(self._settings, self._closed, len(self._waiting), self._pending)

    async def refresh_pending(self) -> None:
        """Re-read how many deliveries wait to be processed (a task of the intake does it on
        its own every `pending_check_seconds`)."""
        async with await self._connect() as conn:
            self._pending = await _count(conn)

    async def aclose(self) -> None:
        """Store and send what was submitted, then close the connections."""
        self._closed = True
        # Tasks of an earlier loop ended with it; only this loop's have work to finish.
        if self._loop is asyncio.get_running_loop():
            assert self._ready is not None
            self._ready.set()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            if self._counter is not None:
                self._counter.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await self._counter
        if self._redis is not None:
            with contextlib.suppress(Exception):
                await self._redis.aclose()

    def sender_for(self, actor: dramatiq.Actor[Any, Any]) -> SendLater:
        """What sends a batch's new delivery ids to `actor`: one pipeline from the loop on
        Redis, `send_many` in a thread on any other broker. Call once per actor: the intake
        groups a batch's ids by sender."""
        broker = actor.broker
        if isinstance(broker, RedisBroker) and self._broker_url:
            if self._redis is None:
                self._redis = RedisBatchSender(broker, self._broker_url)
            redis = self._redis
            return lambda ids: redis.send(actor, [(delivery_id,) for delivery_id in ids])
        return lambda ids: asyncio.to_thread(send_many, actor,
                                             [(delivery_id,) for delivery_id in ids])

    async def _start(self) -> None:
        self._ready = asyncio.Event()
        try:
            await self.refresh_pending()  # once, so the first request already sees the backlog
        except Exception as exc:  # the writers will say what is wrong, request by request
            log.warning("could not count pending deliveries: %s", exc)
        self._counter = asyncio.create_task(self._count_every())
        self._tasks = [asyncio.create_task(self._write_all())
                       for _ in range(self._settings.writers)]

    async def _write_all(self) -> None:
        conn: Connection | None = None
        assert self._ready is not None
        try:
            while True:
                await self._ready.wait()
                if self._settings.linger_ms and not self._closed:
                    await asyncio.sleep(self._settings.linger_ms / 1000)
                batch = self._waiting[:self._settings.max_batch]
                del self._waiting[:len(batch)]
                if not self._waiting and not self._closed:  # closing: every writer must wake
                    self._ready.clear()
                if batch:
                    conn, outcomes = await self._store(conn, batch)
                    try:
                        await _send(batch, outcomes)
                    finally:  # whatever happened, nobody is left waiting
                        _settle(batch, outcomes)
                elif self._closed:
                    return
        finally:
            if conn is not None:
                await conn.close()

    async def _store(self, conn: Connection | None,
                     batch: list[_Waiting]) -> tuple[Connection | None, list[Outcome]]:
        deliveries = [waiting.delivery for waiting in batch]
        for attempt in (1, 2):
            try:
                if conn is None or conn.closed:
                    conn = await self._connect()
                return conn, list(await store_deliveries_async(conn, deliveries, self._clock()))
            except Exception as exc:  # every request of the batch hears of it, as a 503
                if conn is not None:
                    await conn.close()
                conn = None
                # A connection the server closed shows up here: one more try gets a fresh one.
                if attempt == 2 or not isinstance(exc, psycopg.OperationalError):
                    log.warning("could not store %d deliveries: %s", len(batch), exc)
                    break
        failure = Rejection(503, "the store is unavailable; retry later",
                            {"Retry-After": str(self._settings.retry_after_seconds)})
        return conn, [failure] * len(batch)

    async def _count_every(self) -> None:
        # Its own connection and task: with a large backlog the count takes tens of
        # milliseconds, which a writer would add to every request of its next batch.
        conn: Connection | None = None
        try:
            while True:
                await asyncio.sleep(self._settings.pending_check_seconds)
                try:
                    if conn is None or conn.closed:
                        conn = await self._connect()
                    self._pending = await _count(conn)
                except psycopg.Error as exc:  # keep the last count; the writers say the rest
                    log.warning("could not count pending deliveries: %s", exc)
                    conn = None
        finally:
            if conn is not None:
                await conn.close()

    async def _connect(self) -> Connection:
        return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True,
                                                     connect_timeout=CONNECT_SECONDS)


async def _count(conn: Connection) -> int:
    cursor = await conn.execute(COUNT_PENDING)
    row = await cursor.fetchone()
    return int(row[0]) if row else 0


async def _send(batch: list[_Waiting], outcomes: list[Outcome]) -> None:
    by_sender: dict[SendLater, list[int]] = {}
    for waiting, outcome in zip(batch, outcomes, strict=True):
        if isinstance(outcome, Stored) and outcome.created and waiting.send is not None:
            by_sender.setdefault(waiting.send, []).append(outcome.id)
    for send, ids in by_sender.items():
        try:
            await send(ids)
        except Exception as exc:  # the broker is down: stored, the reconciler re-sends
            log.warning("could not enqueue %d deliveries from %d (%s); the reconciler will",
                        len(ids), ids[0], exc)


def _settle(batch: list[_Waiting], outcomes: list[Outcome]) -> None:
    for waiting, outcome in zip(batch, outcomes, strict=True):
        if waiting.future.done():  # the request was cancelled (the client went away)
            continue
        if isinstance(outcome, BaseException):
            waiting.future.set_exception(outcome)
        else:
            waiting.future.set_result(outcome)


def loop_intake_for(url: str, settings: IntakeSettings, clock: Callable[[], datetime],
                    broker_url: str | None) -> LoopIntake | None:
    """A loop intake for the store at `url` when it is PostgreSQL (None otherwise: the threaded
    intake serves SQLite), sending on the Redis at `broker_url` from the loop."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        return None
    # libpq's own URL form: the same host, database, user and query options, without the driver
    conninfo = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    return LoopIntake(conninfo, settings, clock, broker_url)
