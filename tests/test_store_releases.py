"""Releases first seen per project, and the release before another, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, select

from worker.models import ErrorEvent, ExceptionInfo, Frame, Source
from worker.store import SqlStore
from worker.store.engine import alembic_config, upgrade
from worker.store.tables import Base, ClusterRow, EventRow, ReleaseRow

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def event(event_id: str, release: str | None, *, minutes: int = 0, project: str = "shop",
          source: Source = Source.SENTRY, error: str = "KeyError") -> ErrorEvent:
    return ErrorEvent(
        source=source, event_id=event_id, title=f"{error}: 'user'", project=project,
        timestamp=T0 + timedelta(minutes=minutes), release=release,
        exceptions=[ExceptionInfo(type=error, value="'user'", frames=[
            Frame(filename="shop/cart.py", function="total", lineno=10)])],
    )


def record(store: SqlStore, *events: ErrorEvent) -> None:
    for item in events:
        store.record_event(item, f"fp-{item.project}-{item.title}", sample_size=5)


def first_seen(store: SqlStore, project: str, release: str) -> datetime | None:
    with store.session() as session:
        value = session.scalar(select(ReleaseRow.first_seen).where(
            ReleaseRow.project == project, ReleaseRow.release == release))
    return None if value is None else value.replace(tzinfo=value.tzinfo or UTC)


def test_the_previous_release_is_the_one_first_seen_just_before(store):
    record(store, event("a", "v1", minutes=0), event("b", "v2", minutes=60),
           event("c", "v3", minutes=120, error="TypeError"))
    assert store.previous_release("shop", "v3") == "v2"
    assert store.previous_release("shop", "v2") == "v1"
    assert first_seen(store, "shop", "v2") == T0 + timedelta(minutes=60)


def test_the_first_release_has_no_previous_one(store):
    record(store, event("a", "v1"), event("b", "v1", minutes=30), event("c", "v2", minutes=60))
    assert store.previous_release("shop", "v1") is None


def test_an_unknown_release_has_no_previous_one(store):
    record(store, event("a", "v1"))
    assert store.previous_release("shop", "v9") is None
    assert store.previous_release("blog", "v1") is None


def test_an_earlier_event_arriving_late_moves_first_seen_back(store):
    record(store, event("a", "v2", minutes=60), event("b", "v1", minutes=30))
    assert store.previous_release("shop", "v2") == "v1"
    # v2 was in fact running before v1 was first seen: the late event reorders them.
    record(store, event("c", "v2", minutes=10))
    assert first_seen(store, "shop", "v2") == T0 + timedelta(minutes=10)
    assert store.previous_release("shop", "v1") == "v2"
    assert store.previous_release("shop", "v2") is None
    # A later event never moves first_seen forward.
    record(store, event("d", "v2", minutes=500))
    assert first_seen(store, "shop", "v2") == T0 + timedelta(minutes=10)


def test_releases_are_kept_per_project(store):
    record(store, event("a", "v0", project="blog", minutes=-60),
           event("b", "v1", project="shop"), event("c", "v2", project="blog", minutes=30))
    assert store.previous_release("shop", "v1") is None
    assert store.previous_release("blog", "v2") == "v0"


def test_every_source_feeds_the_releases_and_events_without_one_add_nothing(store):
    record(store, event("s", "v1", source=Source.SENTRY),
           event("d", "v2", source=Source.DATADOG, minutes=30),
           event("n", None, minutes=15, error="TypeError"))
    assert store.previous_release("shop", "v2") == "v1"
    with store.session() as session:
        assert session.scalars(select(ReleaseRow.release).order_by(ReleaseRow.release)).all() \
            == ["v1", "v2"]


def test_a_duplicate_event_changes_nothing(store):
    record(store, event("a", "v1", minutes=30))
    store.record_event(event("a", "v1", minutes=0), "fp-shop-KeyError: 'user'", sample_size=5)
    assert first_seen(store, "shop", "v1") == T0 + timedelta(minutes=30)


def test_concurrent_events_of_one_release_keep_the_earliest_time(store):
    times = [37, 5, 90, 12, 64, 3, 48, 21, 77, 9, 55, 30]
    with ThreadPoolExecutor(max_workers=6) as pool:
        list(pool.map(lambda n: record(store, event(f"c{n}", "v1", minutes=times[n],
                                                    error=f"E{n % 3}")), range(len(times))))
    assert first_seen(store, "shop", "v1") == T0 + timedelta(minutes=3)


def test_a_release_too_long_for_the_column_is_not_remembered(store):
    record(store, event("a", "x" * 300))
    assert store.previous_release("shop", "x" * 300) is None


# --- migration ------------------------------------------------------------------------------

@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def unmigrated(request: pytest.FixtureRequest, tmp_path) -> Iterator[SqlStore]:
    """A store on an empty database that nothing has migrated yet."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
    sql_store = SqlStore(url)
    yield sql_store
    sql_store.close()


