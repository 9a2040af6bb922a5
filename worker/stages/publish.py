"""The publish stage: a verified fix as a draft pull request, otherwise the run's ticket;
each made once, with scrubbed evidence."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from worker.correlate.presented import presented
from worker.models import Cluster, RunState
from worker.ports import PermanentError, TicketDraft, TransientError
from worker.preview.outcome import PreviewOutcome
from worker.runs import Publication, PullRequestRecord, RunRecord
from worker.scrub import scrub_event, scrub_text
from worker.stacktrace import format_stack
from worker.stages.deps import Deferred, Deps, RunContext, open_run
from worker.stages.evidence import check_report, pull_request_body
from worker.stages.labels import ticket_labels
from worker.stages.links import commit_url
from worker.stages.notices import notify
from worker.stages.previewing import check_on_pushed
from worker.stages.proposal import attach_evidence, link_upstream, propose, reached
from worker.stages.revision import is_revision, revise
from worker.store.waiting import release_publication
from worker.titles import one_line

log = logging.getLogger("suture.publish")

# The states a run can be published from: with a verified fix, without one, or with the fix
# loop switched off.
READY = (RunState.VERIFIED, RunState.UNVERIFIED, RunState.CORRELATED)


def publish(deps: Deps, run_id: int) -> RunState | None:
    """Propose a verified fix as a draft pull request when a code host is configured, else (or
    when that fails for good) file the run's ticket; once, even if this stage runs twice or
    crashed half-way before."""
    opened = open_run(deps, run_id, (*READY, RunState.PUBLISHING))
    if opened is None:
        return None
    run = opened.run
    if is_revision(opened) and deps.code_host is not None and deps.open_workspace is not None:
        return revise(deps, opened)
    proposing = can_propose(deps, opened)
    if run.state in READY:
        fixed = run.state == RunState.VERIFIED
        reason = ("opening a draft pull request with the verified patch" if proposing else
                  "filing a ticket with the verified patch attached" if fixed else
                  "filing a ticket: no verified fix")
        if not deps.store.transition(run_id, run.state, RunState.PUBLISHING, reason):
            return None
    fallback = ""
    if proposing:
        try:
            return open_pull_request(deps, opened)
        except PermanentError as exc:
            # A refused push, a protected branch, a repository the token cannot reach: the
            # ticket says what was tried, and the verified patch is not lost.
            fallback = f"a draft pull request could not be opened: {scrub_text(str(exc))}"
            log.warning("run %s: %s; filing a ticket instead", run_id, fallback)
    return file_ticket(deps, opened, fallback)


def can_propose(deps: Deps, opened: RunContext) -> bool:
    """True when the run has a verified patch and its repository lives on the code host."""
    fix = opened.run.record.fix
    return (deps.code_host is not None and deps.open_workspace is not None
            and opened.service is not None and bool(opened.service.slug)
            and opened.run.state in (RunState.VERIFIED, RunState.PUBLISHING)
            and fix is not None and fix.chosen is not None)


def open_pull_request(deps: Deps, opened: RunContext) -> RunState | None:
    """Open (or adopt) the run's draft pull request and record it."""
    run, cluster = opened.run, opened.cluster
    key = f"pr:{cluster.fingerprint}:{run.episode}"
    owner = uuid.uuid4().hex
    lease = deps.store.lease_publication(key, run.id, "pull_request", owner,
                                         deps.settings.publish_lease_seconds)
    if lease.status != "done" and not lease.owned:
        raise Deferred(f"pull request {key} is being opened by another worker", lease.until)
    with given_back_when_answered(deps, key, owner):
        return _open_pull_request(deps, opened, key)


