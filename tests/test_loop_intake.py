"""The web intake on the event loop (PostgreSQL): batches in one INSERT each, committed before
their ids are sent and before the answer, duplicates answered with the existing id, a failed
enqueue left pending, a dead connection replaced, an unreachable database a 503, back-pressure
as 429, what was submitted stored before close, and the Redis sender used from the loop."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import dramatiq
import psycopg
import pytest
import redis
from dramatiq.brokers.redis import RedisBroker
from sqlalchemy import select

from tests.brokers import REDIS_URL
from tests.conftest import _reset_postgres
from worker.intake_settings import IntakeSettings
from worker.store import SqlStore
from worker.store.batch import NewDelivery
from worker.store.tables import DeliveryRow
from worker.web.loop_intake import LoopIntake, loop_intake_for
from worker.web.rejection import Rejection

pytestmark = pytest.mark.postgres


def _now() -> datetime:
    return datetime.now(UTC)


def _delivery(n: int) -> NewDelivery:
    return NewDelivery.of_body("sentry", "error", f'{{"n": {n}}}'.encode())


@pytest.fixture
def pg_store(postgres_database) -> Iterator[SqlStore]:
    _reset_postgres(postgres_database)
    store = SqlStore(postgres_database)
    store.migrate()
    yield store
    store.close()


def _intake(store: SqlStore, **settings: object) -> LoopIntake:
    intake = loop_intake_for(store.url, IntakeSettings(**settings), _now, None)  # type: ignore[arg-type]
    assert intake is not None
    return intake


def _rows(store: SqlStore) -> list[DeliveryRow]:
    with store.session() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def test_sqlite_keeps_the_threaded_intake(tmp_path):
    assert loop_intake_for(f"sqlite:///{tmp_path / 's.db'}", IntakeSettings(), _now, None) is None


def test_concurrent_requests_share_inserts_and_are_committed_before_the_send(pg_store):
    intake = _intake(pg_store, linger_ms=20)
    batches: list[list[int]] = []

    async def send(delivery_ids: list[int]) -> None:
        # committed: another connection sees every row before its message is sent
        assert all(pg_store.get_delivery(delivery_id) is not None for delivery_id in delivery_ids)
        batches.append(delivery_ids)

    async def scenario() -> list:
        try:
            return await asyncio.gather(*(intake.submit(_delivery(n), send)
                                          for n in [*range(40), 0]))
        finally:
            await intake.aclose()

    stored = asyncio.run(scenario())
    assert [answer.created for answer in stored] == [True] * 40 + [False]
    assert stored[40].id == stored[0].id
    assert len(batches) < 5  # 41 requests, a handful of batches
    assert sorted(sum(batches, [])) == sorted(answer.id for answer in stored[:40])
    assert len(_rows(pg_store)) == 40


def test_a_body_stored_before_is_a_duplicate_with_its_id(pg_store):
    before, created = pg_store.add_delivery("sentry", "error", b'{"n": 5}', {"n": 5})
    assert created
    intake = _intake(pg_store)

    async def scenario() -> list:
        try:
            return await asyncio.gather(intake.submit(_delivery(5)), intake.submit(_delivery(6)))
        finally:
            await intake.aclose()

    again, new = asyncio.run(scenario())
    assert (again.id, again.created) == (before, False)
    assert new.created and new.id != before


def test_a_failed_enqueue_leaves_the_delivery_pending_and_answers_accepted(pg_store):
    intake = _intake(pg_store)

    async def broker_down(_ids: list[int]) -> None:
        raise ConnectionError("broker unreachable")

    async def scenario():
        try:
            return await intake.submit(_delivery(7), broker_down)
        finally:
            await intake.aclose()

    stored = asyncio.run(scenario())
    assert stored.created
    delivery = pg_store.get_delivery(stored.id)
    assert delivery is not None and delivery.status == "pending"


def test_a_connection_the_server_closed_is_replaced_without_losing_the_batch(pg_store):
    intake = _intake(pg_store)

    async def scenario():
        try:
            first = await intake.submit(_delivery(1))
            with psycopg.connect(pg_store.url, autocommit=True) as admin:
                ended = admin.execute(
                    "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                    "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
            assert ended is not None and ended[0] >= 1
            return first, await intake.submit(_delivery(2))
        finally:
            await intake.aclose()

    first, second = asyncio.run(scenario())
    assert first.created and second.created and second.id != first.id
    assert len(_rows(pg_store)) == 2


def test_an_unreachable_database_is_a_503_with_retry_after():
    intake = LoopIntake("postgresql://postgres@127.0.0.1:9/none", IntakeSettings(), _now)

    async def scenario():
        try:
            await intake.submit(_delivery(1))
        finally:
            await intake.aclose()

    with pytest.raises(Rejection) as refused:
        asyncio.run(scenario())
    assert refused.value.status == 503 and refused.value.headers == {"Retry-After": "5"}


def test_too_many_pending_deliveries_are_refused_with_retry_after(pg_store):
    for n in range(3):
        pg_store.add_delivery("sentry", "error", f"{n}".encode(), {"n": n})
    intake = _intake(pg_store, max_pending=3, retry_after_seconds=7)

    async def scenario():
        try:
            with pytest.raises(Rejection) as refused:
                await intake.submit(_delivery(9))  # the backlog is read before the first
            assert refused.value.status == 429
            assert refused.value.headers == {"Retry-After": "7"}
            pg_store.finish_delivery(1, "processed")
            await intake.refresh_pending()
            return await intake.submit(_delivery(9))
        finally:
            await intake.aclose()

    assert asyncio.run(scenario()).created


def test_what_was_submitted_is_stored_before_close_and_later_requests_get_503(pg_store):
    intake = _intake(pg_store, linger_ms=50)

    async def scenario():
        pending = [asyncio.ensure_future(intake.submit(_delivery(n))) for n in range(5)]
        while len(intake._waiting) < 5:  # all five wait for the writer (lingering 50 ms)
            await asyncio.sleep(0.001)
        await intake.aclose()
        with pytest.raises(Rejection) as refused:
            await intake.submit(_delivery(99))
        assert refused.value.status == 503
        return [task.result() for task in pending]

    assert all(answer.created for answer in asyncio.run(scenario()))
    assert len(_rows(pg_store)) == 5


def test_a_new_event_loop_starts_the_intake_again(pg_store):
    intake = _intake(pg_store)
    first = asyncio.run(intake.submit(_delivery(1)))  # that loop ends with its tasks
    second = asyncio.run(intake.submit(_delivery(2)))
    asyncio.run(intake.aclose())
    assert first.created and second.created and len(_rows(pg_store)) == 2


@pytest.mark.redis
def test_on_redis_the_batch_is_sent_from_the_loop_and_consumed(pg_store):
    namespace = f"suture-test-{uuid.uuid4().hex[:8]}"
    broker = RedisBroker(url=REDIS_URL, namespace=namespace)
    consumed: list[int] = []

    @dramatiq.actor(broker=broker, queue_name="ingest", max_retries=0)
    def ingest(delivery_id: int) -> None:
        consumed.append(delivery_id)

    intake = loop_intake_for(pg_store.url, IntakeSettings(linger_ms=20), _now, REDIS_URL)
    assert intake is not None
    send = intake.sender_for(ingest)

    async def scenario() -> list:
        try:
            return await asyncio.gather(*(intake.submit(_delivery(n), send) for n in range(30)))
        finally:
            await intake.aclose()

    try:
        stored = asyncio.run(scenario())
        worker = dramatiq.Worker(broker, worker_threads=2)
        worker.start()
        try:
            deadline = time.monotonic() + 30
            while len(consumed) < len(stored) and time.monotonic() < deadline:
                time.sleep(0.05)
        finally:
            worker.stop()
        assert sorted(consumed) == sorted(answer.id for answer in stored)
    finally:
        broker.close()
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{namespace}:*"):
            client.delete(key)
