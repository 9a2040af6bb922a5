"""The store's behaviour, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from worker.models import ClusterStatus, ErrorEvent, ExceptionInfo, Frame, RunState, Source
from worker.store.tables import Base

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def event(event_id: str, *, source: Source = Source.SENTRY, user: str | None = None,
          minutes: int = 0, link: str | None = None, issue_id: str | None = None) -> ErrorEvent:
    return ErrorEvent(
        source=source, event_id=event_id, title="KeyError: 'user'", project="shop",
        timestamp=T0 + timedelta(minutes=minutes), user=user, link=link, issue_id=issue_id,
        exceptions=[ExceptionInfo(type="KeyError", value="'user'", frames=[
            Frame(filename="shop/cart.py", function="total", lineno=10)])],
    )


def test_schema_from_migrations_matches_the_models(store):
    with store.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_first_event_opens_a_cluster_and_one_run(store):
    outcome = store.record_event(event("e1", user="ann"), "fp1", sample_size=5)
    assert outcome.new_cluster and outcome.run_id is not None and not outcome.duplicate
    again = store.record_event(event("e2", user="bob", minutes=5), "fp1", sample_size=5)
    assert again.cluster_id == outcome.cluster_id and again.run_id is None
    cluster = store.get_cluster(outcome.cluster_id)
    assert (cluster.event_count, cluster.user_count) == (2, 2)
    assert cluster.first_seen == T0 and cluster.last_seen == T0 + timedelta(minutes=5)
    assert cluster.culprit == "shop/cart.py in total"
    assert [run.state for run in store.list_runs()] == [RunState.NEW]


def test_the_same_event_twice_is_a_duplicate(store):
    store.record_event(event("e1"), "fp1", sample_size=5)
    outcome = store.record_event(event("e1"), "fp1", sample_size=5)
    assert outcome.duplicate and outcome.cluster_id is None
    assert store.find_cluster("fp1").event_count == 1


def test_both_sources_land_in_one_cluster_with_both_links(store):
    first = store.record_event(event("s1", link="https://sentry/1", issue_id="1"), "fp",
                               sample_size=5)
    second = store.record_event(event("d1", source=Source.DATADOG, link="https://dd/x",
                                      issue_id="x"), "fp", sample_size=5)
    assert first.cluster_id == second.cluster_id and second.run_id is None
    cluster = store.get_cluster(first.cluster_id)
    assert cluster.links == {"sentry": "https://sentry/1", "datadog": "https://dd/x"}
    assert cluster.upstream == {"sentry": "1", "datadog": "x"}


def test_a_resolved_cluster_seen_again_is_a_regression_with_a_new_run(store):
    first = store.record_event(event("e1"), "fp1", sample_size=5)
    store.set_cluster_status(first.cluster_id, ClusterStatus.RESOLVED)
    outcome = store.record_event(event("e2", minutes=60), "fp1", sample_size=5)
    assert outcome.regression and outcome.run_id not in (None, first.run_id)
    cluster = store.get_cluster(first.cluster_id)
    assert (cluster.status, cluster.episode, cluster.regressions) == (ClusterStatus.OPEN, 2, 1)
    assert [run.episode for run in store.list_runs(first.cluster_id)] == [1, 2]


def test_the_event_sample_is_bounded_and_keeps_the_newest(store):
    for n in range(7):
        store.record_event(event(f"e{n}", minutes=n), "fp1", sample_size=3)
    cluster = store.find_cluster("fp1")
    kept = store.cluster_events(cluster.id)
    assert [e.event_id for e in kept] == ["e6", "e5", "e4"]
    assert cluster.event_count == 7
    # a trimmed event redelivered is still a duplicate
    assert store.record_event(event("e0"), "fp1", sample_size=3).duplicate


def test_concurrent_first_events_make_one_cluster_and_one_run(store):
    with ThreadPoolExecutor(max_workers=6) as pool:
        outcomes = list(pool.map(
            lambda n: store.record_event(event(f"c{n}"), "race", sample_size=50), range(12)))
    assert len({o.cluster_id for o in outcomes}) == 1
    assert sum(o.run_id is not None for o in outcomes) == 1
    assert store.find_cluster("race").event_count == 12


def test_transitions_are_conditional_and_recorded(store):
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    assert store.transition(run_id, RunState.NEW, RunState.TRIAGED, "policy allows KeyError")
    assert not store.transition(run_id, RunState.NEW, RunState.SKIPPED, "late duplicate")
    history = store.transitions(run_id)
    assert [(t.from_state, t.to_state, t.reason) for t in history] == [
        ("", RunState.NEW, "new cluster"),
        ("new", RunState.TRIAGED, "policy allows KeyError")]


def test_stuck_runs_are_the_old_non_terminal_ones(store):
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    other = store.record_event(event("e2"), "fp2", sample_size=5).run_id
    store.transition(other, RunState.NEW, RunState.SKIPPED, "noise")
    later = datetime.now(UTC) + timedelta(minutes=1)
    assert [run.id for run in store.stuck_runs(later)] == [run_id]
    assert store.stuck_runs(datetime.now(UTC) - timedelta(hours=1)) == []


def test_attempts_count_and_reset_on_transition(store):
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    assert [store.start_attempt(run_id) for _ in range(3)] == [1, 2, 3]
    store.transition(run_id, RunState.NEW, RunState.TRIAGED, "ok")
    assert store.get_run(run_id).attempts == 0


def test_deliveries_are_deduplicated_by_body(store):
    first, created = store.add_delivery("sentry", "issue", b'{"a":1}', {"a": 1})
    again, created_again = store.add_delivery("sentry", "issue", b'{"a":1}', {"a": 1})
    assert created and not created_again and first == again
    assert store.start_delivery(first) == 1
    assert store.pending_deliveries(datetime.now(UTC) + timedelta(seconds=1)) == [first]
    store.finish_delivery(first, "processed", "cluster 1")
    assert store.get_delivery(first).status == "processed"
    assert store.pending_deliveries(datetime.now(UTC) + timedelta(seconds=1)) == []


def test_cursors_publications_and_slots(store):
    assert store.get_cursor("sentry") is None
    store.set_cursor("sentry", "2026-11-01T12:00:00Z")
    store.set_cursor("sentry", "2026-11-01T13:00:00Z")
    assert store.get_cursor("sentry") == "2026-11-01T13:00:00Z"
    run_id = store.record_event(event("e1"), "fp1", sample_size=5).run_id
    first = store.lease_publication("ticket:fp1:1", run_id, "ticket", "a", ttl_seconds=60)
    assert (first.status, first.owned) == ("intent", True)
    rival = store.lease_publication("ticket:fp1:1", run_id, "ticket", "b", ttl_seconds=60)
    assert not rival.owned and rival.until == first.until
    expired = store.lease_publication("ticket:fp1:2", run_id, "ticket", "a", ttl_seconds=-1)
    assert store.lease_publication("ticket:fp1:2", run_id, "ticket", "b", 60).owned
    assert expired.owned
    store.complete_publication("ticket:fp1:1", "7", "https://x/7")
    done = store.lease_publication("ticket:fp1:1", run_id, "ticket", "c", ttl_seconds=60)
    assert (done.status, done.url, done.owned) == ("done", "https://x/7", False)
    assert store.count_publications("ticket") == 2
    assert store.claim_slot("poll:sentry", "2026-11-01T12:05")
    assert not store.claim_slot("poll:sentry", "2026-11-01T12:05")