def _open_pull_request(deps: Deps, opened: RunContext, key: str) -> RunState | None:
    run, host = opened.run, deps.code_host
    assert host is not None and deps.open_workspace is not None
    assert opened.service is not None and opened.service.slug
    repo = opened.service.slug
    marker = f"suture:{key}"
    fix = run.record.fix
    assert fix is not None and fix.chosen is not None
    verdict = fix.chosen.verification
    workspace = deps.open_workspace(opened.service.repository)
    previewed: list[PreviewOutcome] = []  # filled after the push, for a host-side preview
    earlier = fix.preview
    change, record = propose(
        deps, host, workspace, opened, repo=repo, marker=marker, title=pr_title(opened),
        render_body=lambda made, template: pull_request_body(
            deps, opened, made, template, marker, deps.now(),
            preview=previewed[0] if previewed else earlier),
        labels=ticket_labels(deps, opened),  # the host adds its configured labels
        reviewers=reviewer_logins(run.record),
        after_push=pushed_preview(deps, opened, repo, previewed))
    kept = fix.model_copy(update={"preview": previewed[0]}) if previewed else fix
    record.number = change.number
    check = check_report(verdict, change.head_sha or record.head, None)
    check.details_url = keep_logs(deps, run.id, check.text)
    attach_evidence(host, change, record, repo=repo, reviewers=reviewer_logins(run.record),
                    check=check)
    link_upstream(deps, opened, change, record)
    reached("complete")
    deps.store.complete_publication(key, str(change.number), change.url)
    reached("recorded")
    deps.store.set_ticket(run.id, change.url)
    notify(deps, run.id, "filed", f"draft pull request: {pr_title(opened)}",
           f"A verified fix for {opened.cluster.title} in {repo}, for review.", change.url)
    took = ", ".join(f"{t.step} {t.seconds:.1f} s" for t in record.timings)
    verb = "adopted" if record.adopted else "opened"
    log.info("run %d: draft pull request %s: %s", run.id, verb, change.url,
             extra={"run_id": run.id, "url": change.url, "kind": "pull_request"})
    deps.store.transition(run.id, RunState.PUBLISHING, RunState.PROPOSED,
                          f"draft pull request {verb}: {change.url} ({took})",
                          record=RunRecord(fix=kept, publication=Publication(
                              kind="pull_request", key=key, url=change.url,
                              pull_request=record)))
    return RunState.PROPOSED


def pushed_preview(deps: Deps, opened: RunContext, repo: str, previewed: list[PreviewOutcome]
                   ) -> Callable[[PullRequestRecord], None] | None:
    """For a service previewed by the code host's deployments: once the branch is pushed,
    replay the failing request on the deployments of the release and of the fix. A fix the
    replay shows still failing is not proposed (PermanentError: the run gets a ticket)."""
    service, event = opened.service, opened.event
    maker = deps.make_pushed_preview
    preview = maker(service) if maker is not None and service is not None else None
    if preview is None or event is None:
        return None

    def check(record: PullRequestRecord) -> None:
        outcome = check_on_pushed(deps, preview, event, repo=repo,
                                  base=(record.release, record.base_branch),
                                  fix=(record.head, record.branch), run_id=opened.run.id)
        previewed[:] = [outcome]
        if outcome.contradicts_fix and outcome.replay is not None:
            raise PermanentError(f"the failing request replayed on the code host's preview "
                                 f"of the fix still fails: {outcome.replay.verdict}")

    return check


def keep_logs(deps: Deps, run_id: int, text: str) -> str | None:
    """The verification's full logs kept as an artifact; their URL (None without a store)."""
    if deps.artifacts is None or not text:
        return None
    return deps.artifacts.put(run_id, "verification.log", text.encode(), "text/plain").url


def reviewer_logins(record: RunRecord) -> list[str]:
    """Who is asked to review, in order, once each: the owners' code-host logins, then the
    login of the author of the commit bisection found the crash started at. An old crashing
    line has no recent author to own it, but whoever made the change that broke it knows best
    whether the fix is right."""
    correlation = record.correlation
    if correlation is None:
        return []
    logins = [owner.login for owner in correlation.owners if owner.login]
    bisection = record.fix.bisection if record.fix else None
    if bisection is not None and bisection.culprit:
        logins += [suspect.login for suspect in correlation.suspects
                   if suspect.sha == bisection.culprit and suspect.login]
    return list(dict.fromkeys(logins))


