"""The fix stage: agents from the playbook propose patches, each in a fresh sandboxed worktree.

It decides first whether a fix may be tried (kill switch, budgets, cooldown), then runs the
playbook's agents in order, up to the playbook's number of attempts. Whatever an agent says, the
patch is read from its worktree; candidates, transcripts, costs and every sandboxed command are
stored on the run for the verify stage and the reviewer.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from worker.correlate.models import Correlation
from worker.env.models import EnvironmentFailure
from worker.env.services import with_test_services
from worker.env.use import in_environment, prepared
from worker.fix.budget import FixCounts, may_fix
from worker.fix.models import Attempt, FixTask
from worker.models import ErrorEvent, RunState
from worker.playbooks import (
    Playbook,
    PromptContext,
    apply_repo_override,
    choose_playbook,
    load_playbooks,
    render_prompt,
    repo_instructions,
)
from worker.ports import CodingAgent, PermanentError, Repository, Sandbox
from worker.runs import CommandSummary, FixOutcome, RunRecord
from worker.scrub import scrub_event
from worker.settings import ServiceSettings
from worker.stages.deps import Deps, open_run
from worker.stages.scrubbing import scrubbed_attempt, scrubbed_command

TRANSCRIPT_KEPT = 60


def fix(deps: Deps, run_id: int) -> RunState | None:
    """Propose patches for a correlated run; returns the run's new state."""
    opened = open_run(deps, run_id, (RunState.CORRELATED, RunState.FIXING))
    if opened is None:
        return None
    service, event = opened.service, opened.event
    if opened.run.state == RunState.CORRELATED:
        blocked = _blocked(deps, opened.cluster.id, service, event)
        if blocked:
            return _move(deps, run_id, RunState.CORRELATED, RunState.UNVERIFIED,
                         f"no fix attempted: {blocked}")
        assert service is not None
        if not deps.store.transition(run_id, RunState.CORRELATED, RunState.FIXING,
                                     f"fixing {service.name}: {_budget_reason(deps, service)}"):
            return None
    assert service is not None and event is not None
    follow, earlier = opened.run.record.follow, opened.run.record.fix
    review = follow.review if follow and follow.retry_pending else []
    outcome = attempt_fixes(deps, run_id, service, event, opened.run.record.correlation,
                            review=review, base=earlier.base if review and earlier else None)
    if outcome.environment_failure is not None:
        return _move(deps, run_id, RunState.FIXING, RunState.UNVERIFIED,
                     f"no fix attempted: the repository's environment could not be built: "
                     f"{outcome.environment_failure.reason}", fix=outcome)
    patched = outcome.patched
    if patched:
        return _move(deps, run_id, RunState.FIXING, RunState.PATCHED,
                     f"{len(patched)} candidate patch(es) from "
                     f"{', '.join(a.agent for a in patched)}", fix=outcome)
    why = "; ".join(f"{a.agent}: {a.error or 'no change'}" for a in outcome.attempts)
    return _move(deps, run_id, RunState.FIXING, RunState.UNVERIFIED,
                 f"no agent produced a patch ({why or 'no agent configured'})", fix=outcome)


def _blocked(deps: Deps, cluster_id: int, service: ServiceSettings | None,
             event: ErrorEvent | None) -> str:
    if service is None:
        return "no service maps this cluster to a repository"
    if event is None:
        return "no event of the cluster has a stack trace"
    if None in (deps.open_repository, deps.open_workspace, deps.make_sandbox, deps.make_agent):
        return "the fix loop is not wired (no repository, sandbox or agents)"
    decision = may_fix(deps.settings.fix, _counts(deps, cluster_id, service), service.name)
    return "" if decision.allowed else decision.reason


def _counts(deps: Deps, cluster_id: int, service: ServiceSettings) -> FixCounts:
    now = deps.now()
    day = now - timedelta(days=1)
    cooldown = now - timedelta(hours=deps.settings.fix.cooldown_hours)
    return FixCounts(
        today=deps.store.count_transitions(RunState.FIXING, day),
        repository_today=deps.store.count_transitions(RunState.FIXING, day,
                                                      reason_prefix=f"fixing {service.name}:"),
        cluster_failures_in_cooldown=deps.store.count_transitions(
            RunState.UNVERIFIED, cooldown, reason_prefix="verification rejected",
            cluster_id=cluster_id))


def _budget_reason(deps: Deps, service: ServiceSettings) -> str:
    day = deps.now() - timedelta(days=1)
    used = deps.store.count_transitions(RunState.FIXING, day)
    return f"fix {used + 1} of {deps.settings.fix.max_runs_per_day} today"


