"""Following a proposed fix after its pull request opened: what the code host reports (by
webhook or by polling) and what the error does afterwards.

- Merged: the run records who merged it and as which commit, the upstream Sentry issue is
  resolved in the next release, the cluster is marked resolved (its next event is a regression)
  and the fix is watched (`watch.py`: held or recurred).
- Closed without merging: recorded with the closer's last comment as the reason.
- A comment starting with `/suture stop` from someone with write access closes the pull request
  and ignores the cluster. `/suture retry <feedback>` from a writer is recorded as a request.
  Comments by bots, by suture itself and by people without write access are never acted on:
  each is recorded once, with why it was ignored, on the run's history.
Every step is safe to repeat: a state change is conditional, and a comment is acted on once.
"""

from __future__ import annotations

import logging
import re
from datetime import datetime

from pydantic import ValidationError

from worker.codehost import Change, ChangeActivity, ChangeComment
from worker.models import ClusterStatus, RunState
from worker.normalise.codehost_events import activity_of
from worker.ports import CodeHost, PermanentError, SutureError, UpstreamLinks
from worker.runs import FollowRecord, Run, RunRecord
from worker.scrub import scrub_text
from worker.stages.deps import Deps, RunContext, open_run
from worker.stages.repair import on_check_failed

log = logging.getLogger("suture.follow")

COMMAND = re.compile(r"\A\s*/suture[ \t]+(?P<verb>retry|stop)\b[ \t]*(?P<rest>.*)\Z", re.S)
FOLLOWED = (RunState.PROPOSED, RunState.MERGED, RunState.HELD)


def find_run(deps: Deps, repo: str, number: int, branch: str = "") -> Run | None:
    """suture's run whose pull request is `number` in `repo` (or, with no number, whose
    branch is `branch`), if any."""
    for run in reversed(deps.store.list_runs()):
        publication = run.record.publication
        made = publication.pull_request if publication else None
        if made is None or run.state not in FOLLOWED:
            continue
        if made.number != number and not (number == 0 and branch and made.branch == branch):
            continue
        opened = open_run(deps, run.id, FOLLOWED)
        if opened and opened.service and (opened.service.slug or "").lower() == repo.lower():
            return run
    return None


def apply_activity(deps: Deps, activity: ChangeActivity) -> str:
    """Act on one thing that happened to a change; what was done, in a sentence."""
    run = find_run(deps, activity.repo, activity.number, activity.branch)
    if run is None or deps.code_host is None:
        return f"{activity.repo}#{activity.number} is not one of suture's open changes"
    opened = open_run(deps, run.id, FOLLOWED)
    assert opened is not None
    if activity.kind == "merged":
        return merged(deps, opened, activity)
    if activity.kind == "closed":
        return closed(deps, deps.code_host, opened, activity)
    if activity.kind == "check_failed":
        return on_check_failed(deps, deps.code_host, opened, activity)
    if activity.kind in ("comment", "review") and activity.comment_id:
        comment = ChangeComment(id=activity.comment_id, author=activity.actor,
                                body=activity.body, author_is_bot=activity.actor_is_bot)
        return on_comment(deps, deps.code_host, opened, activity.repo, activity.number, comment)
    return f"{activity.kind} on {activity.repo}#{activity.number}: nothing to do"


def merged(deps: Deps, opened: RunContext, activity: ChangeActivity) -> str:
    """Record the merge, resolve the upstream issue, and start watching the fix."""
    run = opened.run
    if run.state != RunState.PROPOSED:
        return f"run {run.id} was already {run.state.value}"
    follow = (run.record.follow or FollowRecord()).model_copy(update={
        "merged_at": deps.now(), "merge_sha": activity.merge_sha, "merged_by": activity.actor})
    follow.upstream_resolved = _resolve_upstream(deps, opened)
    deps.store.set_cluster_status(opened.cluster.id, ClusterStatus.RESOLVED)
    days = deps.settings.follow.hold_days
    by = f" by {activity.actor}" if activity.actor else ""
    deps.store.transition(run.id, RunState.PROPOSED, RunState.MERGED,
                          f"merged{by} as {activity.merge_sha[:12] or 'an unknown commit'}; "
                          f"watched for {days:g} days for the error to come back"
                          + ("; the Sentry issue is resolved in the next release"
                             if follow.upstream_resolved else ""),
                          record=RunRecord(follow=follow))
    return f"run {run.id}: merged"


