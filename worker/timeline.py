"""One run's whole story, as `suture runs show` prints it: every transition with its time and
reason, and a summary of the record its stages left (suspects, attempts and verdicts, the pull
request or ticket, what followed).

The summary is a typed view of `worker.runs.RunRecord`, built once and printed as text or JSON.
Its free text (reasons, titles, commit subjects) comes from errors and commits and is scrubbed
here, before anyone sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import BaseModel, Field

from worker.models import Cluster, RunState, Transition
from worker.runs import FixOutcome, FollowRecord, Publication, Run
from worker.scrub import scrub_name, scrub_text


class Step(BaseModel):
    """One transition, and how long the run had been in the state it left."""

    at: datetime
    from_state: str
    to_state: RunState
    reason: str
    after_seconds: float | None = None  # None for the first


class SuspectLine(BaseModel):
    """A suspect commit in short."""

    sha: str
    score: float
    author: str = ""
    summary: str = ""


class AttemptLine(BaseModel):
    """One agent's attempt and the verdict on its patch (if it made one)."""

    agent: str
    patched: bool
    cost_usd: float = 0.0
    tokens: int = 0
    seconds: float = 0.0
    error: str = ""
    verdict: str = ""  # verified, rejected, could not verify; "" when not verified (yet)
    reasons: list[str] = Field(default_factory=list)


class FixLine(BaseModel):
    """The fix and verify stages in short."""

    playbook: str = ""
    base: str = ""
    attempts: list[AttemptLine] = Field(default_factory=list)
    chosen: str = ""  # the agent whose patch was chosen
    changed_lines: int = 0
    environment: str = ""
    brought_in_by: str = ""  # the bisection's culprit commit, or why none was found
    # Where the fix and verify stages' sandboxed commands connected, and where they were refused.
    reached: list[str] = Field(default_factory=list)
    refused: list[str] = Field(default_factory=list)


class RunSummary(BaseModel):
    """Everything `suture runs show` prints about a run."""

    id: int
    cluster_id: int
    title: str = ""
    episode: int
    state: RunState
    reason: str
    created_at: datetime
    updated_at: datetime
    timeline: list[Step] = Field(default_factory=list)
    release: str = ""
    suspects: list[SuspectLine] = Field(default_factory=list)
    owners: list[str] = Field(default_factory=list)
    fix: FixLine | None = None
    publication: Publication | None = None
    follow: FollowRecord | None = None
    unreadable: list[str] = Field(default_factory=list)


def summarise(run: Run, cluster: Cluster | None, history: list[Transition]) -> RunSummary:
    """The summary of `run` with its transitions (oldest first)."""
    correlation = run.record.correlation
    publication = run.record.publication
    if publication is not None:
        publication = publication.model_copy(
            update={"fallback_reason": scrub_text(publication.fallback_reason)})
    return RunSummary(
        id=run.id, cluster_id=run.cluster_id, episode=run.episode, state=run.state,
        title=scrub_text(cluster.title) if cluster else "", reason=scrub_text(run.reason),
        created_at=run.created_at, updated_at=run.updated_at, timeline=steps(history),
        release=correlation.release if correlation else "",
        suspects=[SuspectLine(sha=s.sha, score=round(s.score, 3), author=scrub_name(s.author),
                              summary=scrub_text(s.summary))
                  for s in (correlation.suspects if correlation else [])],
        owners=[scrub_name(o.login or o.name) for o in (correlation.owners if correlation else [])],
        fix=fix_line(run.record.fix) if run.record.fix else None,
        publication=publication, follow=run.record.follow,
        unreadable=list(run.record.unreadable))


def steps(history: list[Transition]) -> list[Step]:
    """Transitions as steps, each with the time since the one before it."""
    made: list[Step] = []
    for index, transition in enumerate(history):
        after = (transition.at - history[index - 1].at).total_seconds() if index else None
        made.append(Step(at=transition.at, from_state=transition.from_state,
                         to_state=transition.to_state, reason=scrub_text(transition.reason),
                         after_seconds=after))
    return made


def fix_line(fix: FixOutcome) -> FixLine:
    """The fix outcome in short: each attempt with the verdict on its patch."""
    verdicts = {v.agent: v for v in fix.verifications}
    attempts = []
    for attempt in fix.attempts:
        verdict = verdicts.get(attempt.agent) if attempt.patch else None
        attempts.append(AttemptLine(
            agent=attempt.agent, patched=bool(attempt.patch), cost_usd=attempt.cost_usd,
            tokens=attempt.tokens, seconds=round(attempt.seconds, 3),
            error=scrub_text(attempt.error),
            verdict=str(verdict.status) if verdict is not None and verdict.status else "",
            reasons=[scrub_text(reason) for reason in verdict.reasons] if verdict else []))
    environment = ""
    if fix.environment is not None and fix.environment.key:
        environment = fix.environment.source + (" (reused)" if fix.environment.reused else "")
    elif fix.environment_failure is not None:
        environment = "could not be built"
    bisection = fix.bisection
    brought_in = ""
    if bisection is not None:
        brought_in = (f"{bisection.culprit[:12]} {scrub_text(bisection.summary)}".strip()
                      if bisection.culprit else scrub_text(bisection.reason))
    chosen = fix.chosen
    commands = [*fix.audit, *fix.verify_audit]
    return FixLine(playbook=fix.playbook, base=fix.base, attempts=attempts,
                   chosen=chosen.agent if chosen else "",
                   changed_lines=chosen.changed_lines if chosen else 0,
                   environment=environment, brought_in_by=brought_in,
                   reached=_network(line for c in commands for line in c.reached),
                   refused=_network(line for c in commands for line in c.refused))


