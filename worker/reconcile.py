"""The reconciler: re-sends work the broker lost or a dead worker left behind.

The database is the source of truth. A run in a non-terminal state that nobody has touched for
`stuck_after_seconds`, or a delivery still pending after as long, gets its message sent again;
the stages are idempotent, so a re-send that races a slow worker is harmless. A re-send counts as
a touch: the next one comes a whole `stuck_after` later, so workers that are away for a while find
one message per run waiting, not one per reconciler pass. A run waiting on
a live publication lease is left alone until the lease runs out (`worker.store.waiting`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from worker.actors import Actors
from worker.stages import Deps
from worker.store.waiting import live_leases

log = logging.getLogger("suture.reconcile")


@dataclass
class ReconcileReport:
    """What one pass re-sent."""

    runs: list[int]
    deliveries: list[int]


def reconcile(deps: Deps, actors: Actors, now: datetime,
              stuck_after: timedelta | None = None) -> ReconcileReport:
    """Re-send messages for stuck runs and pending deliveries older than `stuck_after`."""
    horizon = now - (stuck_after if stuck_after is not None
                     else timedelta(seconds=deps.settings.stuck_after_seconds))
    stuck = deps.store.stuck_runs(horizon)
    # A run waiting on a live publication lease is not stuck: its holder may still finish, and
    # a dead holder's lease runs out, after which the run is re-sent like any other.
    waiting = live_leases(deps.store, now, [run.id for run in stuck]) if stuck else {}
    runs = [run.id for run in stuck
            if run.id not in waiting and actors.send_for_state(run.id, run.state)]
    deliveries = deps.store.pending_deliveries(horizon)
    for delivery_id in deliveries:
        delivery = deps.store.get_delivery(delivery_id)
        # A code host's delivery goes to its follow-up, an error report to ingestion.
        actors.send_for_delivery(delivery_id, delivery.source if delivery else "")
    if runs or deliveries:
        deps.store.touch(runs, deliveries, now)
        log.info("reconciler re-sent runs %s and deliveries %s", runs, deliveries)
    return ReconcileReport(runs=runs, deliveries=deliveries)
