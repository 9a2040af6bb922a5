"""The web intake's group commit, on SQLite and PostgreSQL: batches stored in one transaction,
duplicates answered with the existing id, a failed enqueue left pending, a dead connection
replaced, and back-pressure as 429 with Retry-After."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import psycopg
import pytest
from sqlalchemy import event, select

from worker.intake_settings import IntakeSettings
from worker.store.batch import NewDelivery, store_deliveries
from worker.store.tables import DeliveryRow
from worker.web.intake import intake_for
from worker.web.rejection import Rejection


def _now() -> datetime:
    return datetime.now(UTC)


def _delivery(n: int, source: str = "sentry") -> NewDelivery:
    return NewDelivery.of_body(source, "error", f'{{"n": {n}}}'.encode())


def _rows(store) -> list[DeliveryRow]:
    with store.session() as session:
        return list(session.scalars(select(DeliveryRow).order_by(DeliveryRow.id)))


def test_a_batch_is_stored_once_per_body_with_existing_ids_for_duplicates(store):
    before_id, created = store.add_delivery("sentry", "error", b'{"n": 1}', {"n": 1})
    assert created
    batch = [_delivery(1), _delivery(2), _delivery(2), _delivery(2, "datadog"), _delivery(3)]
    with store.engine.begin() as conn:
        stored = store_deliveries(conn, batch, _now())
    assert [answer.created for answer in stored] == [False, True, False, True, True]
    assert stored[0].id == before_id
    assert stored[1].id == stored[2].id
    assert len({answer.id for answer in stored}) == 4
    rows = _rows(store)
    assert len(rows) == 4
    assert {(row.source, row.payload["n"]) for row in rows} == {
        ("sentry", 1), ("sentry", 2), ("datadog", 2), ("sentry", 3)}
    assert all(row.status == "pending" and row.attempts == 0 for row in rows)
    # add_delivery, the path other callers keep using, agrees about what is already there
    assert store.add_delivery("sentry", "error", b'{"n": 3}', {"n": 3}) == (stored[4].id, False)


async def _submit_all(intake, deliveries, send=None):
    return await asyncio.gather(*(intake.submit(item, send) for item in deliveries))


def test_concurrent_requests_share_transactions_and_are_committed_before_the_answer(store):
    intake = intake_for(store.url, store.engine, IntakeSettings(linger_ms=50), _now)
    commits: list[int] = []  # one INSERT per batch: its own transaction on PostgreSQL

    def inserted(_conn, _cursor, statement, *_args):
        if statement.startswith("INSERT INTO deliveries"):
            commits.append(1)

    event.listen(intake._engine, "before_cursor_execute", inserted)
    sent: list[int] = []
    calls: list[int] = []

    def send(delivery_ids: list[int]) -> None:
        # the rows are committed before the messages that name them are sent
        assert all(store.get_delivery(delivery_id) is not None for delivery_id in delivery_ids)
        sent.extend(delivery_ids)
        calls.append(len(delivery_ids))

    try:
        stored = asyncio.run(_submit_all(intake, [_delivery(n) for n in range(40)]
                                         + [_delivery(0)], send))
    finally:
        intake.close()
    assert len(commits) < 10  # 41 requests, a handful of transactions
    assert [answer.created for answer in stored] == [True] * 40 + [False]
    assert stored[40].id == stored[0].id
    assert sorted(sent) == sorted(answer.id for answer in stored[:40])
    assert len(calls) == len(commits)  # one send per batch, the duplicate left out
    assert len(_rows(store)) == 40


def test_a_failed_enqueue_leaves_the_delivery_pending_and_answers_accepted(store):
    intake = intake_for(store.url, store.engine, IntakeSettings(), _now)

    def broker_down(_delivery_ids: list[int]) -> None:
        raise ConnectionError("broker unreachable")

    try:
        (stored,) = asyncio.run(_submit_all(intake, [_delivery(7)], broker_down))
    finally:
        intake.close()
    assert stored.created
    delivery = store.get_delivery(stored.id)
    assert delivery is not None and delivery.status == "pending"


def test_too_many_pending_deliveries_are_refused_with_retry_after(store):
    for n in range(3):
        store.add_delivery("sentry", "error", f"{n}".encode(), {"n": n})
    intake = intake_for(store.url, store.engine,
                        IntakeSettings(max_pending=3, retry_after_seconds=7), _now)
    try:
        intake.refresh_pending()
        with pytest.raises(Rejection) as refused:
            asyncio.run(_submit_all(intake, [_delivery(9)]))
        assert refused.value.status == 429
        assert refused.value.headers == {"Retry-After": "7"}
        assert "retry later" in refused.value.reason
        store.finish_delivery(1, "processed")
        intake.refresh_pending()
        (stored,) = asyncio.run(_submit_all(intake, [_delivery(9)]))
        assert stored.created
    finally:
        intake.close()


@pytest.mark.postgres
def test_a_connection_the_server_closed_is_replaced_without_losing_the_batch(
        postgres_database, tmp_path):
    from tests.conftest import _reset_postgres
    from worker.store import SqlStore

    _reset_postgres(postgres_database)
    store = SqlStore(postgres_database)
    store.migrate()
    intake = intake_for(store.url, store.engine, IntakeSettings(), _now)
    try:
        (first,) = asyncio.run(_submit_all(intake, [_delivery(1)]))
        # End every other session on this database: the intake's pooled connection dies.
        with psycopg.connect(postgres_database, autocommit=True) as admin:
            ended = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()").fetchone()
        assert ended is not None and ended[0] >= 1
        (second,) = asyncio.run(_submit_all(intake, [_delivery(2)]))
        assert first.created and second.created and second.id != first.id
        assert len(_rows(store)) == 2
    finally:
        intake.close()
        store.close()