def _network(lines: Iterable[str]) -> list[str]:
    """Scrubbed lines, each once, in the order first seen."""
    return list(dict.fromkeys(scrub_text(line) for line in lines))


def step_line(step: Step) -> str:
    """`HH:MM:SS.mmm  from -> to (+N s): reason`."""
    after = f" (+{step.after_seconds:.1f} s)" if step.after_seconds is not None else ""
    return (f"{step.at:%Y-%m-%d %H:%M:%S}  {step.from_state or '-'} -> {step.to_state.value}"
            f"{after}: {step.reason}")


def render(summary: RunSummary) -> list[str]:
    """The summary as the lines `suture runs show` prints."""
    lines = [f"run {summary.id} (cluster {summary.cluster_id}, episode {summary.episode}): "
             f"{summary.state.value}", f"  {summary.title}", f"  {summary.reason}",
             "", "timeline:"]
    lines += [f"  {step_line(step)}" for step in summary.timeline]
    if summary.suspects or summary.owners:
        lines += ["", f"suspects (release {summary.release[:12] or 'unknown'}):"]
        lines += [f"  {s.sha[:12]} {s.score:.2f} {s.author}: {s.summary}"
                  for s in summary.suspects]
        lines.append(f"  owners: {', '.join(summary.owners) or 'none found'}")
    if summary.fix is not None:
        lines += ["", *_fix_lines(summary.fix)]
    lines += _outcome_lines(summary)
    if summary.unreadable:
        lines += ["", f"unreadable parts of the record: {', '.join(summary.unreadable)}"]
    return lines


def _fix_lines(fix: FixLine) -> list[str]:
    lines = [f"fix (playbook {fix.playbook or '-'}, base {fix.base[:12] or '-'}):"]
    for attempt in fix.attempts:
        made = "a patch" if attempt.patched else f"no patch ({attempt.error or 'none'})"
        verdict = f"; {attempt.verdict}" if attempt.verdict else ""
        why = f": {'; '.join(attempt.reasons)}" if attempt.reasons else ""
        lines.append(f"  {attempt.agent}: {made}, ${attempt.cost_usd:.4f}, {attempt.tokens} "
                     f"tokens, {attempt.seconds:.1f} s{verdict}{why}")
    if fix.chosen:
        lines.append(f"  chosen: {fix.chosen} ({fix.changed_lines} changed lines)")
    if fix.environment:
        lines.append(f"  environment: {fix.environment}")
    if fix.brought_in_by:
        lines.append(f"  brought in by: {fix.brought_in_by}")
    lines += [f"  reached: {line}" for line in fix.reached]
    lines += [f"  refused: {line}" for line in fix.refused]
    return lines


def _outcome_lines(summary: RunSummary) -> list[str]:
    lines: list[str] = []
    publication = summary.publication
    if publication is not None:
        lines += ["", f"published: {publication.kind} {publication.url}"]
        pull = publication.pull_request
        if pull is not None:
            lines.append(f"  #{pull.number} on branch {pull.branch}; reviewers: "
                         f"{', '.join(pull.reviewers) or 'none'}")
        if publication.fallback_reason:
            lines.append(f"  instead of a pull request: {publication.fallback_reason}")
    follow = summary.follow
    if follow is not None:
        lines += ["", "afterwards:"]
        if follow.merged_at:
            lines.append(f"  merged {follow.merged_at:%Y-%m-%d %H:%M} by {follow.merged_by}")
        if follow.closed_at:
            lines.append(f"  closed {follow.closed_at:%Y-%m-%d %H:%M} by {follow.closed_by}: "
                         f"{scrub_text(follow.close_reason)}")
        if follow.held_at:
            lines.append(f"  held since {follow.held_at:%Y-%m-%d %H:%M}")
        lines += [f"  recurred {r.at:%Y-%m-%d %H:%M} (event {r.event_id}, release "
                  f"{r.release or '?'})" for r in follow.recurrences]
        if follow.retries:
            lines.append(f"  {follow.retries} new attempt(s) asked for in review")
    return lines
