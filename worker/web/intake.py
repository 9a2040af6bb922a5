"""The web process's intake: every delivery committed before its answer, without blocking the
event loop, in as few transactions as the load allows (group commit).

A request hands its delivery to `Intake.submit` and awaits it. A writer thread (`writers` of
them per process, each with its own connection) takes whatever has arrived (waiting up to
`linger_ms` for more, at most `max_batch`) and stores it in one transaction
(`worker.store.batch`); a sender thread (as many as writers) then hands the batch's new
deliveries to the broker, in one call per sender (`worker.sending.send_many`: one round trip on
Redis), and only then resolves the waiting requests, one wake-up per event loop per batch.
They overlap: while one batch waits for its commit to reach the disk, others are committed or
enqueued. A failed enqueue leaves the delivery pending for the reconciler. The writers' engine
has no pre-ping (a `SELECT 1` per checkout would double the round trips); a connection found
dead is replaced and the batch tried once more. Too many deliveries waiting for the writers,
or too many stored and not yet processed, is a 429 with `Retry-After`: the sender retries
later, nothing is lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any, NamedTuple

import dramatiq
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError

from worker.intake_settings import IntakeSettings
from worker.sending import send_many
from worker.store.batch import NewDelivery, Stored, count_pending, store_deliveries
from worker.web.rejection import Rejection

log = logging.getLogger("suture.web")

SendMany = Callable[[list[int]], object]
Outcome = Stored | BaseException


class _Waiting(NamedTuple):
    delivery: NewDelivery
    send: SendMany | None
    future: asyncio.Future[Stored]
    loop: asyncio.AbstractEventLoop


class Intake:
    """Group-committing deliveries for the requests of one process."""

    def __init__(self, engine: Engine, settings: IntakeSettings,
                 clock: Callable[[], datetime], *, autocommit: bool = False) -> None:
        self._engine = engine
        self._autocommit = autocommit
        self._settings = settings
        self._clock = clock
        self._queue: queue.SimpleQueue[_Waiting | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._senders: list[threading.Thread] = []
        self._stored: queue.SimpleQueue[tuple[list[_Waiting], list[Outcome]] | None] = (
            queue.SimpleQueue())
        self._closed = False
        self._pending = 0
        self._stopping = threading.Event()
        self._counter: threading.Thread | None = None

    async def submit(self, delivery: NewDelivery, send: SendMany | None = None) -> Stored:
        """Store `delivery` (and, when new, `send` its id, with the ids of the others of its
        batch that name the same `send`); returns once it is committed and sent."""
        self.admit()
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Stored] = loop.create_future()
        self._queue.put(_Waiting(delivery, send, future, loop))
        return await future

    def admit(self) -> None:
        """Refuse (429) when this process is too far behind or too much waits to be processed."""
        self._start()
        refuse_when_behind(self._settings, self._closed, self._queue.qsize(), self._pending)

    def sender_for(self, actor: dramatiq.Actor[Any, Any]) -> SendMany:
        """What sends a batch's new delivery ids to `actor` (`send_many`). Call once per actor:
        the intake groups a batch's ids by sender."""
        return lambda ids: send_many(actor, [(delivery_id,) for delivery_id in ids])

    async def aclose(self) -> None:
        """`close`, from an event loop."""
        await asyncio.to_thread(self.close)

    def refresh_pending(self) -> None:
        """Re-read how many deliveries wait to be processed (a thread of the intake does it on
        its own every `pending_check_seconds`)."""
        self._read_pending()

    def close(self) -> None:
        """Finish what was submitted, stop the writer and release its connections."""
        with self._lock:
            self._closed = True
            threads, senders = list(self._threads), list(self._senders)
        self._stopping.set()
        for _ in threads:
            self._queue.put(None)
        for thread in threads:
            thread.join(timeout=30)
        for _ in senders:
            self._stored.put(None)
        for sender in senders:
            sender.join(timeout=30)
        if self._counter is not None:
            self._counter.join(timeout=30)
        self._engine.dispose()

    def _start(self) -> None:
        if self._threads:
            return
        # Each database or broker reply wakes a helper thread that must take the GIL back from
        # the event loop; at the default 5 ms interval those hand-overs, not the database,
        # set the pace.
        sys.setswitchinterval(self._settings.switch_interval_ms / 1000)
        with self._lock:
            if not self._threads and not self._closed:
                self._read_pending()  # once, so the first request already sees the backlog
                counter = threading.Thread(target=self._count, daemon=True,
                                           name="suture-intake-count")
                counter.start()
                self._counter = counter
                # Writers (and a sender each): while one batch waits for its commit to reach
                # the disk, the next is already on its way.
                for number in range(self._settings.writers):
                    sender = threading.Thread(target=self._send_all, daemon=True,
                                              name=f"suture-intake-send-{number}")
                    sender.start()
                    self._senders.append(sender)
                    thread = threading.Thread(target=self._run, daemon=True,
                                              name=f"suture-intake-{number}")
                    thread.start()
                    self._threads.append(thread)

    def _run(self) -> None:
        while (first := self._queue.get()) is not None:
            batch, stop = self._gather(first)
            self._write(batch)
            if stop:
                return

    def _count(self) -> None:
        # Its own thread: with a large backlog the count takes tens of milliseconds, which the
        # writer would add to every request of the batch after it.
        while not self._stopping.wait(self._settings.pending_check_seconds):
            self._read_pending()

    def _gather(self, first: _Waiting) -> tuple[list[_Waiting], bool]:
        batch = [first]
        deadline = time.monotonic() + self._settings.linger_ms / 1000
        while len(batch) < self._settings.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                return batch, True
            batch.append(item)
        return batch, False

    def _write(self, batch: list[_Waiting]) -> None:
        outcomes: list[Outcome]
        started = time.perf_counter()
        try:
            stored = self._store([waiting.delivery for waiting in batch])
            log.debug("stored %d deliveries in %.1f ms", len(batch),
                      1000 * (time.perf_counter() - started))
        except Exception as exc:  # the database is unreachable: every request hears so
            log.warning("could not store %d deliveries: %s", len(batch), exc)
            failure = Rejection(503, "the store is unavailable; retry later",
                                {"Retry-After": str(self._settings.retry_after_seconds)})
            outcomes = [failure] * len(batch)
        else:
            outcomes = list(stored)
        self._stored.put((batch, outcomes))

    def _send_all(self) -> None:
        while (item := self._stored.get()) is not None:
            batch, outcomes = item
            by_sender: dict[SendMany, list[int]] = {}
            for waiting, outcome in zip(batch, outcomes, strict=True):
                if isinstance(outcome, Stored) and outcome.created and waiting.send is not None:
                    by_sender.setdefault(waiting.send, []).append(outcome.id)
            for send, ids in by_sender.items():
                _enqueue(send, ids)
            _resolve(batch, outcomes)

    def _store(self, deliveries: list[NewDelivery]) -> list[Stored]:
        for attempt in (1, 2):
            try:
                # With an autocommit engine the batch's one INSERT is its own transaction: one
                # round trip instead of three (BEGIN, INSERT, COMMIT).
                with self._engine.connect() if self._autocommit else self._engine.begin() as conn:
                    return store_deliveries(conn, deliveries, self._clock())
            except DBAPIError as exc:
                # No pre-ping: a connection the server closed shows up here; the pool has
                # dropped it, so one more try gets a fresh one.
                if not exc.connection_invalidated or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    def _read_pending(self) -> None:
        try:
            with self._engine.connect() as conn:
                self._pending = count_pending(conn)
        except Exception as exc:  # keep the last count: the writer will say what is wrong
            log.warning("could not count pending deliveries: %s", exc)


