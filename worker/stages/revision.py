"""A new attempt asked for on a pull request (`/suture retry`), brought back to it.

Verified: the new patch is committed on the release commit, carried onto the default branch
when it applies there, and pushed as a fast-forward of the pull request's branch (nothing is
pushed when the tree is the same); the pull request gets a comment with the new evidence and
the head commit a new check. Not verified: the comment says why, and the pull request stays as
it was. Either way the run is proposed again, and the comment is made once (its own lease).
"""

from __future__ import annotations

import uuid

from worker.codehost import Signature
from worker.models import RunState
from worker.runs import RunRecord
from worker.scrub import scrub_text
from worker.stages.deps import Deferred, Deps, RunContext
from worker.stages.evidence import check_report
from worker.stages.proposal import BOT

REVISABLE = (RunState.VERIFIED, RunState.UNVERIFIED)


def is_revision(opened: RunContext) -> bool:
    """True when the run is a new attempt for a pull request that is already open."""
    follow, made = opened.run.record.follow, opened.run.record.publication
    return bool(follow and follow.retry_pending and made and made.pull_request)


def revise(deps: Deps, opened: RunContext) -> RunState | None:
    """Bring the new attempt's result to the open pull request; the run is proposed again."""
    assert deps.code_host is not None and deps.open_workspace is not None
    assert opened.service is not None and opened.service.slug
    run, host, repo = opened.run, deps.code_host, opened.service.slug
    follow, made = run.record.follow, run.record.publication
    assert follow is not None and made is not None and made.pull_request is not None
    pull = made.pull_request
    key = f"pr-retry:{opened.cluster.fingerprint}:{run.episode}:{follow.retries}"
    lease = deps.store.lease_publication(key, run.id, "revision", uuid.uuid4().hex,
                                         deps.settings.publish_lease_seconds)
    if lease.status != "done" and not lease.owned:
        raise Deferred(f"revision {key} is being published by another worker", lease.until)
    fix = run.record.fix
    asked = (follow.review[0].split(":", 1)[0] if follow.review else "a reviewer")
    head = pull.head
    if fix is not None and fix.chosen is not None:
        workspace = deps.open_workspace(opened.service.repository)
        access = host.push_access(repo)
        signature = Signature(name=BOT[0], email=BOT[1], when=run.updated_at)
        commit = workspace.commit_patch(
            fix.base, fix.chosen.patch.encode(),
            f"Revise the fix after review (attempt {follow.retries})\n\nAsked for by {asked}.\n",
            signature)
        default_head = workspace.fetch_branch(access, pull.base_branch)
        carried = (workspace.carry_onto(commit, default_head, signature) if default_head
                   else None) or commit
        remote = workspace.fetch_branch(access, pull.branch) or pull.head
        head = workspace.rebuild_on(carried, remote, signature)
        if head != remote:
            workspace.push_branch(access, head, pull.branch)
        verdict = fix.chosen.verification
        text = (f"New attempt {follow.retries}, after {asked}'s feedback: verified again "
                f"({'; '.join(verdict.reasons[:3]) or 'the reproduction test and the suite'})."
                + (f" Pushed `{head[:12]}`." if head != remote
                   else " It made the same change as before, so nothing new was pushed."))
        if lease.status != "done":
            host.report_check(repo, check_report(verdict, head, None))
    else:
        why = scrub_text(run.reason)[:500]
        text = (f"New attempt {follow.retries}, after {asked}'s feedback, produced no verified "
                f"fix: {why}. This pull request is unchanged.")
    if lease.status != "done":
        url = host.comment(repo, pull.number, text)
        deps.store.complete_publication(key, head, url)
    done = follow.model_copy(update={"retry_pending": False})
    revised = pull.model_copy(update={"head": head})
    state = run.state
    if state in REVISABLE and not deps.store.transition(
            run.id, state, RunState.PUBLISHING, f"bringing attempt {follow.retries} to the "
                                                f"pull request"):
        return None
    deps.store.transition(run.id, RunState.PUBLISHING, RunState.PROPOSED,
                          f"pull request #{pull.number} "
                          + ("updated" if head != pull.head else "left as it was")
                          + f" after attempt {follow.retries}",
                          record=RunRecord(follow=done, publication=made.model_copy(
                              update={"pull_request": revised})))
    return RunState.PROPOSED
