"""When each release of a project was first seen, and which release came before another.

Both questions run in the caller's transaction. Remembering a release is an insert that ignores a
conflict followed by a conditional update (`WHERE first_seen > event time`), so concurrent workers
recording events of the same release, in any order, end with its earliest time and never lose an
update.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker.store.tables import ReleaseRow
from worker.store.upsert import insert_ignoring_conflict

# The column's width. Sentry caps a release version at 250 characters, so a longer one is not a
# release anybody deployed; it is not remembered rather than truncated into a different name.
MAX_RELEASE = 255


def remember(session: Session, project: str, release: str | None, seen: datetime) -> None:
    """Note that `project` ran `release` at `seen` (timezone-aware); keeps the earliest time."""
    if not project or not release or len(release) > MAX_RELEASE:
        return
    values = {"project": project, "release": release, "first_seen": seen}
    if insert_ignoring_conflict(session, ReleaseRow, values):
        return
    # Events arrive out of order (polls, retries, two sources): an earlier one moves it back.
    session.execute(update(ReleaseRow).where(
        ReleaseRow.project == project, ReleaseRow.release == release,
        ReleaseRow.first_seen > seen).values(first_seen=seen))


def previous(session: Session, project: str, release: str) -> str | None:
    """The release of `project` first seen last before `release` was; None if unknown or first."""
    first_seen = session.scalar(select(ReleaseRow.first_seen).where(
        ReleaseRow.project == project, ReleaseRow.release == release))
    if first_seen is None:
        return None
    # Ties on the time are broken by name only so that the answer is the same on every call.
    return session.scalar(select(ReleaseRow.release).where(
        ReleaseRow.project == project, ReleaseRow.first_seen < first_seen)
        .order_by(ReleaseRow.first_seen.desc(), ReleaseRow.release.desc()).limit(1))
