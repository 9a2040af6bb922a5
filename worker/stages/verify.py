"""The verify stage: every candidate patch is judged outside the model; the smallest that passes
everything wins.

Verification is the diff policy, a reproduction test red on the base and green on the fix, and
the repository's test suite no worse than on the base, all in the sandbox. The verdicts, with
every reason and the logs behind them, are stored on the run. The winner's reproduction test is
then run back in history to find the commit that brought the crash in (`stages.culprit`).
"""

from __future__ import annotations

import time
from typing import Any

from worker.fix.models import Attempt, Verification
from worker.models import RunState
from worker.playbooks import choose_playbook, load_playbooks
from worker.ports import PermanentError
from worker.stages.bisect import bisect_crash
from worker.stages.deps import AGENT_STAGE_SECONDS, Deps, service_of
from worker.verify import DiffPolicy, changed_lines, choose_best, verify_patch


def verify(deps: Deps, run_id: int) -> RunState | None:
    """Verify a patched run's candidates; returns VERIFIED or UNVERIFIED."""
    run = deps.store.get_run(run_id)
    if run is None or run.state not in (RunState.PATCHED, RunState.VERIFYING):
        return None
    started = time.monotonic()
    if run.state == RunState.PATCHED and not deps.store.transition(
            run_id, RunState.PATCHED, RunState.VERIFYING, "verifying the candidate patches"):
        return None
    cluster = deps.store.get_cluster(run.cluster_id)
    if cluster is None:
        raise PermanentError(f"run {run_id} points at a missing cluster")
    events = deps.store.cluster_events(cluster.id)
    service = service_of(deps.settings, cluster.project, events)
    event = next((e for e in events if e.frames), None)
    fixed: dict[str, Any] = dict(run.details.get("fix") or {})  # type: ignore[call-overload]
    if service is None or event is None or not deps.open_repository or not deps.make_sandbox:
        return _done(deps, run_id, False, "verification impossible: the repository or the "
                                          "sandbox is not available", fixed)
    repository = deps.open_repository(service.repository)
    playbook = choose_playbook(load_playbooks(deps.settings.playbooks_dir), event)
    policy = DiffPolicy(**playbook.diff_policy.model_dump())
    test_command = playbook.checks.test_command or service.test_command
    sandbox = deps.make_sandbox()
    judged: list[tuple[Attempt, Verification, int]] = []
    for data in fixed.get("attempts", []):
        if not data.get("patch"):
            continue
        attempt = Attempt.model_validate(data)
        verdict = verify_patch(_path(repository), fixed["base"], attempt.patch,
                               test_command=test_command, sandbox=sandbox, policy=policy,
                               expected_error=event.primary.type if event.primary else None)
        judged.append((attempt, verdict, changed_lines(attempt.patch)))
    fixed["verifications"] = [{"agent": a.agent, **v.model_dump(mode="json")}
                              for a, v, _n in judged]
    fixed["verify_audit"] = _audit(sandbox)
    best = choose_best(judged)
    found = bisect_crash(deps, _path(repository), fixed["base"], judged, best, sandbox, event,
                         run.details.get("correlation"),
                         seconds_left=AGENT_STAGE_SECONDS - (time.monotonic() - started) - 60)
    fixed["bisection"] = found.model_dump(mode="json")
    fixed["verify_audit"] = _audit(sandbox)
    started = f"; the crash started at {found.culprit[:12]}" if found.culprit else ""
    if best is None:
        reasons = "; ".join(f"{a.agent}: {', '.join(v.reasons[:4])}" for a, v, _n in judged)
        return _done(deps, run_id, False, f"verification rejected every patch ({reasons})"
                                          f"{started}", fixed)
    attempt, verdict, lines = best
    fixed["chosen"] = {"agent": attempt.agent, "patch": attempt.patch, "changed_lines": lines,
                       "verification": verdict.model_dump(mode="json")}
    return _done(deps, run_id, True, f"verified: the {attempt.agent} patch ({lines} changed "
                                     f"lines) passes the diff policy, its reproduction test "
                                     f"and the suite{started}", fixed)


def _audit(sandbox: Any) -> list[dict[str, Any]]:
    """Every command the sandbox ran for this stage, in short."""
    return [{"argv": c.argv[:20], "exit_code": c.exit_code, "seconds": round(c.seconds, 3),
             "killed": c.killed} for c in sandbox.audit]


def _path(repository: Any) -> Any:
    return repository.path


def _done(deps: Deps, run_id: int, ok: bool, reason: str,
          fixed: dict[str, Any]) -> RunState | None:
    new = RunState.VERIFIED if ok else RunState.UNVERIFIED
    if deps.store.transition(run_id, RunState.VERIFYING, new, reason, fix=fixed):
        return new
    return None
