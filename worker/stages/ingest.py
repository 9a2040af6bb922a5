"""Ingest stages: a delivery or a poll becomes normalised, fingerprinted, clustered events.

Scrubbing happens at the door: every event is passed through `worker.scrub.scrub_event` before
it is fingerprinted and stored, so the events, cluster titles and culprits at rest hold no
secret or personal value, and a delivery's raw body is emptied once it has been ingested
(`worker.store.retention`). Reasons written on a delivery are scrubbed too.
"""

from __future__ import annotations

from dataclasses import dataclass

from worker.fingerprint import fingerprint
from worker.models import ErrorEvent
from worker.normalise import (
    SENTRY_ERROR_RESOURCES,
    PayloadError,
    detect_and_normalise,
    from_sentry_webhook,
)
from worker.ports import PermanentError
from worker.scrub import scrub_event, scrub_text
from worker.stages.deps import Deps
from worker.stages.watch import on_regression
from worker.store.retention import forget_payload


@dataclass
class IngestResult:
    """Runs opened by ingesting something, and a sentence about what happened."""

    run_ids: list[int]
    summary: str


def ingest_delivery(deps: Deps, delivery_id: int) -> IngestResult:
    """Normalise and record one accepted delivery; idempotent on redelivery."""
    delivery = deps.store.get_delivery(delivery_id)
    if delivery is None:
        raise PermanentError(f"delivery {delivery_id} does not exist")
    if delivery.status != "pending":
        return IngestResult([], f"delivery {delivery_id} already {delivery.status}")
    try:
        event = _event_of(delivery.source, delivery.kind, dict(delivery.payload))
    except PayloadError as exc:
        # The raw body stays (for at most `retention.raw_hours`) so the failure can be looked at.
        why = scrub_text(str(exc))
        deps.store.finish_delivery(delivery_id, "failed", f"malformed payload: {why}")
        return IngestResult([], f"delivery {delivery_id} is malformed: {why}")
    if event is None:
        deps.store.finish_delivery(delivery_id, "ignored",
                                   scrub_text(f"{delivery.kind} carries no error"))
        forget_payload(deps.store, delivery_id)
        return IngestResult([], f"delivery {delivery_id} carries no error")
    event = _complete(deps, event)
    result = ingest_events(deps, [event])
    deps.store.finish_delivery(delivery_id, "processed", scrub_text(result.summary))
    forget_payload(deps.store, delivery_id)
    return result


def _event_of(source: str, kind: str, payload: dict[str, object]) -> ErrorEvent | None:
    if source == "sentry" and kind in SENTRY_ERROR_RESOURCES:
        return from_sentry_webhook(kind, payload)
    return detect_and_normalise(payload)


def _complete(deps: Deps, event: ErrorEvent) -> ErrorEvent:
    """An event without frames (an `issue` webhook) gets its upstream's latest full event."""
    source = deps.sources.get(event.source.value)
    if event.frames or not event.issue_id or source is None:
        return event
    latest = source.latest_event(event.issue_id)
    if latest is None:
        return event
    return latest.model_copy(update={"issue_id": event.issue_id,
                                     "short_id": event.short_id or latest.short_id,
                                     "link": event.link or latest.link,
                                     "project": latest.project or event.project})


def ingest_events(deps: Deps, events: list[ErrorEvent]) -> IngestResult:
    """Scrub and record events (already normalised); return the runs they opened."""
    run_ids: list[int] = []
    notes = []
    for raw in events:
        event = scrub_event(raw)
        outcome = deps.store.record_event(event, fingerprint(event),
                                          deps.settings.event_sample_size)
        if outcome.duplicate:
            notes.append(f"{event.source.value} event {event.event_id} already seen")
            if outcome.run_id is not None:  # recorded, but its run was never started
                run_ids.append(outcome.run_id)
            continue
        kind = "regression" if outcome.regression else "new" if outcome.new_cluster else "known"
        notes.append(f"{event.source.value} event {event.event_id} → cluster "
                     f"{outcome.cluster_id} ({kind})")
        if outcome.regression and outcome.cluster_id is not None:
            # After a merged fix: a recurrence, or an event of a release without the fix.
            watched = on_regression(deps, outcome.cluster_id, outcome.run_id, event)
            if watched:
                notes.append(watched)
        if outcome.run_id is not None:
            run_ids.append(outcome.run_id)
    return IngestResult(run_ids, "; ".join(notes) or "nothing to record")


def poll(deps: Deps, source_name: str) -> IngestResult:
    """Fetch what a source saw since its cursor, record it, then move the cursor."""
    source = deps.sources.get(source_name)
    if source is None:
        raise PermanentError(f"source {source_name!r} is not configured")
    batch = source.poll(deps.store.get_cursor(source_name))
    result = ingest_events(deps, batch.events)
    # The cursor moves only after every event is recorded: a crash in between re-polls, and the
    # store's event dedupe makes that harmless.
    if batch.cursor is not None:
        deps.store.set_cursor(source_name, batch.cursor)
    return result
