"""kill -9 of a worker at every stage boundary, fix and verify included, repeated.

One crash of the sample shop goes in as a signed Sentry webhook. Workers are started one after
another, each killing itself at the first boundary it reaches that is still owed a kill
(`dying_worker.py`): before and after ingestion, triage, correlation, the fix, the verification
and the publication, and before the fix and the verification a second time, so a message
redelivered after a kill is killed again. A plain worker then finishes. Nothing may be lost
(the run ends proposed, with its verified patch) and nothing done twice (one pull request, one
branch, one publication, one transition into each state).
"""

from __future__ import annotations

import subprocess
from collections import Counter

import pytest

from tests.proposal_hosts import GITHUB_TOKEN, start_host
from tests.reliability.dying_worker import BOUNDARIES
from tests.reliability.stack import Stack, crash_webhook, wait_until
from worker.demo.sample import build_sample_repo
from worker.models import RunState

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SCHEDULE = [*BOUNDARIES, "fix:before", "verify:before"]


@pytest.fixture
def world(tmp_path):
    shop = build_sample_repo(tmp_path / "shop")
    host = start_host("github", tmp_path / "host", shop.path)
    stack = Stack(tmp_path, shop.path, host.standin.url, GITHUB_TOKEN)
    yield stack, host, shop
    stack.stop()
    host.stop()


def test_a_run_killed_at_every_stage_boundary_ends_with_one_pull_request(world):
    stack, host, shop = world
    stack.start_web()
    stack.start_scheduler()
    assert stack.post(crash_webhook(shop, "/cart/average", "cart=empty", "4201")).status_code == 202
    while len(stack.kills()) < len(SCHEDULE):
        dying = stack.start_worker(SCHEDULE)
        wait_until(lambda proc=dying: proc.poll() is not None or stack.all_settled(1), 240,
                   f"a kill (made so far: {stack.kills()})\n{stack.logs()}")
        # The last kill comes just after the run's last transition: the run may look settled
        # a moment before the worker is dead. One that owes nothing more lives on.
        assert _exit_code(dying, 30) == -9, (
            f"the run settled owing kills; made {stack.kills()}; runs "
            f"{[(run.id, run.state.value, run.reason) for run in stack.runs()]}\n{stack.logs()}")
    assert Counter(stack.kills()) == Counter(SCHEDULE)

    stack.start_worker()
    wait_until(lambda: stack.all_settled(1), 240, f"the run to settle\n{stack.logs()}")
    [run] = stack.runs()
    assert run.state == RunState.PROPOSED, (run.state, run.reason, stack.logs())
    assert run.record.fix is not None and run.record.fix.chosen is not None
    changes = host.changes()
    assert len(changes) == 1 and changes[0]["draft"]
    fix_branches = [name for name in host.branches() if name.startswith("suture/")]
    assert fix_branches == [changes[0]["branch"]]
    assert stack.store.count_publications("pull_request") == 1
    entered = Counter(t.to_state for t in stack.store.transitions(run.id))
    assert all(count == 1 for count in entered.values()), entered
    assert not stack.give_ups()


def _exit_code(process: subprocess.Popen[bytes], seconds: float) -> int | None:
    """`process`'s exit code once it exits within `seconds`; None if it is still running."""
    try:
        return process.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None
