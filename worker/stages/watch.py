"""Did a merged fix hold? A merged run is watched for `follow.hold_days`: no recurrence in that
time and it has held; a new event of its cluster on a release whose history contains the fix is
a recurrence. An event on a release without the fix (an old deployment still serving) is not
one, and opens no run.

Both outcomes are written on the run, on its pull request and (through `stages.notices`) to
the people told of the fix.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from worker.models import ClusterStatus, ErrorEvent, RunState
from worker.ports import SutureError
from worker.runs import FollowRecord, Recurrence, RunRecord
from worker.scrub import scrub_text
from worker.stages.deps import Deps, RunContext, open_run
from worker.stages.notices import notify
from worker.titles import one_line

log = logging.getLogger("suture.follow")

WATCHED = (RunState.MERGED, RunState.HELD)


def check_held(deps: Deps) -> list[str]:
    """Mark every merged run whose watch is over without a recurrence as held."""
    done = []
    period = timedelta(days=deps.settings.follow.hold_days)
    for run in deps.store.list_runs():
        follow = run.record.follow
        if run.state != RunState.MERGED or follow is None or follow.merged_at is None:
            continue
        if deps.now() - follow.merged_at < period:
            continue
        held = follow.model_copy(update={"held_at": deps.now()})
        days = deps.settings.follow.hold_days
        notify(deps, run.id, "held", _title(deps, run.id),
               f"No recurrence in the {days:g} days since it was merged.", run.ticket_url)
        if deps.store.transition(run.id, RunState.MERGED, RunState.HELD,
                                 f"held: no recurrence in the {days:g} days since the merge",
                                 record=RunRecord(follow=held)):
            _say_on_change(deps, run.id, f"The fix held: the error has not come back in the "
                                         f"{days:g} days since this was merged.")
            done.append(f"run {run.id}: held")
    return done


def remind_stale(deps: Deps) -> list[str]:
    """One reminder on each proposed pull request left without a decision for
    `follow.stale_days`; never a second."""
    done = []
    stale = timedelta(days=deps.settings.follow.stale_days)
    for run in deps.store.list_runs():
        follow = run.record.follow or FollowRecord()
        if run.state != RunState.PROPOSED or follow.reminded_at is not None:
            continue
        opened_at = next((t.at for t in deps.store.transitions(run.id)
                          if t.to_state == RunState.PROPOSED), None)
        if opened_at is None or deps.now() - opened_at < stale:
            continue
        reminded = follow.model_copy(update={"reminded_at": deps.now()})
        days = deps.settings.follow.stale_days
        # Recorded first: a crash after it loses a reminder rather than sending two.
        if deps.store.transition(run.id, RunState.PROPOSED, RunState.PROPOSED,
                                 f"reminded: no decision in {days:g} days",
                                 record=RunRecord(follow=reminded)):
            _say_on_change(deps, run.id, f"A reminder: this verified fix has waited "
                                         f"{days:g} days for a review. Merge it, close it, or "
                                         f"comment `/suture retry <what to change>`.")
            done.append(f"run {run.id}: reminded")
    return done


def on_regression(deps: Deps, cluster_id: int, new_run_id: int | None,
                  event: ErrorEvent) -> str:
    """A resolved cluster saw a new event: if its fix was merged and that event's release has
    the fix, count a recurrence on the merged run; if the release lacks the fix, this is no
    regression, and the run it opened is skipped."""
    runs = [run for run in deps.store.list_runs(cluster_id) if run.state in WATCHED]
    if not runs:
        return ""
    opened = open_run(deps, runs[-1].id, WATCHED)
    follow = opened.run.record.follow if opened else None
    if opened is None or follow is None or not follow.merge_sha:
        return ""
    has_fix = _release_has(deps, opened, event, follow)
    if has_fix is False:
        deps.store.set_cluster_status(cluster_id, ClusterStatus.RESOLVED)
        if new_run_id is not None:
            deps.store.transition(new_run_id, RunState.NEW, RunState.SKIPPED,
                                  f"seen on release {event.release}, which does not contain "
                                  f"the merged fix {follow.merge_sha[:12]}: not a recurrence")
        return f"event {event.event_id}: release without the fix"
    notify(deps, opened.run.id, "recurred", opened.cluster.title,
           f"The merged fix did not hold: event {event.event_id} on release "
           f"{event.release or 'unknown'}, which contains the merged fix "
           f"{follow.merge_sha[:12]}.", opened.run.ticket_url)
    recurred = follow.model_copy(update={"recurrences": [*follow.recurrences, Recurrence(
        event_id=event.event_id, release=event.release or "", at=event.timestamp)]})
    deps.store.transition(opened.run.id, opened.run.state, RunState.RECURRED,
                          f"recurred: event {event.event_id} on release "
                          f"{event.release or 'unknown'}, which contains the fix "
                          f"{follow.merge_sha[:12]}" + (f"; run {new_run_id} opened"
                                                        if new_run_id else ""),
                          record=RunRecord(follow=recurred))
    what = one_line(scrub_text(f"{event.primary.type}: {event.primary.value}" if event.primary
                               else event.title), 300)
    _say_on_change(deps, opened.run.id,
                   f"The error came back after this fix was merged: {what} (event "
                   f"`{event.event_id}`, release `{scrub_text(event.release or 'unknown')}`, "
                   f"{event.timestamp:%Y-%m-%d %H:%M} UTC). suture opened a new run for it.")
    return f"run {opened.run.id}: recurred"


def _release_has(deps: Deps, opened: RunContext, event: ErrorEvent,
                 follow: FollowRecord) -> bool | None:
    """Whether the event's release contains the merged fix; None when it cannot be told, in
    which case an event after the merge counts as having it."""
    service, host = opened.service, deps.code_host
    release = event.release
    if not release or service is None or host is None or deps.open_workspace is None:
        return _after_merge(event, follow)
    workspace = deps.open_workspace(service.repository)
    try:
        made = opened.run.record.publication
        branch = made.pull_request.base_branch if made and made.pull_request else ""
        if service.slug and branch:
            workspace.fetch_branch(host.push_access(service.slug), branch)
        answer = workspace.contains(release, follow.merge_sha)
    except SutureError as exc:
        log.warning("run %s: cannot tell whether %s has the fix: %s", opened.run.id, release,
                    scrub_text(str(exc)))
        answer = None
    return answer if answer is not None else _after_merge(event, follow)


def _after_merge(event: ErrorEvent, follow: FollowRecord) -> bool:
    return follow.merged_at is not None and event.timestamp > follow.merged_at


def _title(deps: Deps, run_id: int) -> str:
    opened = open_run(deps, run_id, tuple(RunState))
    return opened.cluster.title if opened else f"run {run_id}"


def _say_on_change(deps: Deps, run_id: int, text: str) -> None:
    """A comment on the run's pull request (best effort)."""
    opened = open_run(deps, run_id, tuple(RunState))
    made = opened.run.record.publication if opened else None
    if (deps.code_host is None or opened is None or opened.service is None
            or not opened.service.slug or made is None or made.pull_request is None):
        return
    try:
        deps.code_host.comment(opened.service.slug, made.pull_request.number, text)
    except SutureError as exc:
        log.warning("run %s: could not comment on its pull request: %s", run_id,
                    scrub_text(str(exc)))
