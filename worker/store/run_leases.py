"""The lease a worker holds on a run while it runs one of the run's stages.

Claiming is one conditional update: it succeeds when nobody holds the run, the holder's lease
has run out, or the claimer holds it already. So of two messages for the same run (a broker
redelivery racing a reconciler re-send, say) only one runs the stage; the other learns until
when the run is taken and waits that long. A worker that dies stops renewing, and its lease
runs out after one lease period.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from worker.store.tables import DeliveryRow, RunRow


def claim(session: Session, run_id: int, owner: str, until: datetime,
          now: datetime) -> datetime | None:
    """Take the run's lease until `until`; None when taken, else when the holder's lease ends."""
    result = session.execute(update(RunRow).where(
        RunRow.id == run_id,
        or_(RunRow.lease_until.is_(None), RunRow.lease_until <= now, RunRow.lease_owner == owner),
    ).values(lease_owner=owner, lease_until=until, updated_at=now))
    if result.rowcount:  # type: ignore[attr-defined]
        return None
    held = session.scalars(select(RunRow.lease_until).where(RunRow.id == run_id)).first()
    return held if held is not None else now  # the run is gone: nothing to wait for


def renew(session: Session, run_id: int, owner: str, until: datetime, now: datetime) -> bool:
    """Extend a lease this owner holds (also the run's heartbeat); False if it was lost."""
    result = session.execute(update(RunRow).where(
        RunRow.id == run_id, RunRow.lease_owner == owner,
    ).values(lease_until=until, updated_at=now))
    return bool(result.rowcount)  # type: ignore[attr-defined]


def release(session: Session, run_id: int, owner: str) -> None:
    """Give the lease back, if this owner still holds it."""
    session.execute(update(RunRow).where(RunRow.id == run_id, RunRow.lease_owner == owner)
                    .values(lease_owner="", lease_until=None))


def as_utc(moment: datetime) -> datetime:
    """A stored time as timezone-aware UTC (SQLite hands them back naive)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


class RunLeases:
    """The store's methods for run leases and the reconciler's touch (mixed into `SqlStore`)."""

    _clock: Callable[[], datetime]
    session: Callable[[], AbstractContextManager[Session]]

    def claim_run(self, run_id: int, owner: str, seconds: float) -> datetime | None:
        """Take a run's stage lease for `seconds`; None if taken, else when the holder's ends."""
        now = self._clock()
        with self.session() as session:
            held = claim(session, run_id, owner, now + timedelta(seconds=seconds), now)
        return None if held is None else as_utc(held)

    def renew_run(self, run_id: int, owner: str, seconds: float) -> bool:
        """Extend a run's stage lease this owner holds; False if it was lost."""
        now = self._clock()
        with self.session() as session:
            return renew(session, run_id, owner, now + timedelta(seconds=seconds), now)

    def release_run(self, run_id: int, owner: str) -> None:
        """Give a run's stage lease back."""
        with self.session() as session:
            release(session, run_id, owner)

    def mark_dispatched(self, run_id: int, state: str) -> None:
        """Remember that the message moving the run on from `state` has been sent."""
        with self.session() as session:
            session.execute(update(RunRow).where(RunRow.id == run_id).values(dispatched=state))

    def touch(self, runs: list[int], deliveries: list[int], now: datetime) -> None:
        """Mark runs and deliveries as just re-sent, so the reconciler waits a whole
        `stuck_after` again before the next re-send rather than flooding the queue while the
        workers are away. `now` is the reconciler's time."""
        with self.session() as session:
            if runs:
                session.execute(update(RunRow).where(RunRow.id.in_(runs)).values(updated_at=now))
            if deliveries:
                session.execute(update(DeliveryRow).where(DeliveryRow.id.in_(deliveries))
                                .values(updated_at=now))