def _resolve_upstream(deps: Deps, opened: RunContext) -> bool:
    """Resolve the Sentry issue in its next release (best effort)."""
    issue_id = opened.cluster.upstream.get("sentry")
    source = deps.sources.get("sentry")
    if not issue_id or not isinstance(source, UpstreamLinks):
        return False
    try:
        return source.resolve_in_next_release(issue_id)
    except SutureError as exc:
        log.warning("run %s: Sentry issue %s not resolved: %s", opened.run.id, issue_id,
                    scrub_text(str(exc)))
        return False


def closed(deps: Deps, host: CodeHost, opened: RunContext, activity: ChangeActivity) -> str:
    """Record a change closed without merging, with the closer's last comment as the reason."""
    run = opened.run
    if run.state != RunState.PROPOSED:
        return f"run {run.id} was already {run.state.value}"
    said = [c for c in host.comments(activity.repo, activity.number)
            if activity.actor and c.author.lower() == activity.actor.lower()]
    reason = " ".join(scrub_text(said[-1].body).split())[:300] if said else ""
    follow = (run.record.follow or FollowRecord()).model_copy(update={
        "closed_at": deps.now(), "closed_by": activity.actor, "close_reason": reason})
    by = f" by {activity.actor}" if activity.actor else ""
    deps.store.transition(run.id, RunState.PROPOSED, RunState.CLOSED,
                          f"closed without merging{by}: "
                          + (f"“{reason}”" if reason else "no reason given"),
                          record=RunRecord(follow=follow))
    return f"run {run.id}: closed"


def on_comment(deps: Deps, host: CodeHost, opened: RunContext, repo: str, number: int,
               comment: ChangeComment) -> str:
    """Act on a `/suture` command in a comment once; ignore (and record why) anyone else's."""
    run = opened.run
    follow = run.record.follow or FollowRecord()
    if comment.id in follow.handled:
        return f"comment {comment.id} was already handled"
    found = COMMAND.match(comment.body or "")
    if found is None:
        return f"comment {comment.id}: no command"
    verb = found["verb"]
    why_not = _refusal(host, repo, comment)
    follow = follow.model_copy(update={"handled": [*follow.handled, comment.id]})
    if why_not:
        follow.ignored = {**follow.ignored, comment.id: why_not}
        deps.store.transition(run.id, run.state, run.state,
                              f"/suture {verb} from {comment.author} ignored: {why_not}",
                              record=RunRecord(follow=follow))
        return f"comment {comment.id} ignored: {why_not}"
    if verb == "stop":
        return _stop(deps, host, opened, repo, number, comment, follow)
    return _retry(deps, host, opened, repo, number, comment, found["rest"], follow)


def _retry(deps: Deps, host: CodeHost, opened: RunContext, repo: str, number: int,
           comment: ChangeComment, feedback: str, follow: FollowRecord) -> str:
    """Start a new attempt with the feedback and the thread, unless the cap is reached; its
    verified result is pushed to the same change (`stages.publish`)."""
    run = opened.run
    cap = deps.settings.follow.max_retries
    if run.state != RunState.PROPOSED:
        why = f"the change is {run.state.value}"
    elif follow.retries >= cap:
        why = f"the cap of {cap} new attempts per pull request is reached"
    else:
        why = ""
    if why:
        follow.ignored = {**follow.ignored, comment.id: why}
        deps.store.transition(run.id, run.state, run.state,
                              f"/suture retry from {comment.author} not done: {why}",
                              record=RunRecord(follow=follow))
        return f"comment {comment.id}: retry not done: {why}"
    said = " ".join(scrub_text(feedback).split())[:1000]
    thread = [f"{c.author}: {' '.join(scrub_text(c.body).split())[:1000]}"
              for c in host.comments(repo, number) if c.id != comment.id][-10:]
    follow = follow.model_copy(update={"retries": follow.retries + 1, "retry_pending": True,
                                       "review": [f"{comment.author}: {said}", *thread]})
    deps.store.transition(run.id, RunState.PROPOSED, RunState.CORRELATED,
                          f"new attempt {follow.retries} of {cap} asked for by {comment.author}"
                          + (f": “{said}”" if said else ""), record=RunRecord(follow=follow))
    return f"comment {comment.id}: retry {follow.retries} started"


