"""Holding a run while one of its stages runs: one stage at a time per run, however long.

A fix can take most of an hour. Without a lease, the reconciler would take a slow run for a lost
one and send it again, and a second worker would run the same stage at the same time in the same
folders. So a stage first claims its run's lease and a background thread renews it every third
of the lease while the stage works; a message that finds the run held waits (`RunBusy`) until
the lease would end, and spends no attempt. A worker that dies stops renewing, so its lease runs
out one lease period later and the run's next message, or the reconciler, takes over.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from worker.store import SqlStore

log = logging.getLogger("suture.leasing")


class RunBusy(Exception):
    """Another worker is running a stage of this run; try again at `until`."""

    def __init__(self, run_id: int, until: datetime) -> None:
        super().__init__(f"run {run_id} is being worked on until {until.isoformat()}")
        self.run_id = run_id
        self.until = until


@contextmanager
def holding(store: SqlStore, run_id: int, seconds: float) -> Iterator[str]:
    """Hold `run_id`'s lease for the block, renewed in the background; raises `RunBusy` when
    someone else holds it. Yields this holder's id."""
    owner = uuid.uuid4().hex
    held_until = store.claim_run(run_id, owner, seconds)
    if held_until is not None:
        raise RunBusy(run_id, held_until)
    stop = threading.Event()
    renewer = threading.Thread(target=_renew, args=(store, run_id, owner, seconds, stop),
                               name=f"lease-run-{run_id}", daemon=True)
    renewer.start()
    try:
        yield owner
    finally:
        stop.set()
        renewer.join(timeout=5)
        try:
            store.release_run(run_id, owner)
        except Exception as exc:  # the database is away: the lease runs out by itself
            log.warning("run %s: could not give its lease back (%s)", run_id, exc)


def _renew(store: SqlStore, run_id: int, owner: str, seconds: float,
           stop: threading.Event) -> None:
    while not stop.wait(seconds / 3):
        try:
            if not store.renew_run(run_id, owner, seconds):
                log.warning("run %s: lease lost while its stage was running", run_id)
                return
        except Exception as exc:  # the database is away for a moment: try again next tick
            log.warning("run %s: could not renew its lease (%s)", run_id, exc)
