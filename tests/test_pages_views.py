"""The review pages' read queries and actions on the store, on SQLite and on PostgreSQL."""

from __future__ import annotations

import pytest

from tests.pages_seed import Clock, new_run, seed, walk
from tests.support import make_settings
from worker.models import ClusterStatus, RunState
from worker.store import SqlStore
from worker.store.views import awaiting_review, cluster_summaries, skipped_by_reason
from worker.web.pages import actions


class SentFor:
    """Stands in for the actors: records which stage message each run was sent."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, RunState]] = []

    def send_for_state(self, run_id: int, state: RunState) -> bool:
        self.sent.append((run_id, state))
        return True


@pytest.fixture
def timed(store):
    clock = Clock()
    timed_store = SqlStore(store.url, clock=clock)
    yield timed_store, clock
    timed_store.close()


def test_cluster_summaries_carry_counts_and_the_latest_run_newest_first(timed):
    store, clock = timed
    seeded = seed(store, clock)
    found, total = cluster_summaries(store)
    assert total == 7 and len(found) == 7
    assert [c.last_seen for c in found] == sorted((c.last_seen for c in found), reverse=True)
    proposed = next(c for c in found if c.latest_run == seeded.proposed)
    assert proposed.latest_state == RunState.PROPOSED and proposed.runs == 1
    assert proposed.event_count == 1 and proposed.user_count == 1
    assert cluster_summaries(store, limit=2)[0][:2] == found[:2]


def test_awaiting_review_is_the_proposed_runs_longest_waiting_first(timed):
    store, clock = timed
    seeded = seed(store, clock)
    later = new_run(store, "fp-later", "AttributeError")
    clock.advance(hours=2)
    walk(store, later, (RunState.PUBLISHING, "opening", None),
         (RunState.PROPOSED, "draft pull request opened", None))
    items = awaiting_review(store)
    assert [item.run_id for item in items] == [seeded.proposed, later]
    assert items[0].url.endswith("/pull/7") and items[0].proposed_at < items[1].proposed_at


def test_skips_are_grouped_by_reason_most_frequent_first(timed):
    store, clock = timed
    seeded = seed(store, clock)
    groups = skipped_by_reason(store)
    assert [(g.count, len(g.latest)) for g in groups] == [(2, 2), (1, 1)]
    assert groups[0].reason.startswith("level 'warning'")
    assert {s.run_id for s in groups[0].latest} == set(seeded.skipped[:2])


def test_a_skipped_run_is_retried_from_triage(timed, tmp_path):
    store, clock = timed
    seeded = seed(store, clock)
    actors = SentFor()
    done = actions.retry(store, actors, make_settings(tmp_path), seeded.skipped[0], "Ann")
    assert done.done and store.get_run(seeded.skipped[0]).state == RunState.NEW
    assert actors.sent == [(seeded.skipped[0], RunState.NEW)]


@pytest.mark.parametrize("state", [RunState.MERGED, RunState.CLOSED, RunState.TICKETED])
def test_runs_whose_change_is_settled_are_not_retried(timed, tmp_path, state):
    store, clock = timed
    run_id = new_run(store, "fp-settled", "Error")
    walk(store, run_id, (state, "settled", None))
    actors = SentFor()
    done = actions.retry(store, actors, make_settings(tmp_path), run_id, "Ann")
    assert not done.done and done.status == 409 and "was not retried" in done.message
    assert actors.sent == [] and store.get_run(run_id).state == state


def test_the_retry_cap_of_a_pull_request_holds(timed, tmp_path):
    store, clock = timed
    seeded = seed(store, clock)
    settings = make_settings(tmp_path, follow={"max_retries": 1})
    actors = SentFor()
    assert actions.retry(store, actors, settings, seeded.proposed, "Ann").done
    walk(store, seeded.proposed, (RunState.PROPOSED, "revised", None))
    again = actions.retry(store, actors, settings, seeded.proposed, "Ann")
    assert not again.done and "cap of 1" in again.message
    assert len(actors.sent) == 1


def test_ignore_marks_the_cluster_and_notes_it_on_the_latest_run(timed):
    store, clock = timed
    seeded = seed(store, clock)
    cluster_id = store.get_run(seeded.failed).cluster_id
    assert actions.ignore(store, cluster_id, "Ann", "noise").done
    assert store.get_cluster(cluster_id).status == ClusterStatus.IGNORED
    last = store.transitions(seeded.failed)[-1]
    assert last.from_state == "failed" and last.to_state == RunState.FAILED
    assert "Ann" in last.reason and "noise" in last.reason
    assert actions.ignore(store, 424242, "Ann", "x").status == 404
