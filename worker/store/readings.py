"""Figures read from the store at scrape time, for `/metrics` (`worker.metrics`).

The web, the workers and the scheduler are separate processes; the store is what they share, so
reading it when Prometheus asks gives one process a view of all of them without any
multiprocess bookkeeping. Each function is one read-only query.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select

from worker.store.tables import DeliveryRow, RunRow, TransitionRow

if TYPE_CHECKING:
    from worker.store.sql import SqlStore


def runs_by_state(store: SqlStore) -> dict[str, int]:
    """How many runs are in each state (states with none are absent)."""
    with store.session() as session:
        rows = session.execute(select(RunRow.state, func.count()).group_by(RunRow.state))
        return {state: count for state, count in rows}


def deliveries_by_outcome(store: SqlStore) -> dict[tuple[str, str], int]:
    """How many stored deliveries each (source, status) has: pending, processed, ignored,
    failed."""
    with store.session() as session:
        rows = session.execute(select(DeliveryRow.source, DeliveryRow.status, func.count())
                               .group_by(DeliveryRow.source, DeliveryRow.status))
        return {(source, status): count for source, status, count in rows}


def state_durations(store: SqlStore) -> Iterator[tuple[str, float]]:
    """(state, seconds) for every stay of a run in a state that it has left: from the
    transition into it to the next one out of it. A transition to the same state (a note on an
    open pull request) does not end the stay."""
    query = (select(TransitionRow.run_id, TransitionRow.to_state, TransitionRow.at)
             .order_by(TransitionRow.run_id, TransitionRow.id))
    with store.session() as session:
        current: tuple[int, str, Any] | None = None
        for run_id, state, at in session.execute(query).yield_per(1000):
            if current is not None and current[0] == run_id:
                if state == current[1]:
                    continue
                yield current[1], max(0.0, (at - current[2]).total_seconds())
            current = (run_id, state, at)


@dataclass
class FixFigures:
    """What the runs' fix records add up to: verdicts by status, and per agent the attempts,
    their cost and their tokens."""

    verdicts: Counter[str] = field(default_factory=Counter)
    attempts: Counter[str] = field(default_factory=Counter)
    cost_usd: defaultdict[str, float] = field(default_factory=lambda: defaultdict(float))
    tokens: Counter[str] = field(default_factory=Counter)


def fix_figures(store: SqlStore) -> FixFigures:
    """Verdicts and agent spending over every run's fix record (its attempts and the verdicts
    on them, as stored: a run sent back through fix by a retry keeps its latest ones)."""
    figures = FixFigures()
    verifications = RunRow.details[("fix", "verifications")]
    attempts = RunRow.details[("fix", "attempts")]
    with store.session() as session:
        for verdicts, tried in session.execute(select(verifications, attempts)).yield_per(200):
            for verdict in _dicts(verdicts):
                figures.verdicts[_status(verdict)] += 1
            for attempt in _dicts(tried):
                agent = str(attempt.get("agent") or "unknown")
                figures.attempts[agent] += 1
                figures.cost_usd[agent] += _number(attempt.get("cost_usd"))
                figures.tokens[agent] += int(_number(attempt.get("tokens")))
    return figures


def _dicts(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _status(verdict: dict[str, Any]) -> str:
    """A stored verdict's status; verdicts stored before `status` existed read as verified or
    rejected (as `Verification` reads them)."""
    status = verdict.get("status")
    if isinstance(status, str) and status:
        return status
    return "verified" if verdict.get("verified") else "rejected"


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0
