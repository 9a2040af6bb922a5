"""What processes coordinate through the store: each poller's cursor, the publication leases
that make a ticket or pull request happen once, and the scheduler's claimed ticks."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session

from worker.models import Lease
from worker.store import recording
from worker.store.tables import CursorRow, PublicationRow, SlotRow
from worker.store.upsert import insert_ignoring_conflict


class Coordination:
    """The store's methods for cursors, publications and scheduler slots (mixed into
    `SqlStore`)."""

    _clock: Callable[[], datetime]
    session: Callable[[], AbstractContextManager[Session]]

    def get_cursor(self, source: str) -> str | None:
        """Where the poller of `source` stopped."""
        with self.session() as session:
            row = session.get(CursorRow, source)
            return None if row is None else row.value

    def set_cursor(self, source: str, value: str) -> None:
        """Persist a poller's position."""
        with self.session() as session:
            row = session.get(CursorRow, source, with_for_update=True)
            if row is None:
                session.add(CursorRow(source=source, value=value, updated_at=self._clock()))
            else:
                row.value, row.updated_at = value, self._clock()

    def lease_publication(self, key: str, run_id: int, kind: str, owner: str,
                          ttl_seconds: float) -> Lease:
        """Record the intent to publish under `key` and try to take its lease.

        Only one owner holds a live lease; a crashed holder's lease runs out after `ttl_seconds`,
        which must outlast any request the holder may still have in flight.
        """
        now = self._clock()
        with self.session() as session:
            insert_ignoring_conflict(session, PublicationRow, {
                "key": key, "run_id": run_id, "kind": kind, "status": "intent",
                "external_ref": "", "url": "", "lease_owner": "", "lease_until": None,
                "created_at": now, "updated_at": now})
            taken = session.execute(update(PublicationRow).where(
                PublicationRow.key == key, PublicationRow.status != "done",
                or_(PublicationRow.lease_until.is_(None), PublicationRow.lease_until < now),
            ).values(lease_owner=owner, lease_until=now + timedelta(seconds=ttl_seconds),
                     updated_at=now).returning(PublicationRow.id)).first() is not None
            row = session.scalars(select(PublicationRow).where(PublicationRow.key == key)).one()
            until = recording.as_utc(row.lease_until) if row.lease_until else None
            return Lease(status=row.status, url=row.url, owned=taken, until=until)

    def complete_publication(self, key: str, external_ref: str, url: str) -> None:
        """Mark a publication done, with where it lives."""
        with self.session() as session:
            session.execute(update(PublicationRow).where(PublicationRow.key == key).values(
                status="done", external_ref=external_ref, url=url, lease_owner="",
                lease_until=None, updated_at=self._clock()))

    def count_publications(self, kind: str | None = None) -> int:
        """How many publications are recorded (done or not)."""
        with self.session() as session:
            query = select(PublicationRow.id)
            if kind:
                query = query.where(PublicationRow.kind == kind)
            return len(session.scalars(query).all())

    def claim_slot(self, job: str, slot: str) -> bool:
        """Claim a scheduled tick; False if some scheduler already did."""
        with self.session() as session:
            return insert_ignoring_conflict(session, SlotRow, {
                "job": job, "slot": slot, "claimed_at": self._clock()})
