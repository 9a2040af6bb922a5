"""Redis and PostgreSQL restarted in the middle of runs.

Redis runs without persistence here, so its restart loses every queued and in-flight message:
the store's reconciler must find the runs and deliveries again. A second crash arrives while
Redis is down: the web process keeps it and acknowledges it, and it is processed when Redis is
back. PostgreSQL's fast restart cuts every open connection while a stage is working, and the
database stays away for five seconds: the stage's statements and its lease renewals fail
meanwhile, and the run must still end once.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.proposal_hosts import GITHUB_TOKEN, start_host
from tests.reliability.stack import Stack, crash_webhook, wait_until
from worker.demo.sample import build_sample_repo
from worker.models import RunState

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

MID_RUN = {RunState.FIXING, RunState.PATCHED, RunState.VERIFYING}


@pytest.fixture
def world(tmp_path):
    shop = build_sample_repo(tmp_path / "shop")
    host = start_host("github", tmp_path / "host", shop.path)
    stack = Stack(tmp_path, shop.path, host.standin.url, GITHUB_TOKEN)
    yield stack, host, shop
    stack.stop()
    host.stop()


def _once_each(stack: Stack) -> None:
    """Every run settled, none given up, each published once, no state entered twice."""
    runs = stack.runs()
    assert not stack.give_ups(), stack.give_ups()
    for run in runs:
        entered = Counter(t.to_state for t in stack.store.transitions(run.id))
        assert all(count == 1 for count in entered.values()), (run.id, entered)
    kinds = Counter(run.record.publication.kind for run in runs if run.record.publication)
    assert sum(kinds.values()) == len(runs), kinds
    assert stack.store.count_publications() == len(runs)


def test_redis_restarted_mid_run_loses_no_run_and_duplicates_nothing(world):
    stack, host, shop = world
    stack.start_web()
    stack.start_scheduler()
    stack.start_worker()
    assert stack.post(crash_webhook(shop, "/cart/average", "cart=empty", "4201")).status_code == 202
    wait_until(lambda: any(run.state in MID_RUN for run in stack.runs()), 240,
               f"the run to reach the agent stages\n{stack.logs()}")
    stack.redis.stop()
    # Accepted while the broker is down: stored before the answer, enqueued later.
    second = crash_webhook(shop, "/cart/discount", "cart=full&code=NOPE", "4202")
    assert stack.post(second).status_code == 202
    stack.redis.start()
    wait_until(lambda: stack.all_settled(2), 300, f"both runs to settle\n{stack.logs()}")
    _once_each(stack)
    assert len(host.changes()) == sum(1 for run in stack.runs()
                                      if run.state == RunState.PROPOSED)


def test_postgres_restarted_mid_run_loses_no_run_and_duplicates_nothing(world):
    stack, host, shop = world
    stack.start_web()
    stack.start_scheduler()
    stack.start_worker()
    assert stack.post(crash_webhook(shop, "/cart/average", "cart=empty", "4201")).status_code == 202
    wait_until(lambda: any(run.state in MID_RUN for run in stack.runs()), 240,
               f"the run to reach the agent stages\n{stack.logs()}")
    stack.postgres.restart(down_seconds=5)
    wait_until(lambda: stack.all_settled(1), 300, f"the run to settle\n{stack.logs()}")
    _once_each(stack)
    [run] = stack.runs()
    assert run.state == RunState.PROPOSED, (run.state, run.reason)
    assert len(host.changes()) == 1
