"""The pipeline's stages: plain functions over ids and a `Deps` bundle, callable from a test.

Each stage loads what it needs from the store, checks the state, does its work, saves, and says
what should happen next; it never sends messages itself (the actors do). Every stage is safe to run
twice: events are deduplicated, run transitions are conditional, and a ticket is claimed in the
store before it is filed and looked up on the forge before it is created.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from worker import policy
from worker.fingerprint import fingerprint
from worker.models import Cluster, ErrorEvent, RunState
from worker.normalise import PayloadError, detect_and_normalise, from_sentry_webhook
from worker.ports import ErrorSource, PermanentError, TicketDraft, TicketForge
from worker.render import Renderer
from worker.scrub import scrub_event, scrub_text
from worker.settings import ServiceSettings, Settings
from worker.stacktrace import format_stack
from worker.store import SqlStore


@dataclass
class Deps:
    """What the stages need, built once by the composition root (`worker.app`)."""

    settings: Settings
    store: SqlStore
    forge: TicketForge
    renderer: Renderer
    sources: Mapping[str, ErrorSource] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None


class Deferred(Exception):
    """The stage cannot go on yet; try again once `until` has passed."""

    def __init__(self, reason: str, until: datetime | None) -> None:
        super().__init__(reason)
        self.until = until


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
        deps.store.finish_delivery(delivery_id, "failed", f"malformed payload: {exc}")
        return IngestResult([], f"delivery {delivery_id} is malformed: {exc}")
    if event is None:
        deps.store.finish_delivery(delivery_id, "ignored", f"{delivery.kind} carries no error")
        return IngestResult([], f"delivery {delivery_id} carries no error")
    event = _complete(deps, event)
    result = ingest_events(deps, [event])
    deps.store.finish_delivery(delivery_id, "processed", result.summary)
    return result


def _event_of(source: str, kind: str, payload: dict[str, object]) -> ErrorEvent | None:
    if source == "sentry" and kind in {"issue", "event_alert", "error"}:
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
                                     "link": event.link or latest.link,
                                     "project": latest.project or event.project})


def ingest_events(deps: Deps, events: list[ErrorEvent]) -> IngestResult:
    """Record events (already normalised) and return the runs they opened."""
    run_ids: list[int] = []
    notes = []
    for event in events:
        outcome = deps.store.record_event(event, fingerprint(event),
                                          deps.settings.event_sample_size)
        if outcome.duplicate:
            notes.append(f"{event.source.value} event {event.event_id} already seen")
            continue
        kind = "regression" if outcome.regression else "new" if outcome.new_cluster else "known"
        notes.append(f"{event.source.value} event {event.event_id} → cluster "
                     f"{outcome.cluster_id} ({kind})")
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


def triage(deps: Deps, run_id: int) -> RunState | None:
    """Apply the policy to a new run; returns the run's new state (None if not ours to move)."""
    run = deps.store.get_run(run_id)
    if run is None or run.state != RunState.NEW:
        return None
    cluster = deps.store.get_cluster(run.cluster_id)
    if cluster is None:
        raise PermanentError(f"run {run_id} points at a missing cluster")
    events = deps.store.cluster_events(cluster.id)
    rules = deps.settings.policy
    if deps.settings.forge == "github" and not rules.require_service:
        # A GitHub ticket needs a repository: without a service there is nowhere to file it.
        rules = rules.model_copy(update={"require_service": True})
    decision = policy.triage(cluster, events[0] if events else None,
                             service_of(deps.settings, cluster.project, events), rules)
    new = RunState.TRIAGED if decision.allowed else RunState.SKIPPED
    return new if deps.store.transition(run_id, RunState.NEW, new, decision.reason) else None


def publish(deps: Deps, run_id: int) -> RunState | None:
    """File the run's ticket once, even if this stage runs twice or crashed half-way before."""
    run = deps.store.get_run(run_id)
    if run is None:
        return None
    if run.state == RunState.TRIAGED:
        if not deps.store.transition(run_id, RunState.TRIAGED, RunState.PUBLISHING,
                                     "filing a ticket: no fix stage yet"):
            return None
    elif run.state != RunState.PUBLISHING:
        return None
    cluster = deps.store.get_cluster(run.cluster_id)
    if cluster is None:
        raise PermanentError(f"run {run_id} points at a missing cluster")
    key = f"ticket:{cluster.fingerprint}:{run.episode}"
    lease = deps.store.lease_publication(key, run_id, "ticket", uuid.uuid4().hex,
                                         deps.settings.publish_lease_seconds)
    url = lease.url
    if lease.status != "done":
        if not lease.owned:
            # Another worker holds the lease, or a dead one's request may still land: wait for
            # the lease to run out, then look on the forge before creating anything.
            raise Deferred(f"ticket {key} is being filed by another worker", lease.until)
        ticket = deps.forge.open_ticket(draft_ticket(deps, run_id, key))
        deps.store.complete_publication(key, ticket.ref, ticket.url)
        url = ticket.url
    deps.store.set_ticket(run_id, url)
    deps.store.transition(run_id, RunState.PUBLISHING, RunState.TICKETED, f"ticket filed: {url}")
    return RunState.TICKETED


def draft_ticket(deps: Deps, run_id: int, key: str) -> TicketDraft:
    """The ticket for a run: scrubbed evidence rendered through `ticket.md.j2`."""
    run = deps.store.get_run(run_id)
    cluster = deps.store.get_cluster(run.cluster_id) if run else None
    if run is None or cluster is None:
        raise PermanentError(f"run {run_id} or its cluster is missing")
    events = [scrub_event(event) for event in deps.store.cluster_events(cluster.id)]
    service = service_of(deps.settings, cluster.project, events)
    with_frames = next((event for event in events if event.frames), None)
    event = with_frames or (events[0] if events else None)
    marker = f"suture:{key}"
    body = deps.renderer.render(
        "ticket.md.j2", cluster=scrubbed_cluster(cluster), run=run, event=event,
        service=service, stack=format_stack(event) if event else "", marker=marker)
    title = scrub_title(f"{cluster.title}" + (f" in {cluster.culprit}" if cluster.culprit else ""))
    repo = (service.slug or service.name) if service else (cluster.project or "unassigned")
    return TicketDraft(repo=repo, title=title, body=body, marker=marker,
                       labels=list(deps.settings.github.labels))


def scrubbed_cluster(cluster: Cluster) -> Cluster:
    """The cluster with its free-text fields scrubbed for display."""
    return cluster.model_copy(update={"title": scrub_text(cluster.title),
                                      "culprit": scrub_text(cluster.culprit)})


def scrub_title(title: str) -> str:
    """A one-line, scrubbed, bounded ticket title."""
    return " ".join(scrub_text(title).split())[:200] or "error"


def service_of(settings: Settings, project: str,
               events: list[ErrorEvent]) -> ServiceSettings | None:
    """The configured service a cluster belongs to, by Sentry project or Datadog service."""
    names = {project, *(event.project for event in events if event.project)}
    for name in sorted(n for n in names if n):
        service = settings.service_for(sentry_project=name) or settings.service_for(
            datadog_service=name)
        if service:
            return service
    return None
