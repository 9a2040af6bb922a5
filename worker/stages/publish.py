"""The publish stage: the run's ticket, filed once, with scrubbed evidence."""

from __future__ import annotations

import uuid

from worker.models import Cluster, RunState
from worker.ports import PermanentError, TicketDraft
from worker.runs import Publication, RunRecord
from worker.scrub import scrub_event, scrub_text
from worker.settings import Settings
from worker.stacktrace import format_stack
from worker.stages.deps import Deferred, Deps, open_run
from worker.stages.labels import ticket_labels

# The states a run can be published from: with a verified fix, without one, or with the fix
# loop switched off.
READY = (RunState.VERIFIED, RunState.UNVERIFIED, RunState.CORRELATED)


def publish(deps: Deps, run_id: int) -> RunState | None:
    """File the run's ticket once, even if this stage runs twice or crashed half-way before."""
    opened = open_run(deps, run_id, (*READY, RunState.PUBLISHING))
    if opened is None:
        return None
    run, cluster = opened.run, opened.cluster
    if run.state in READY:
        fixed = run.state == RunState.VERIFIED
        if not deps.store.transition(run_id, run.state, RunState.PUBLISHING,
                                     "filing a ticket with the verified patch attached" if fixed
                                     else "filing a ticket: no verified fix"):
            return None
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
    deps.store.transition(run_id, RunState.PUBLISHING, RunState.TICKETED, f"ticket filed: {url}",
                          record=RunRecord(publication=Publication(key=key, url=url)))
    return RunState.TICKETED


def draft_ticket(deps: Deps, run_id: int, key: str) -> TicketDraft:
    """The ticket for a run: scrubbed evidence rendered through `ticket.md.j2`."""
    opened = open_run(deps, run_id, tuple(RunState))
    if opened is None:
        raise PermanentError(f"run {run_id} is missing")
    run, cluster, service = opened.run, opened.cluster, opened.service
    events = [scrub_event(event) for event in opened.events]
    with_frames = next((event for event in events if event.frames), None)
    event = with_frames or (events[0] if events else None)
    marker = f"suture:{key}"
    body = deps.renderer.render(
        "ticket.md.j2", cluster=scrubbed_cluster(cluster), run=run, event=event,
        service=service, stack=format_stack(event) if event else "", marker=marker,
        correlation=run.record.correlation, fix=run.record.fix,
        fix_reason=next((t.reason for t in reversed(deps.store.transitions(run_id))
                         if t.to_state in (RunState.VERIFIED, RunState.UNVERIFIED)), ""),
        commit_url=lambda sha: commit_url(deps.settings, service.slug if service else None, sha))
    title = scrub_title(f"{cluster.title}" + (f" in {cluster.culprit}" if cluster.culprit else ""))
    repo = (service.slug or service.name) if service else (cluster.project or "unassigned")
    return TicketDraft(repo=repo, title=title, body=body, marker=marker,
                       labels=ticket_labels(deps, opened))


def commit_url(settings: Settings, slug: str | None, sha: str) -> str | None:
    """The web page of a commit on the code host, when the repository lives on one."""
    if settings.forge != "github" or not slug:
        return None
    base = settings.github.base_url.rstrip("/")
    if base == "https://api.github.com":
        base = "https://github.com"
    base = base.removesuffix("/api/v3")
    return f"{base}/{slug}/commit/{sha}"


def scrubbed_cluster(cluster: Cluster) -> Cluster:
    """The cluster with its free-text fields scrubbed for display."""
    return cluster.model_copy(update={"title": scrub_text(cluster.title),
                                      "culprit": scrub_text(cluster.culprit)})


def scrub_title(title: str) -> str:
    """A one-line, scrubbed, bounded ticket title."""
    return " ".join(scrub_text(title).split())[:200] or "error"