@contextmanager
def given_back_when_answered(deps: Deps, key: str, owner: str) -> Iterator[None]:
    """Hold a publication's lease for the block; when the host answered with a transient error
    (a 429, a 5xx), give it back, so the retry comes with the backoff the answer asked for
    rather than a lease period later. After a timeout it is kept: the request may still land.
    """
    try:
        yield
    except TransientError as exc:
        if exc.answered:
            release_publication(deps.store, key, owner)
        raise


def pr_title(opened: RunContext) -> str:
    """`Fix <error> (<culprit>)`: scrubbed, one line, bounded."""
    cluster = opened.cluster
    what = cluster.exception_type or cluster.title
    return scrub_title(f"Fix {what}" + (f" ({cluster.culprit})" if cluster.culprit else ""))


def file_ticket(deps: Deps, opened: RunContext, fallback: str = "") -> RunState:
    """File the run's ticket once (the lease and marker make a second call find the first)."""
    run, cluster = opened.run, opened.cluster
    run_id = run.id
    key = f"ticket:{cluster.fingerprint}:{run.episode}"
    owner = uuid.uuid4().hex
    lease = deps.store.lease_publication(key, run_id, "ticket", owner,
                                         deps.settings.publish_lease_seconds)
    url = lease.url
    if lease.status != "done":
        if not lease.owned:
            # Another worker holds the lease, or a dead one's request may still land: wait for
            # the lease to run out, then look on the forge before creating anything.
            raise Deferred(f"ticket {key} is being filed by another worker", lease.until)
        reached("ticket-create")
        with given_back_when_answered(deps, key, owner):
            ticket = deps.forge.open_ticket(draft_ticket(deps, run_id, key, fallback))
        reached("ticket-created")  # on the forge, not yet in the store
        deps.store.complete_publication(key, ticket.ref, ticket.url)
        url = ticket.url
    deps.store.set_ticket(run_id, url)
    log.info("run %d: ticket filed: %s%s", run_id, url, f" ({fallback})" if fallback else "",
             extra={"run_id": run_id, "url": url, "kind": "ticket"})
    notify(deps, run_id, "filed", f"ticket: {scrub_title(cluster.title)}",
           fallback or "No verified fix: the ticket says what was tried.", url)
    deps.store.transition(run_id, RunState.PUBLISHING, RunState.TICKETED, f"ticket filed: {url}",
                          record=RunRecord(publication=Publication(
                              key=key, url=url, fallback_reason=fallback)))
    return RunState.TICKETED


def draft_ticket(deps: Deps, run_id: int, key: str, fallback: str = "") -> TicketDraft:
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
        correlation=presented(run.record.correlation), fix=run.record.fix, fallback=fallback,
        fix_reason=next((t.reason for t in reversed(deps.store.transitions(run_id))
                         if t.to_state in (RunState.VERIFIED, RunState.UNVERIFIED)), ""),
        commit_url=lambda sha: commit_url(deps.settings, service.slug if service else None, sha))
    title = scrub_title(f"{cluster.title}" + (f" in {cluster.culprit}" if cluster.culprit else ""))
    repo = (service.slug or service.name) if service else (cluster.project or "unassigned")
    return TicketDraft(repo=repo, title=title, body=body, marker=marker,
                       labels=ticket_labels(deps, opened))


def scrubbed_cluster(cluster: Cluster) -> Cluster:
    """The cluster with its free-text fields scrubbed for display."""
    return cluster.model_copy(update={"title": scrub_text(cluster.title),
                                      "culprit": scrub_text(cluster.culprit)})


def scrub_title(title: str) -> str:
    """A one-line, scrubbed ticket title, cut at a word to 200 characters."""
    return one_line(scrub_text(title), 200, "error")
