"""Read queries for reports (the weekly digest): what a week left in the store, as typed rows.

Kept apart from `SqlStore` so reporting grows here and not in the store's write path. Every
query is bounded by the week passed in; nothing here reads the clock.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field
from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from worker.models import RunState
from worker.runs import Run
from worker.store import recording
from worker.store.sql import SqlStore, _run
from worker.store.tables import ClusterRow, EventRow, RunRow, SlotRow, TransitionRow

# After these a pull request is no longer open (a recurrence opens a new run).
DECIDED = (RunState.MERGED, RunState.CLOSED, RunState.HELD, RunState.RECURRED)


class ClusterSighting(BaseModel):
    """A cluster seen in the week: its title and its first and last events ever."""

    id: int
    title: str
    project: str = ""
    first_seen: datetime
    last_seen: datetime


class EventSighting(BaseModel):
    """One kept event of the week."""

    cluster_id: int
    at: datetime


class RunTransition(BaseModel):
    """One state change of a run, with its id so changes at the same instant keep their order."""

    id: int
    run_id: int
    from_state: str
    to_state: RunState
    reason: str
    at: datetime


class WeekRows(BaseModel):
    """Everything the digest of [start, end) reads: the clusters seen and their kept events,
    and the runs that moved in the week or had a pull request open before its end, with each
    one's transitions before the end."""

    start: datetime
    end: datetime
    clusters: list[ClusterSighting] = Field(default_factory=list)
    events: list[EventSighting] = Field(default_factory=list)
    runs: list[Run] = Field(default_factory=list)
    transitions: list[RunTransition] = Field(default_factory=list)


def week_rows(store: SqlStore, start: datetime, end: datetime) -> WeekRows:
    """The rows of the week [start, end)."""
    with store.session() as session:
        events = _events(session, start, end)
        clusters = _clusters(session, start, end, {event.cluster_id for event in events})
        run_ids = _run_ids(session, start, end)
        runs = [_run(row) for row in session.scalars(
            select(RunRow).where(RunRow.id.in_(run_ids)).order_by(RunRow.id))] if run_ids else []
        transitions = _transitions(session, run_ids, end) if run_ids else []
    return WeekRows(start=start, end=end, clusters=clusters, events=events, runs=runs,
                    transitions=transitions)


def _events(session: Session, start: datetime, end: datetime) -> list[EventSighting]:
    rows = session.execute(select(EventRow.cluster_id, EventRow.timestamp).where(
        EventRow.timestamp >= start, EventRow.timestamp < end).order_by(EventRow.id))
    return [EventSighting(cluster_id=cluster_id, at=recording.as_utc(at))
            for cluster_id, at in rows]


def _clusters(session: Session, start: datetime, end: datetime,
              with_events: set[int]) -> list[ClusterSighting]:
    # A cluster's first and last sightings are real event times: either in the week means it
    # was seen even when its sample no longer holds that event.
    seen = or_(ClusterRow.first_seen.between(start, end), ClusterRow.last_seen.between(start, end))
    if with_events:
        seen = or_(seen, ClusterRow.id.in_(with_events))
    rows = session.scalars(select(ClusterRow).where(seen).order_by(ClusterRow.id))
    found = [ClusterSighting(id=row.id, title=row.title, project=row.project,
                             first_seen=recording.as_utc(row.first_seen),
                             last_seen=recording.as_utc(row.last_seen)) for row in rows]
    # `between` includes `end`; the week does not.
    return [c for c in found if c.id in with_events or start <= c.first_seen < end
            or start <= c.last_seen < end]


def _run_ids(session: Session, start: datetime, end: datetime) -> list[int]:
    moved = select(TransitionRow.run_id).where(TransitionRow.at >= start, TransitionRow.at < end)
    # Open pull requests may be stale at the week's end without moving in it; one decided
    # before the week began cannot be.
    proposed = select(TransitionRow.run_id).where(
        TransitionRow.to_state == RunState.PROPOSED.value, TransitionRow.at < end)
    decided = select(TransitionRow.run_id).where(
        TransitionRow.to_state.in_([state.value for state in DECIDED]), TransitionRow.at < start)
    still_open = set(session.scalars(proposed)) - set(session.scalars(decided))
    return sorted(set(session.scalars(moved)) | still_open)


def _transitions(session: Session, run_ids: list[int], end: datetime) -> list[RunTransition]:
    rows = session.scalars(select(TransitionRow).where(
        TransitionRow.run_id.in_(run_ids), TransitionRow.at < end).order_by(TransitionRow.id))
    return [RunTransition(id=row.id, run_id=row.run_id, from_state=row.from_state,
                          to_state=RunState(row.to_state), reason=row.reason,
                          at=recording.as_utc(row.at)) for row in rows]


def slot_taken(store: SqlStore, job: str, slot: str) -> bool:
    """True when some scheduler or sender claimed (`job`, `slot`) already."""
    with store.session() as session:
        return session.get(SlotRow, (job, slot)) is not None


def release_slot(store: SqlStore, job: str, slot: str) -> None:
    """Give a claim back, so a send that failed for now is tried again by the next claimer."""
    with store.session() as session:
        session.execute(delete(SlotRow).where(SlotRow.job == job, SlotRow.slot == slot))
