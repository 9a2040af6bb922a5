"""Runs' histories read back: transitions by id (what `suture status --follow`, `suture runs
show` and the demo print) and the one log line every transition gets.

Transition ids only grow, so a reader that remembers the last id it saw asks for what came
after it and never misses or repeats one, whichever process wrote it.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from pydantic import BaseModel
from sqlalchemy import func, select

from worker.models import RunState
from worker.scrub import scrub_text
from worker.store import recording
from worker.store.tables import TransitionRow

if TYPE_CHECKING:  # `SqlStore.transition` logs through this module
    from worker.store.sql import SqlStore

log = logging.getLogger("suture.runs")


class TransitionEntry(BaseModel):
    """One state change of a run, with its id in the store."""

    id: int
    run_id: int
    from_state: str
    to_state: RunState
    reason: str
    at: datetime


def log_transition(run_id: int, old: str, new: RunState, reason: str) -> None:
    """The INFO line a run's state change gets (`old` is "" for a run just opened); the reason
    is scrubbed: it may quote an error."""
    clean = scrub_text(reason)
    log.info("run %d: %s -> %s: %s", run_id, old or "-", new.value, clean,
             extra={"run_id": run_id, "from_state": old, "state": new.value, "reason": clean})


def transitions_after(store: SqlStore, after_id: int = 0, *, run_id: int | None = None,
                      limit: int = 500) -> list[TransitionEntry]:
    """Transitions with an id above `after_id`, oldest first, at most `limit` of them
    (optionally of one run)."""
    query = select(TransitionRow).where(TransitionRow.id > after_id)
    if run_id is not None:
        query = query.where(TransitionRow.run_id == run_id)
    with store.session() as session:
        rows = session.scalars(query.order_by(TransitionRow.id).limit(limit))
        return [_entry(row) for row in rows]


def last_transition_id(store: SqlStore) -> int:
    """The id of the newest transition (0 when there is none)."""
    with store.session() as session:
        return session.scalar(select(func.max(TransitionRow.id))) or 0


def _entry(row: TransitionRow) -> TransitionEntry:
    return TransitionEntry(id=row.id, run_id=row.run_id, from_state=row.from_state,
                           to_state=RunState(row.to_state), reason=row.reason,
                           at=recording.as_utc(row.at))
