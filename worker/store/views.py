"""Read-only queries behind the review pages: clusters with their latest run, pull requests
awaiting review, skipped runs grouped by reason.

Each is one short read transaction shaped for a page (a few joined queries, not one per row),
returning typed summaries; nothing here writes. State changes stay in `SqlStore`.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import func, select

from worker.models import ClusterStatus, RunState
from worker.store.recording import as_utc
from worker.store.sql import SqlStore
from worker.store.tables import ClusterRow, ClusterUserRow, RunRow, TransitionRow

# The most rows a list page shows; the page says when there were more.
PAGE_ROWS = 200
SKIP_EXAMPLES = 5


class ClusterSummary(BaseModel):
    """A cluster as the overview lists it: its counts and its latest run."""

    id: int
    title: str
    exception_type: str = ""
    culprit: str = ""
    project: str = ""
    status: ClusterStatus
    episode: int
    event_count: int
    user_count: int = 0
    regressions: int
    first_seen: datetime
    last_seen: datetime
    runs: int = 0
    latest_run: int | None = None
    latest_state: RunState | None = None
    latest_reason: str = ""
    latest_at: datetime | None = None


class ReviewItem(BaseModel):
    """A run whose draft pull request awaits review, and since when."""

    run_id: int
    cluster_id: int
    title: str
    url: str
    proposed_at: datetime


class SkippedRun(BaseModel):
    """One skipped run named under its reason."""

    run_id: int
    cluster_id: int
    title: str
    at: datetime


class SkipGroup(BaseModel):
    """Skipped runs sharing one reason: how many, and the newest few."""

    reason: str
    count: int
    latest: list[SkippedRun]


def cluster_summaries(store: SqlStore, limit: int = PAGE_ROWS) -> tuple[list[ClusterSummary], int]:
    """The most recently seen clusters first, each with its latest run; and how many there are."""
    latest = (select(RunRow.cluster_id, func.max(RunRow.id).label("run_id"),
                     func.count(RunRow.id).label("runs"))
              .group_by(RunRow.cluster_id).subquery())
    users = (select(ClusterUserRow.cluster_id, func.count().label("users"))
             .group_by(ClusterUserRow.cluster_id).subquery())
    query = (select(ClusterRow, RunRow, latest.c.runs, users.c.users)
             .outerjoin(latest, latest.c.cluster_id == ClusterRow.id)
             .outerjoin(RunRow, RunRow.id == latest.c.run_id)
             .outerjoin(users, users.c.cluster_id == ClusterRow.id)
             .order_by(ClusterRow.last_seen.desc(), ClusterRow.id.desc()).limit(limit))
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(ClusterRow)) or 0
        rows = session.execute(query).all()
        return [_summary(cluster, run, runs or 0, count or 0)
                for cluster, run, runs, count in rows], total


def _summary(cluster: ClusterRow, run: RunRow | None, runs: int, users: int) -> ClusterSummary:
    return ClusterSummary(
        id=cluster.id, title=cluster.title, exception_type=cluster.exception_type,
        culprit=cluster.culprit, project=cluster.project, status=ClusterStatus(cluster.status),
        episode=cluster.episode, event_count=cluster.event_count, user_count=users,
        regressions=cluster.regressions, first_seen=as_utc(cluster.first_seen),
        last_seen=as_utc(cluster.last_seen), runs=runs,
        latest_run=run.id if run else None,
        latest_state=RunState(run.state) if run else None,
        latest_reason=run.reason if run else "",
        latest_at=as_utc(run.updated_at) if run else None)


def awaiting_review(store: SqlStore, limit: int = PAGE_ROWS) -> list[ReviewItem]:
    """Runs whose draft pull request is open (state proposed), the longest waiting first."""
    entered = (select(TransitionRow.run_id, func.max(TransitionRow.at).label("at"))
               .where(TransitionRow.to_state == RunState.PROPOSED.value)
               .group_by(TransitionRow.run_id).subquery())
    query = (select(RunRow, ClusterRow.title, entered.c.at)
             .join(ClusterRow, ClusterRow.id == RunRow.cluster_id)
             .outerjoin(entered, entered.c.run_id == RunRow.id)
             .where(RunRow.state == RunState.PROPOSED.value))
    with store.session() as session:
        rows = session.execute(query).all()
    items = [ReviewItem(run_id=run.id, cluster_id=run.cluster_id, title=title,
                        url=run.ticket_url, proposed_at=as_utc(at or run.updated_at))
             for run, title, at in rows]
    # Sorted here: the time may come from either column, and SQLite compares them as text.
    return sorted(items, key=lambda item: (item.proposed_at, item.run_id))[:limit]


def skipped_by_reason(store: SqlStore) -> list[SkipGroup]:
    """Skipped runs grouped by their reason, the most frequent reason first."""
    counted = (select(RunRow.reason, func.count(RunRow.id).label("n"))
               .where(RunRow.state == RunState.SKIPPED.value)
               .group_by(RunRow.reason).order_by(func.count(RunRow.id).desc(), RunRow.reason)
               .limit(PAGE_ROWS))
    with store.session() as session:
        groups = session.execute(counted).all()
        found = []
        for reason, count in groups:
            newest = session.execute(
                select(RunRow.id, RunRow.cluster_id, ClusterRow.title, RunRow.updated_at)
                .join(ClusterRow, ClusterRow.id == RunRow.cluster_id)
                .where(RunRow.state == RunState.SKIPPED.value, RunRow.reason == reason)
                .order_by(RunRow.id.desc()).limit(SKIP_EXAMPLES)).all()
            found.append(SkipGroup(reason=reason, count=count, latest=[
                SkippedRun(run_id=run_id, cluster_id=cluster_id, title=title, at=as_utc(at))
                for run_id, cluster_id, title, at in newest]))
    return found
