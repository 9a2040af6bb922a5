"""Recording one normalised event: dedupe, cluster, regression, release, sample, and open a run.

All of it happens in the caller's transaction, so two workers recording events of the same new bug
at once end with one cluster and one run: the cluster row is created with an insert that ignores a
conflict and then locked, and a run is unique per (cluster, episode).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from worker.models import ClusterStatus, ErrorEvent, IngestOutcome, RunState
from worker.store import releases
from worker.store.tables import (
    ClusterRow,
    ClusterUserRow,
    EventRow,
    RunRow,
    SeenEventRow,
    TransitionRow,
)
from worker.store.upsert import insert_ignoring_conflict
from worker.titles import shorten


def record_event(
    session: Session, event: ErrorEvent, fingerprint: str, now: datetime, sample_size: int
) -> IngestOutcome:
    """Record `event` under `fingerprint`; return what happened."""
    seen = insert_ignoring_conflict(
        session, SeenEventRow, {"source": event.source.value, "event_id": event.event_id}
    )
    if not seen:
        # Seen before: a redelivered message whose first try died after recording it. Its run,
        # if nobody has started it yet, is handed back so the chain resumes without waiting
        # for the reconciler.
        return IngestOutcome(duplicate=True, run_id=_unstarted_run(session, event))
    created = insert_ignoring_conflict(session, ClusterRow, _new_cluster(event, fingerprint))
    cluster = session.scalars(
        select(ClusterRow).where(ClusterRow.fingerprint == fingerprint).with_for_update()
    ).one()
    regression = cluster.status == ClusterStatus.RESOLVED.value and not created
    if regression:
        cluster.status = ClusterStatus.OPEN.value
        cluster.episode += 1
        cluster.regressions += 1
    _merge(cluster, event)
    # Under the cluster's project, as the correlate stage asks for it: a release's first event
    # may come from either source.
    releases.remember(session, cluster.project, event.release, as_utc(event.timestamp))
    _remember_user(session, cluster.id, event)
    _keep_sample(session, cluster.id, event, sample_size)
    run_id = None
    if created or regression:
        run_id = _open_run(session, cluster, now, "regression" if regression else "new cluster")
    return IngestOutcome(
        cluster_id=cluster.id, run_id=run_id, new_cluster=created, regression=regression
    )


def _unstarted_run(session: Session, event: ErrorEvent) -> int | None:
    """The run of the current episode of `event`'s cluster while it is still new; else None."""
    cluster_id = session.scalars(select(EventRow.cluster_id).where(
        EventRow.source == event.source.value, EventRow.event_id == event.event_id)).first()
    cluster = session.get(ClusterRow, cluster_id) if cluster_id is not None else None
    if cluster is None:
        return None
    return session.scalars(select(RunRow.id).where(
        RunRow.cluster_id == cluster.id, RunRow.episode == cluster.episode,
        RunRow.state == RunState.NEW.value)).first()


def _new_cluster(event: ErrorEvent, fingerprint: str) -> dict[str, object]:
    primary = event.primary
    timestamp = as_utc(event.timestamp)
    return {
        "fingerprint": fingerprint,
        "title": shorten(event.title or (primary.type if primary else "") or "error", 500),
        "exception_type": primary.type[:255] if primary else "",
        "culprit": _culprit(event),
        "project": event.project or "",
        "platform": event.platform or "",
        "status": ClusterStatus.OPEN.value,
        "episode": 1,
        "event_count": 0,
        "regressions": 0,
        "first_seen": timestamp,
        "last_seen": timestamp,
        "links": {},
        "upstream": {},
    }


def _culprit(event: ErrorEvent) -> str:
    """The innermost in-app frame as `file in function`, Sentry's "culprit"."""
    frames = [frame for frame in event.frames if frame.in_app] or event.frames
    if not frames:
        return ""
    frame = frames[-1]
    return f"{frame.filename or frame.abs_path or frame.module or '?'} in {frame.function or '?'}"


def _merge(cluster: ClusterRow, event: ErrorEvent) -> None:
    timestamp = as_utc(event.timestamp)
    cluster.event_count += 1
    cluster.first_seen = min(as_utc(cluster.first_seen), timestamp)
    cluster.last_seen = max(as_utc(cluster.last_seen), timestamp)
    if not cluster.project and event.project:
        cluster.project = event.project
    source = event.source.value
    if event.link and cluster.links.get(source) != event.link:
        cluster.links = {**cluster.links, source: event.link}
    if event.issue_id and cluster.upstream.get(source) != event.issue_id:
        cluster.upstream = {**cluster.upstream, source: event.issue_id}
    short_key = f"{source}_short_id"  # `Fixes <short id>` in a pull request resolves it
    if event.short_id and cluster.upstream.get(short_key) != event.short_id:
        cluster.upstream = {**cluster.upstream, short_key: event.short_id}


def _remember_user(session: Session, cluster_id: int, event: ErrorEvent) -> None:
    if not event.user:
        return
    digest = hashlib.sha256(event.user.encode()).hexdigest()
    insert_ignoring_conflict(session, ClusterUserRow,
                             {"cluster_id": cluster_id, "user_hash": digest})


def _keep_sample(session: Session, cluster_id: int, event: ErrorEvent, sample_size: int) -> None:
    session.add(
        EventRow(
            cluster_id=cluster_id,
            source=event.source.value,
            event_id=event.event_id,
            timestamp=as_utc(event.timestamp),
            payload=event.model_dump(mode="json"),
        )
    )
    session.flush()
    keep = (
        select(EventRow.id)
        .where(EventRow.cluster_id == cluster_id)
        .order_by(EventRow.timestamp.desc(), EventRow.id.desc())
        .limit(sample_size)
    )
    # Keep the newest events of each source represented: the cross-source links live on the
    # cluster, the sample only needs to be recent and bounded.
    session.execute(
        delete(EventRow)
        .where(EventRow.cluster_id == cluster_id)
        .where(EventRow.id.not_in(keep.scalar_subquery()))
    )


def _open_run(session: Session, cluster: ClusterRow, now: datetime, reason: str) -> int | None:
    values = {
        "cluster_id": cluster.id,
        "episode": cluster.episode,
        "state": RunState.NEW.value,
        "reason": reason,
        "attempts": 0,
        "ticket_url": "",
        "details": {},
        "created_at": now,
        "updated_at": now,
    }
    if not insert_ignoring_conflict(session, RunRow, values):
        return None
    run_id = session.scalars(
        select(RunRow.id).where(RunRow.cluster_id == cluster.id, RunRow.episode == cluster.episode)
    ).one()
    session.add(TransitionRow(run_id=run_id, from_state="", to_state="new", reason=reason, at=now))
    return run_id


def user_count(session: Session, cluster_id: int) -> int:
    """How many distinct users a cluster has affected."""
    return session.scalar(
        select(func.count()).select_from(ClusterUserRow)
        .where(ClusterUserRow.cluster_id == cluster_id)
    ) or 0


def as_utc(value: datetime) -> datetime:
    """SQLite hands datetimes back naive; they are stored as UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
