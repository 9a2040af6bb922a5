"""Proposing a verified fix as a draft pull (or merge) request, exactly once per cluster episode.

The steps, each safe to repeat after a crash at any point:
1. the change is looked for on the host by its branch and marker: found, it is adopted;
2. the branch is pushed unless the host has it already: its commit is the verified patch on
   the release commit the fix was made on, made deterministically (the same commit on every
   retry), carried onto the default branch's head when it applies there;
3. the draft is opened (the host's "already exists" is adopted as well);
4. reviewers are requested and the verification evidence is attached to the head commit.
The stored publication's lease keeps two workers from doing this at once; a crashed worker's
lease runs out and the next attempt starts again at step 1, which finds what was done.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from worker.codehost import Change, ChangeDraft, CheckReport, PushAccess, Signature
from worker.ports import CodeHost, SutureError, UpstreamLinks, Workspace
from worker.runs import PullRequestRecord, StepTiming
from worker.scrub import scrub_text
from worker.stages.deps import Deps, RunContext

log = logging.getLogger("suture.publish")

BOT = ("suture", "suture@users.noreply.invalid")
# Where a repository keeps the template its pull requests start from (GitHub's and GitLab's).
PR_TEMPLATES = (".github/pull_request_template.md", ".github/PULL_REQUEST_TEMPLATE.md",
                "docs/pull_request_template.md", "pull_request_template.md",
                ".gitlab/merge_request_templates/Default.md")

# Called with each step's name as it starts: tests use it to stop a worker mid-publication.
step_hook: Callable[[str], None] | None = None


def branch_name(opened: RunContext) -> str:
    """`suture/<short id>-<slug>`: fixed for a cluster's episode, readable in a branch list."""
    cluster = opened.cluster
    words = re.sub(r"[^a-z0-9]+", "-", (cluster.exception_type or cluster.title).lower())
    slug = "-".join(part for part in words.split("-") if part)[:40].rstrip("-") or "fix"
    episode = f"-e{opened.run.episode}" if opened.run.episode > 1 else ""
    return f"suture/{cluster.fingerprint[:8]}{episode}-{slug}"


def reached(step: str) -> None:
    """Mark that publishing has reached `step` (for `step_hook`)."""
    if step_hook is not None:
        step_hook(step)


@contextmanager
def _step(record: PullRequestRecord, name: str) -> Iterator[None]:
    reached(name)
    started = time.monotonic()
    try:
        yield
    finally:
        record.timings.append(StepTiming(step=name, seconds=round(time.monotonic() - started, 3)))


def propose(deps: Deps, host: CodeHost, workspace: Workspace, opened: RunContext, *,
            repo: str, marker: str, title: str,
            render_body: Callable[[PullRequestRecord, str | None], str],
            labels: list[str], reviewers: list[str],
            after_push: Callable[[PullRequestRecord], None] | None = None,
            ) -> tuple[Change, PullRequestRecord]:
    """Open (or adopt) the run's draft change; what was done and how long each step took.
    `after_push` runs once the branch is on the host, before the change is opened (previews
    the host deploys from pushed branches); it may raise PermanentError to stop there."""
    fix = opened.run.record.fix
    assert fix is not None and fix.chosen is not None  # the caller publishes verified runs only
    record = PullRequestRecord(branch=branch_name(opened), release=fix.base)
    with _step(record, "access"):
        access = host.push_access(repo)
        record.base_branch = host.default_branch(repo)
    with _step(record, "lookup"):
        found = host.find_change(repo, record.branch, marker)
    if found is not None:
        record.adopted = True
        record.head = found.head_sha
        return found, record
    with _step(record, "push"):
        _push(workspace, access, opened, record, title)
    if after_push is not None:
        with _step(record, "preview"):
            after_push(record)
    template = _repository_template(deps, opened, record.release)
    with _step(record, "open"):
        change = host.open_change(ChangeDraft(
            repo=repo, branch=record.branch, base_branch=record.base_branch, title=title,
            body=render_body(record, template), marker=marker, labels=labels))
    record.adopted = change.adopted
    return change, record


def _push(workspace: Workspace, access: PushAccess, opened: RunContext,
          record: PullRequestRecord, title: str) -> None:
    """Push the fix branch unless the remote has it already (a crash after an earlier push)."""
    fix = opened.run.record.fix
    assert fix is not None and fix.chosen is not None
    signature = Signature(name=BOT[0], email=BOT[1], when=opened.run.created_at)
    commit = workspace.commit_patch(fix.base, fix.chosen.patch.encode(),
                                    f"{title}\n\nVerified by suture (run {opened.run.id}).\n",
                                    signature)
    default_head = workspace.fetch_branch(access, record.base_branch)
    carried = workspace.carry_onto(commit, default_head, signature) if default_head else None
    record.default_head = default_head or ""
    record.rebased = bool(carried and carried != commit)
    record.conflicts_with_default = bool(default_head) and carried is None
    record.head = carried or commit
    existing = workspace.remote_branch(access, record.branch)
    if existing is not None:
        # Pushed by an earlier attempt that stopped before opening the change: keep it.
        record.head = existing
        record.pushed_earlier = True
        return
    workspace.push_branch(access, record.head, record.branch)


def _repository_template(deps: Deps, opened: RunContext, release: str) -> str | None:
    """The repository's own pull request template at the release commit, if it has one."""
    if deps.open_repository is None or opened.service is None:
        return None
    repository = deps.open_repository(opened.service.repository)
    texts = repository.read_many(release, list(PR_TEMPLATES))
    return next((text for path in PR_TEMPLATES if (text := texts.get(path))), None)


def attach_evidence(host: CodeHost, change: Change, record: PullRequestRecord, *, repo: str,
                    reviewers: list[str], check: CheckReport) -> None:
    """Ask the owners to review and attach the verification evidence (both idempotent on the
    host: a second request for the same reviewer changes nothing; the check is keyed by
    the caller)."""
    with _step(record, "reviewers"):
        if reviewers:
            asked = host.request_reviewers(repo, change.number, reviewers)
            record.reviewers = asked.requested
            record.reviewers_skipped = asked.skipped
    with _step(record, "check"):
        posted = host.report_check(repo, check)
        record.check = posted.kind
        record.check_url = posted.url


def link_upstream(deps: Deps, opened: RunContext, change: Change,
                  record: PullRequestRecord) -> None:
    """A note on the Sentry issue pointing at the change (best effort: a note that cannot be
    left is logged, never a reason to fail the publication). Idempotent: the source looks for
    a note with the URL before it posts one."""
    issue_id = opened.cluster.upstream.get("sentry")
    source = deps.sources.get("sentry")
    if not issue_id or not isinstance(source, UpstreamLinks):
        return
    text = (f"suture proposed a verified fix for this issue: {change.url} "
            f"(a draft, for review).")
    with _step(record, "upstream"):
        try:
            record.upstream_note = source.link_change(issue_id, change.url, text) or ""
        except SutureError as exc:
            log.warning("run %s: no note on Sentry issue %s: %s", opened.run.id, issue_id,
                        scrub_text(str(exc)))