def _refusal(host: CodeHost, repo: str, comment: ChangeComment) -> str:
    """Why a command in `comment` must not be obeyed, or ""."""
    if comment.author_is_bot or comment.author.lower().endswith("[bot]"):
        return "comments by bots are not commands"
    if comment.author.lower() == host.own_login(repo).lower():
        return "suture's own comment"
    if not host.can_write(repo, comment.author):
        return f"{comment.author} has no write access to {repo}"
    return ""


def _stop(deps: Deps, host: CodeHost, opened: RunContext, repo: str, number: int,
          comment: ChangeComment, follow: FollowRecord) -> str:
    """Close the change and ignore the cluster, as a writer asked."""
    run = opened.run
    host.close_change(repo, number, f"Closed as @{comment.author} asked (`/suture stop`). "
                                    "suture will not propose fixes for this error again "
                                    "unless the error is un-ignored.")
    deps.store.set_cluster_status(opened.cluster.id, ClusterStatus.IGNORED)
    follow = follow.model_copy(update={"closed_at": deps.now(), "closed_by": comment.author,
                                       "close_reason": "/suture stop"})
    if run.state == RunState.PROPOSED:
        deps.store.transition(run.id, RunState.PROPOSED, RunState.CLOSED,
                              f"stopped by {comment.author}: pull request closed, the error "
                              f"ignored", record=RunRecord(follow=follow))
    return f"run {run.id}: stopped"


def poll_changes(deps: Deps) -> list[str]:
    """Ask the code host about every open proposed change (the fallback when no webhook
    reports them); what was done."""
    host = deps.code_host
    if host is None:
        return []
    done = []
    for run in deps.store.list_runs():
        publication = run.record.publication
        made = publication.pull_request if publication else None
        if run.state != RunState.PROPOSED or made is None or not made.number:
            continue
        opened = open_run(deps, run.id, (RunState.PROPOSED,))
        if opened is None or opened.service is None or not opened.service.slug:
            continue
        repo = opened.service.slug
        try:
            done += _poll_one(deps, host, opened, repo, made.number)
        except SutureError as exc:
            log.warning("run %s: could not poll %s#%s: %s", run.id, repo, made.number,
                        scrub_text(str(exc)))
    return done


def _poll_one(deps: Deps, host: CodeHost, opened: RunContext, repo: str,
              number: int) -> list[str]:
    done: list[str] = []
    for comment in host.comments(repo, number):
        current = open_run(deps, opened.run.id, FOLLOWED)
        if current is None or current.run.state != RunState.PROPOSED:
            return done
        done.append(on_comment(deps, host, current, repo, number, comment))
    change: Change = host.change(repo, number)
    if change.state == "open":
        return done
    current = open_run(deps, opened.run.id, FOLLOWED)
    if current is None:
        return done
    activity = ChangeActivity(host="gitlab" if host.name == "gitlab" else "github", repo=repo,
                              number=number, kind=change.state, branch=change.branch,
                              merge_sha=change.merge_sha)
    if change.state == "merged":
        done.append(merged(deps, current, activity))
    else:
        done.append(closed(deps, host, current, activity))
    return done


def follow_delivery(deps: Deps, delivery_id: int) -> str:
    """Act on one stored code-host webhook delivery; idempotent on redelivery."""
    delivery = deps.store.get_delivery(delivery_id)
    if delivery is None:
        raise PermanentError(f"delivery {delivery_id} does not exist")
    if delivery.status != "pending":
        return f"delivery {delivery_id} already {delivery.status}"
    try:
        activity = activity_of(dict(delivery.payload))
    except (KeyError, ValidationError) as exc:
        deps.store.finish_delivery(delivery_id, "failed", f"malformed activity: {exc}"[:500])
        return f"delivery {delivery_id} is malformed"
    done = apply_activity(deps, activity)
    deps.store.finish_delivery(delivery_id, "processed", done)
    return done


def retries_started(deps: Deps, since: datetime) -> list[int]:
    """Runs a `/suture retry` moved back to correlated at or after `since`: the caller sends
    each on to the fix stage (the reconciler would too, later)."""
    started = []
    for run in deps.store.list_runs():
        follow = run.record.follow
        if run.state != RunState.CORRELATED or follow is None or not follow.retry_pending:
            continue
        last = deps.store.transitions(run.id)[-1]
        if last.at >= since and last.from_state == RunState.PROPOSED.value:
            started.append(run.id)
    return started
