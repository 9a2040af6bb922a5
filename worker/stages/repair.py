"""A failing check on suture's pull request: one bounded repair attempt.

Only the pull request's current head counts, and only a check that passes (or does not exist)
on the commit the branch was made from: a failure the base has too is not the fix's doing and
is recorded as such. Otherwise, once per pull request, a new attempt starts with the check's
result in the prompt (inside the review block, scrubbed), and is brought back to the pull
request as any retry is (`stages.revision`).
"""

from __future__ import annotations

from worker.codehost import ChangeActivity
from worker.models import RunState
from worker.ports import CodeHost
from worker.runs import FollowRecord, RunRecord
from worker.scrub import scrub_text
from worker.stages.deps import Deps, RunContext

MAX_REPAIRS = 1


def on_check_failed(deps: Deps, host: CodeHost, opened: RunContext,
                    activity: ChangeActivity) -> str:
    """Start the one repair attempt a failing check may earn, or record why not."""
    run = opened.run
    made = run.record.publication.pull_request if run.record.publication else None
    if run.state != RunState.PROPOSED or made is None:
        return f"run {run.id} is {run.state.value}: no repair"
    head = activity.head_sha or made.head
    name = activity.check_name or "CI"
    if head != made.head:
        return f"check {name} on {head[:12]}, not the pull request's head: no repair"
    follow = run.record.follow or FollowRecord()
    key = f"check:{name}@{head}"
    if key in follow.handled:
        return f"check {name} on {head[:12]} was already handled"
    follow = follow.model_copy(update={"handled": [*follow.handled, key]})
    base = made.default_head or made.release
    on_base = host.check_result(activity.repo, base, name) if base else None
    if on_base is not None and on_base.conclusion == "failure":
        why = f"check {name} fails on the base commit {base[:12]} too: not the fix's doing"
    elif follow.repairs >= MAX_REPAIRS:
        why = f"check {name} failed again: the one repair attempt was already made"
    elif follow.retries >= deps.settings.follow.max_retries:
        why = f"check {name} failed: the cap of new attempts is reached"
    else:
        why = ""
    if why:
        deps.store.transition(run.id, run.state, run.state, why, record=RunRecord(follow=follow))
        return why
    failed = host.check_result(activity.repo, head, name)
    summary = " ".join(scrub_text(failed.summary if failed else "").split())[:1500]
    follow = follow.model_copy(update={
        "retries": follow.retries + 1, "repairs": follow.repairs + 1, "retry_pending": True,
        "review": [f"CI: the check {name} failed on your patch"
                   + (f": {summary}" if summary else "")]})
    deps.store.transition(run.id, RunState.PROPOSED, RunState.CORRELATED,
                          f"repairing: check {name} failed on {head[:12]} and passes on the "
                          f"base; new attempt {follow.retries}", record=RunRecord(follow=follow))
    return f"run {run.id}: repair started"
