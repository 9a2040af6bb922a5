"""`SqlStore`: the one store, on SQLite or PostgreSQL, speaking suture's models.

Each public method is one short transaction. State changes of a run are conditional updates
(`WHERE state = expected`), so two workers handling the same redelivered message cannot both move
a run forward; the loser sees False and stops. The methods on deliveries, run leases, cursors,
publications and scheduler slots are in their own modules, mixed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import or_, select, update
from sqlalchemy.orm import Session, sessionmaker

from worker.models import (
    Cluster,
    ClusterStatus,
    ErrorEvent,
    IngestOutcome,
    RunState,
    Transition,
)
from worker.runs import Run, RunRecord
from worker.store import history, recording, releases
from worker.store.coordination import Coordination
from worker.store.deliveries import Deliveries
from worker.store.engine import make_engine, upgrade
from worker.store.run_leases import RunLeases
from worker.store.tables import ClusterRow, EventRow, RunRow, TransitionRow

Clock = Callable[[], datetime]


def utc_now() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


class SqlStore(Deliveries, RunLeases, Coordination):
    """The store. `migrate()` once before use (the CLI and the app do it).

    Events, clusters and runs are here; deliveries, run leases and the processes'
    coordination (cursors, publications, scheduler slots) come from the mixins."""

    def __init__(self, url: str, clock: Clock = utc_now) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._clock = clock

    def migrate(self) -> None:
        """Create or upgrade the schema."""
        upgrade(self.engine)

    def close(self) -> None:
        """Release every pooled connection."""
        self.engine.dispose()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A transaction: committed on success, rolled back on error."""
        with self._sessions() as session, session.begin():
            yield session

    # events and clusters ------------------------------------------------------------------

    def record_event(self, event: ErrorEvent, fingerprint: str, sample_size: int) -> IngestOutcome:
        """Dedupe, cluster and sample one event; opens a run for a new cluster or a regression."""
        with self.session() as session:
            outcome = recording.record_event(session, event, fingerprint, self._clock(),
                                             sample_size)
        if outcome.run_id is not None:  # a run was opened, with its first transition
            history.log_transition(outcome.run_id, "", RunState.NEW,
                                   "regression" if outcome.regression else "new cluster")
        return outcome

    def get_cluster(self, cluster_id: int) -> Cluster | None:
        """A cluster by id, with its distinct-user count."""
        with self.session() as session:
            row = session.get(ClusterRow, cluster_id)
            if row is None:
                return None
            return _cluster(row, recording.user_count(session, cluster_id))

    def find_cluster(self, fingerprint: str) -> Cluster | None:
        """A cluster by fingerprint."""
        with self.session() as session:
            row = session.scalars(select(ClusterRow).where(
                ClusterRow.fingerprint == fingerprint)).one_or_none()
            return None if row is None else _cluster(row, recording.user_count(session, row.id))

    def list_clusters(self) -> list[Cluster]:
        """Every cluster, most recently seen first."""
        with self.session() as session:
            rows = session.scalars(select(ClusterRow).order_by(ClusterRow.last_seen.desc())).all()
            return [_cluster(row, recording.user_count(session, row.id)) for row in rows]

    def set_cluster_status(self, cluster_id: int, status: ClusterStatus) -> None:
        """Mark a cluster open, resolved or ignored."""
        with self.session() as session:
            session.execute(update(ClusterRow).where(ClusterRow.id == cluster_id)
                            .values(status=status.value))

    def cluster_events(self, cluster_id: int) -> list[ErrorEvent]:
        """The kept sample of a cluster's events, newest first."""
        with self.session() as session:
            rows = session.scalars(select(EventRow).where(EventRow.cluster_id == cluster_id)
                                   .order_by(EventRow.timestamp.desc(), EventRow.id.desc()))
            return [ErrorEvent.model_validate(row.payload) for row in rows]

    def previous_release(self, project: str, release: str) -> str | None:
        """The release of `project` first seen last before `release` was first seen.

        It is where new code starts: commits in `release` but not in the one before it were
        deployed when the error appeared. None if `release` is unknown or the first one seen.
        """
        with self.session() as session:
            return releases.previous(session, project, release)

    # runs ---------------------------------------------------------------------------------

    def get_run(self, run_id: int) -> Run | None:
        """A run by id."""
        with self.session() as session:
            row = session.get(RunRow, run_id)
            return None if row is None else _run(row)

    def list_runs(self, cluster_id: int | None = None) -> list[Run]:
        """Runs, oldest first, optionally of one cluster."""
        with self.session() as session:
            query = select(RunRow).order_by(RunRow.id)
            if cluster_id is not None:
                query = query.where(RunRow.cluster_id == cluster_id)
            return [_run(row) for row in session.scalars(query)]

    def start_attempt(self, run_id: int) -> int:
        """Count one stage attempt on a run (also its heartbeat); returns the attempt number."""
        with self.session() as session:
            row = session.get(RunRow, run_id, with_for_update=True)
            if row is None:
                return 0
            row.attempts += 1
            row.updated_at = self._clock()
            return row.attempts

    def transition(self, run_id: int, expected: RunState, new: RunState, reason: str, *,
                   record: RunRecord | None = None) -> bool:
        """Move a run from `expected` to `new` with a reason; False if it was not in `expected`.
        The parts `record` carries replace the run's; its other parts are kept."""
        now = self._clock()
        values: dict[str, Any] = {"state": new.value, "reason": reason, "updated_at": now,
                                  "attempts": 0}
        with self.session() as session:
            written = record.stored() if record is not None else {}
            if written:
                row = session.get(RunRow, run_id)
                if row is not None:
                    values["details"] = {**(row.details or {}), **written}
            result = session.execute(update(RunRow).where(
                RunRow.id == run_id, RunRow.state == expected.value).values(**values))
            if not result.rowcount:  # type: ignore[attr-defined]
                return False
            session.add(TransitionRow(run_id=run_id, from_state=expected.value,
                                      to_state=new.value, reason=reason, at=now))
        history.log_transition(run_id, expected.value, new, reason)  # once committed
        return True

    def set_ticket(self, run_id: int, url: str) -> None:
        """Remember where a run's ticket was filed."""
        with self.session() as session:
            session.execute(update(RunRow).where(RunRow.id == run_id).values(ticket_url=url))

    def transitions(self, run_id: int) -> list[Transition]:
        """A run's history, oldest first."""
        with self.session() as session:
            rows = session.scalars(select(TransitionRow).where(TransitionRow.run_id == run_id)
                                   .order_by(TransitionRow.id))
            return [Transition(from_state=row.from_state, to_state=RunState(row.to_state),
                               reason=row.reason, at=recording.as_utc(row.at)) for row in rows]

    def count_transitions(self, to_state: RunState, since: datetime,
                          reason_prefix: str | None = None,
                          cluster_id: int | None = None) -> int:
        """How many times runs entered `to_state` since `since` (optionally: with a reason
        starting `reason_prefix`, or of one cluster's runs); budgets and cooldowns count these."""
        with self.session() as session:
            query = select(TransitionRow.id).where(TransitionRow.to_state == to_state.value,
                                                   TransitionRow.at >= since)
            if reason_prefix is not None:
                query = query.where(TransitionRow.reason.startswith(reason_prefix,
                                                                     autoescape=True))
            if cluster_id is not None:
                query = query.join(RunRow, RunRow.id == TransitionRow.run_id).where(
                    RunRow.cluster_id == cluster_id)
            return len(session.scalars(query).all())

    def stuck_runs(self, older_than: datetime) -> list[Run]:
        """Runs in a non-terminal state not touched since `older_than`, and not held by a
        worker running one of their stages (a held run is being worked on, however long)."""
        live = [state.value for state in RunState if not state.terminal]
        now = self._clock()
        with self.session() as session:
            rows = session.scalars(select(RunRow).where(
                RunRow.state.in_(live), RunRow.updated_at < older_than,
                or_(RunRow.lease_until.is_(None), RunRow.lease_until <= now))
                .order_by(RunRow.id))
            return [_run(row) for row in rows]


def _cluster(row: ClusterRow, users: int) -> Cluster:
    cluster = Cluster.model_validate(row, from_attributes=True)
    return cluster.model_copy(update={
        "user_count": users,
        "first_seen": recording.as_utc(row.first_seen),
        "last_seen": recording.as_utc(row.last_seen),
    })


def _run(row: RunRow) -> Run:
    return Run(id=row.id, cluster_id=row.cluster_id, episode=row.episode,
               state=RunState(row.state), reason=row.reason, attempts=row.attempts,
               ticket_url=row.ticket_url, record=RunRecord.load(row.details),
               dispatched=row.dispatched or "",
               created_at=recording.as_utc(row.created_at),
               updated_at=recording.as_utc(row.updated_at))