def keep_old_events(store: SqlStore, project: str, *events: ErrorEvent) -> int:
    """Rows as suture before releases kept them: a cluster and its sampled events."""
    with store.session() as session:
        cluster = ClusterRow(fingerprint=f"old-{project}", title="KeyError", project=project,
                             first_seen=T0, last_seen=T0, event_count=len(events), links={},
                             upstream={})
        session.add(cluster)
        session.flush()
        session.add_all(EventRow(cluster_id=cluster.id, source=item.source.value,
                                 event_id=item.event_id, timestamp=item.timestamp,
                                 payload=item.model_dump(mode="json")) for item in events)
        return cluster.id


def test_the_migration_adds_releases_to_an_existing_database(unmigrated):
    upgrade(unmigrated.engine, "0001")
    assert "releases" not in inspect(unmigrated.engine).get_table_names()
    cluster_id = keep_old_events(
        unmigrated, "shop", event("a", "v1", minutes=30), event("b", "v1", minutes=-30),
        event("c", "v2", minutes=60), event("d", None, minutes=90))
    keep_old_events(unmigrated, "blog", event("e", "v0", project="blog", minutes=45))
    unmigrated.migrate()
    with unmigrated.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), Base.metadata) == []
    # What was there survives, and the releases of the kept events are known at once.
    assert unmigrated.get_cluster(cluster_id).event_count == 4
    assert first_seen(unmigrated, "shop", "v1") == T0 - timedelta(minutes=30)
    assert unmigrated.previous_release("shop", "v2") == "v1"
    assert unmigrated.previous_release("blog", "v0") is None
    # Events from now on are remembered too, and an earlier one moves a release back.
    record(unmigrated, event("f", "v3", minutes=120), event("g", "v2", minutes=-60))
    assert unmigrated.previous_release("shop", "v3") == "v1"
    assert unmigrated.previous_release("shop", "v1") == "v2"
    unmigrated.migrate()  # running it again is a no-op


def test_the_migration_of_an_empty_database(unmigrated):
    unmigrated.migrate()
    with unmigrated.session() as session:
        assert session.scalars(select(ReleaseRow)).all() == []


def test_the_migration_downgrades_cleanly(unmigrated):
    unmigrated.migrate()
    upgraded = inspect(unmigrated.engine).get_table_names()
    command.downgrade(alembic_config(unmigrated.engine), "0003")  # 0004: the pages' guards
    assert set(upgraded) - set(inspect(unmigrated.engine).get_table_names()) == {
        "login_failures", "revoked_sessions"}
    command.downgrade(alembic_config(unmigrated.engine), "0001")
    assert set(upgraded) - set(inspect(unmigrated.engine).get_table_names()) == {
        "releases", "login_failures", "revoked_sessions"}
    unmigrated.migrate()
    assert set(inspect(unmigrated.engine).get_table_names()) == set(upgraded)