def refuse_when_behind(settings: IntakeSettings, closed: bool, waiting: int,
                       pending: int) -> None:
    """The intake's back-pressure: 503 while shutting down, 429 with `waiting` deliveries not yet
    stored in this process or `pending` stored and not yet processed over their limits."""
    retry = {"Retry-After": str(settings.retry_after_seconds)}
    if closed:
        raise Rejection(503, "the web process is shutting down; retry later", retry)
    if waiting >= settings.max_waiting:
        raise Rejection(429, "too many deliveries are waiting to be stored; retry later", retry)
    if pending >= settings.max_pending:
        raise Rejection(429, f"{pending} deliveries wait to be processed; retry later", retry)


def _enqueue(send: SendMany, delivery_ids: list[int]) -> None:
    try:
        send(delivery_ids)
    except Exception as exc:  # the broker is down: the deliveries are stored, the reconciler
        log.warning("could not enqueue deliveries %s (%s); the reconciler will",  # re-sends
                    _span(delivery_ids), exc)


def _span(ids: list[int]) -> str:
    return str(ids[0]) if len(ids) == 1 else f"{ids[0]}..{ids[-1]} ({len(ids)})"


def _resolve(batch: list[_Waiting], outcomes: list[Outcome]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[asyncio.Future[Stored], Outcome]]] = {}
    for waiting, outcome in zip(batch, outcomes, strict=True):
        by_loop.setdefault(waiting.loop, []).append((waiting.future, outcome))
    for loop, pairs in by_loop.items():
        # A closed loop raises RuntimeError: nobody waits for those answers any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(_settle, pairs)


def _settle(pairs: list[tuple[asyncio.Future[Stored], Outcome]]) -> None:
    for future, outcome in pairs:
        if future.done():  # the request was cancelled (the client went away)
            continue
        if isinstance(outcome, BaseException):
            future.set_exception(outcome)
        else:
            future.set_result(outcome)


def intake_for(url: str, shared: Engine, settings: IntakeSettings,
               clock: Callable[[], datetime]) -> Intake:
    """An intake writing to the database at `url` through an engine of its own without pre-ping;
    an in-memory SQLite database exists only in `shared`, so that one is used as it is."""
    from sqlalchemy.engine import make_url

    from worker.store.engine import make_engine

    parsed = make_url(url)
    in_memory = parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:")
    if in_memory:
        return Intake(shared, settings, clock)
    autocommit = parsed.get_backend_name() != "sqlite"
    return Intake(make_engine(url, pre_ping=False, autocommit=autocommit), settings, clock,
                  autocommit=autocommit)
