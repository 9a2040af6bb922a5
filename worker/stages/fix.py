"""The fix stage: agents from the playbook propose patches, each in a fresh sandboxed worktree.

It decides first whether a fix may be tried (kill switch, budgets, cooldown), then runs the
playbook's agents in order, up to the playbook's number of attempts. Whatever an agent says, the
patch is read from its worktree; candidates, transcripts, costs and every sandboxed command are
stored on the run for the verify stage and the reviewer.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from worker.correlate.models import Correlation
from worker.fix.budget import FixCounts, may_fix
from worker.fix.models import Attempt, FixTask
from worker.models import ErrorEvent, RunState
from worker.playbooks import (
    PromptContext,
    apply_repo_override,
    choose_playbook,
    load_playbooks,
    render_prompt,
    repo_instructions,
)
from worker.ports import PermanentError
from worker.settings import ServiceSettings
from worker.stages.deps import Deps, service_of

TRANSCRIPT_KEPT = 60


def fix(deps: Deps, run_id: int) -> RunState | None:
    """Propose patches for a correlated run; returns the run's new state."""
    run = deps.store.get_run(run_id)
    if run is None or run.state not in (RunState.CORRELATED, RunState.FIXING):
        return None
    cluster = deps.store.get_cluster(run.cluster_id)
    if cluster is None:
        raise PermanentError(f"run {run_id} points at a missing cluster")
    events = deps.store.cluster_events(cluster.id)
    service = service_of(deps.settings, cluster.project, events)
    event = next((e for e in events if e.frames), None)
    if run.state == RunState.CORRELATED:
        blocked = _blocked(deps, cluster.id, service, event)
        if blocked:
            return _move(deps, run_id, RunState.CORRELATED, RunState.UNVERIFIED,
                         f"no fix attempted: {blocked}")
        assert service is not None
        if not deps.store.transition(run_id, RunState.CORRELATED, RunState.FIXING,
                                     f"fixing {service.name}: {_budget_reason(deps, service)}"):
            return None
    assert service is not None and event is not None
    found = run.details.get("correlation")
    correlation = Correlation.model_validate(found) if isinstance(found, dict) else None
    outcome = attempt_fixes(deps, run_id, service, event, correlation)
    patched = [a for a in outcome["attempts"] if a.get("patch")]
    if patched:
        return _move(deps, run_id, RunState.FIXING, RunState.PATCHED,
                     f"{len(patched)} candidate patch(es) from "
                     f"{', '.join(a['agent'] for a in patched)}", fix=outcome)
    why = "; ".join(f"{a['agent']}: {a.get('error') or 'no change'}" for a in outcome["attempts"])
    return _move(deps, run_id, RunState.FIXING, RunState.UNVERIFIED,
                 f"no agent produced a patch ({why or 'no agent configured'})", fix=outcome)


def _blocked(deps: Deps, cluster_id: int, service: ServiceSettings | None,
             event: ErrorEvent | None) -> str:
    if service is None:
        return "no service maps this cluster to a repository"
    if event is None:
        return "no event of the cluster has a stack trace"
    if deps.open_repository is None or deps.make_sandbox is None or deps.make_agent is None:
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
                  correlation: Correlation | None) -> dict[str, Any]:
    """Run the playbook's agents, each in its own worktree; what they produced and did."""
    assert deps.open_repository and deps.make_sandbox and deps.make_agent
    repository = deps.open_repository(service.repository)
    base = repository.resolve(service.default_branch if _has(repository, service.default_branch)
                              else "HEAD")
    playbook = choose_playbook(load_playbooks(deps.settings.playbooks_dir), event)
    sandbox = deps.make_sandbox()
    attempts: list[dict[str, Any]] = []
    for number, spec in enumerate(playbook.agents[: playbook.max_attempts], start=1):
        agent = deps.make_agent(spec, playbook)
        if agent is None:
            attempts.append({"agent": spec.kind, "error": "not configured", "patch": ""})
            continue
        folder = _worktrees(deps) / f"run-{run_id}" / f"attempt-{number}"
        with repository.worktree(base, folder) as tree:
            local = apply_repo_override(playbook, tree)
            task = _task(run_id, event, correlation, local, tree, service)
            result = _safe_attempt(agent, task, tree, sandbox)
            result.patch = deps.patch_of(tree) if deps.patch_of else ""
        attempts.append(_summary(result))
    return {"playbook": playbook.name, "base": base, "attempts": attempts,
            "audit": [_command(c) for c in sandbox.audit]}


def _has(repository: Any, ref: str) -> bool:
    try:
        repository.resolve(ref)
    except PermanentError:
        return False
    return True


def _worktrees(deps: Deps) -> Path:
    return deps.settings.fix.worktrees_dir or deps.settings.data_dir / "worktrees"


def _task(run_id: int, event: ErrorEvent, correlation: Correlation | None, playbook: Any,
          tree: Path, service: ServiceSettings) -> FixTask:
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
        crash_function=crash.frame.function if crash else None)
    primary = event.primary
    return FixTask(run_id=run_id, prompt=render_prompt(playbook, context), event=event,
                   error_type=primary.type if primary else "", playbook=playbook.name,
                   crash_file=context.crash_file, crash_line=context.crash_line,
                   crash_function=context.crash_function, test_command=test_command,
                   instructions=context.instructions)


def _safe_attempt(agent: Any, task: FixTask, tree: Path, sandbox: Any) -> Attempt:
    try:
        return agent.attempt(task, tree, sandbox)  # type: ignore[no-any-return]
    except PermanentError as exc:
        return Attempt(agent=agent.name, error=f"agent failed: {exc}")


def _summary(attempt: Attempt) -> dict[str, Any]:
    data = attempt.model_dump(mode="json")
    data["transcript"] = data["transcript"][-TRANSCRIPT_KEPT:]
    return data


def _command(result: Any) -> dict[str, Any]:
    return {"argv": result.argv[:20], "exit_code": result.exit_code,
            "seconds": round(result.seconds, 3), "killed": result.killed}


def _move(deps: Deps, run_id: int, old: RunState, new: RunState, reason: str,
          **details: Any) -> RunState | None:
    return new if deps.store.transition(run_id, old, new, reason, **details) else None
