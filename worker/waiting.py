"""Waiting is not failing: a run whose publication lease is held (by a live worker, or by a dead
one whose request may still land) is deferred until the lease runs out, spending no attempt.

The actors call `wait_for_lease` before counting an attempt, and give the attempt back when the
stage itself finds the lease held (`refund_attempt`); the reconciler leaves such runs alone.
"""

from __future__ import annotations

from worker.stages.deps import Deferred, Deps
from worker.store.waiting import lease_held_until, refund_attempt

__all__ = ["refund_attempt", "wait_for_lease"]


def wait_for_lease(deps: Deps, run_id: int) -> None:
    """Raise `Deferred` (until the lease runs out) when a live run waits on a held lease."""
    run = deps.store.get_run(run_id)
    if run is None or run.state.terminal:
        return
    until = lease_held_until(deps.store, run_id, deps.now())
    if until is not None:
        raise Deferred(f"run {run_id} waits for a publication lease held until "
                       f"{until.isoformat(timespec='seconds')}", until)
