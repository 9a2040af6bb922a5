"""Runs waiting on a live publication lease: what the reconciler and the actors ask the store.

A publication lease (`SqlStore.lease_publication`) is held while a worker makes something
outside (a ticket, a pull request, a notice), and a dead worker's lease is kept until it runs
out, because its request may still land. A run waiting on such a lease is not stuck: it is not
re-sent, and a delivery of its message that only finds the lease held spends no attempt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select, update

from worker.store import recording
from worker.store.sql import SqlStore
from worker.store.tables import PublicationRow, RunRow


def live_leases(store: SqlStore, now: datetime, run_ids: list[int] | None = None
                ) -> dict[int, datetime]:
    """Runs (of `run_ids`, or all) with a publication whose lease is still live at `now`,
    each with the moment its last live lease runs out."""
    with store.session() as session:
        query = (select(PublicationRow.run_id, func.max(PublicationRow.lease_until))
                 .where(PublicationRow.status != "done", PublicationRow.lease_until.is_not(None),
                        PublicationRow.lease_until >= now)
                 .group_by(PublicationRow.run_id))
        if run_ids is not None:
            query = query.where(PublicationRow.run_id.in_(run_ids))
        return {run_id: recording.as_utc(until) for run_id, until in session.execute(query)
                if until is not None}


def lease_held_until(store: SqlStore, run_id: int, now: datetime) -> datetime | None:
    """When the live publication lease `run_id` waits on runs out; None when there is none."""
    return live_leases(store, now, [run_id]).get(run_id)


def release_publication(store: SqlStore, key: str, owner: str) -> None:
    """Give back a publication lease its holder no longer needs: its request was answered with
    an error, so nothing of it is in flight, and the next attempt need not wait the lease out
    (it starts by looking on the host, as every attempt does)."""
    with store.session() as session:
        session.execute(update(PublicationRow).where(
            PublicationRow.key == key, PublicationRow.lease_owner == owner,
            PublicationRow.status != "done").values(lease_owner="", lease_until=None))


def refund_attempt(store: SqlStore, run_id: int) -> None:
    """Take back the attempt counted for a delivery that only found the run waiting."""
    with store.session() as session:
        session.execute(update(RunRow).where(RunRow.id == run_id, RunRow.attempts > 0)
                        .values(attempts=RunRow.attempts - 1))