def attempt_fixes(deps: Deps, run_id: int, service: ServiceSettings, event: ErrorEvent,
                  correlation: Correlation | None, *, review: list[str] | None = None,
                  base: str | None = None) -> FixOutcome:
    """Run the playbook's agents, each in its own worktree; what they produced and did.

    With `review` (a new attempt asked for on the pull request) only agents that read their
    prompt run, from `base` (the commit the first fix was made on), with the feedback and the
    thread in the prompt: a fix template would only make the same patch again."""
    assert deps.open_repository and deps.open_workspace and deps.make_sandbox and deps.make_agent
    repository = deps.open_repository(service.repository)
    workspace = deps.open_workspace(service.repository)
    if base is None:
        base = repository.resolve(service.default_branch
                                  if _has(repository, service.default_branch) else "HEAD")
    playbook = choose_playbook(load_playbooks(deps.settings.playbooks_dir), event)
    environment = prepared(deps.environments, workspace, base, service.setup)
    if isinstance(environment, EnvironmentFailure):
        return FixOutcome(playbook=playbook.name, base=base, environment_failure=environment)
    sandbox = with_test_services(in_environment(deps.make_sandbox(), environment),
                                 service.test_services)
    attempts: list[Attempt] = []
    specs = [spec for spec in playbook.agents if not review or spec.kind != "templates"]
    for number, spec in enumerate(specs[: playbook.max_attempts], start=1):
        agent = deps.make_agent(spec, playbook)
        if agent is None:
            attempts.append(Attempt(agent=spec.kind, error="not configured"))
            continue
        folder = _worktrees(deps) / f"run-{run_id}" / f"attempt-{number}"
        with workspace.worktree(base, folder) as tree:
            local = apply_repo_override(playbook, tree)
            task = _task(run_id, event, correlation, local, tree, service, review or [])
            result = _safe_attempt(agent, task, tree, sandbox)
            patch = workspace.patch(tree)
        attempts.append(scrubbed_attempt(result.model_copy(update={
            "patch": patch, "transcript": result.transcript[-TRANSCRIPT_KEPT:]})))
    return FixOutcome(playbook=playbook.name, base=base, attempts=attempts,
                      audit=[scrubbed_command(CommandSummary.of(c)) for c in sandbox.audit],
                      environment=environment)


def _has(repository: Repository, ref: str) -> bool:
    try:
        repository.resolve(ref)
    except PermanentError:
        return False
    return True


def _worktrees(deps: Deps) -> Path:
    return deps.settings.fix.worktrees_dir or deps.settings.data_dir / "worktrees"


def _task(run_id: int, event: ErrorEvent, correlation: Correlation | None, playbook: Playbook,
          tree: Path, service: ServiceSettings, review: list[str]) -> FixTask:
    crash = None
    if correlation:
        mapped = [f for f in correlation.frames if f.depth is not None]
        crash = min(mapped, key=lambda f: f.depth or 0) if mapped else None
    test_command = playbook.checks.test_command or service.test_command
    context = PromptContext(
        event=event, suspects=correlation.suspects if correlation else [],
        instructions=repo_instructions(tree), test_command=test_command,
        crash_file=crash.path if crash else None,
        crash_line=crash.frame.lineno if crash else None,
        crash_function=crash.frame.function if crash else None, review=review)
    primary = event.primary
    # Agents write the event into code (a replayed request, a test's docstring) that may end in
    # a pull request: they get it scrubbed, like the prompt.
    return FixTask(run_id=run_id, prompt=render_prompt(playbook, context),
                   event=scrub_event(event),
                   error_type=primary.type if primary else "", playbook=playbook.name,
                   crash_file=context.crash_file, crash_line=context.crash_line,
                   crash_function=context.crash_function, test_command=test_command,
                   instructions=context.instructions)


def _safe_attempt(agent: CodingAgent, task: FixTask, tree: Path, sandbox: Sandbox) -> Attempt:
    try:
        return agent.attempt(task, tree, sandbox)
    except PermanentError as exc:
        return Attempt(agent=agent.name, error=f"agent failed: {exc}")


def _move(deps: Deps, run_id: int, old: RunState, new: RunState, reason: str,
          fix: FixOutcome | None = None) -> RunState | None:
    record = RunRecord(fix=fix) if fix is not None else None
    return new if deps.store.transition(run_id, old, new, reason, record=record) else None
