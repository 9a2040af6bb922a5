"""The evidence a proposed fix carries: the pull request's body and the check report on its
head commit, both from the run's typed record, with every event value scrubbed."""

from __future__ import annotations

import re
from datetime import datetime

from worker.codehost import CheckReport
from worker.correlate.presented import presented
from worker.fix.models import Verification
from worker.preview.outcome import PreviewOutcome
from worker.runs import PullRequestRecord
from worker.scrub import scrub_event, scrub_text
from worker.stacktrace import format_stack
from worker.stages.deps import Deps, RunContext
from worker.stages.links import commit_url

_DIFF_PATH = re.compile(r"^\+\+\+ b/(.+)$", re.MULTILINE)
CHECK_TEXT_LIMIT = 65_000  # GitHub's check-run text limit is 65,535 characters


def changed_paths(patch: str) -> list[str]:
    """The files a unified diff changes, in order."""
    return list(dict.fromkeys(_DIFF_PATH.findall(patch)))


def pull_request_body(deps: Deps, opened: RunContext, record: PullRequestRecord,
                      repo_template: str | None, marker: str, now: datetime, *,
                      preview: PreviewOutcome | None = None) -> str:
    """The draft's body, rendered through `pull_request.md.j2`."""
    run, cluster, service = opened.run, opened.cluster, opened.service
    fix = run.record.fix
    assert fix is not None and fix.chosen is not None
    events = [scrub_event(event) for event in opened.events]
    event = next((e for e in events if e.frames), events[0] if events else None)
    started = min([cluster.first_seen, run.created_at])
    return deps.renderer.render(
        "pull_request.md.j2", cluster=cluster.model_copy(update={
            "title": scrub_text(cluster.title), "culprit": scrub_text(cluster.culprit)}),
        run=run, event=event, service=service, stack=format_stack(event) if event else "",
        marker=marker, correlation=presented(run.record.correlation), fix=fix, pr=record,
        changed=changed_paths(fix.chosen.patch), preview=preview,
        repo_template=repo_template, fixes_line=fixes_line(opened),
        elapsed_seconds=max(0.0, (now - started).total_seconds()),
        cost=sum(attempt.cost_usd for attempt in fix.attempts),
        commit_url=lambda sha: commit_url(deps.settings, service.slug if service else None,
                                          sha))


def fixes_line(opened: RunContext) -> str:
    """`Fixes <SHORT-ID>`, which lets Sentry resolve its issue when the fix ships."""
    short_id = opened.cluster.upstream.get("sentry_short_id")
    return f"Fixes {short_id}" if short_id else ""


def check_report(verdict: Verification, head_sha: str, details_url: str | None) -> CheckReport:
    """The verification evidence for the head commit: counts in the summary, logs in the text."""
    reproduction, suite = verdict.reproduction, verdict.suite
    summary = [f"- {reason}" for reason in verdict.reasons] or ["- verified"]
    summary.append(f"- reproduction: {reproduction.counts.reproduced} of "
                   f"{reproduction.counts.tests} test(s) red on base, green on the fix")
    if suite.ran:
        summary.append(f"- suite: {suite.counts.ran_on_base} ran on base, "
                       f"{suite.counts.ran_on_fix} on the fix, {suite.counts.broken} broken")
    logs = []
    for name, report in (("reproduction on base", reproduction.base),
                         ("reproduction on the fix", reproduction.fix),
                         ("suite on base", suite.base), ("suite on the fix", suite.fix)):
        if report is not None and report.log:
            logs.append(f"### {name} (exit {report.exit_code})\n```\n{report.log}\n```")
    text = scrub_text("\n\n".join(logs))[:CHECK_TEXT_LIMIT]
    return CheckReport(head_sha=head_sha, conclusion="success" if verdict.verified else "failure",
                       title="Verified: reproduction red to green, suite no worse"
                       if verdict.verified else "Not verified",
                       summary=scrub_text("\n".join(summary)), text=text,
                       details_url=details_url)
