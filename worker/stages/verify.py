"""The verify stage: every candidate patch is judged outside the model; the smallest that passes
everything wins.

Verification is the diff policy, a reproduction test red on the base and green on the fix, and
the repository's test suite no worse than on the base, all in the sandbox. The verdicts, with
every reason and the logs behind them, are stored on the run. The winner's reproduction test is
then run back in history to find the commit that brought the crash in (`stages.bisect`).
"""

from __future__ import annotations

import time

from worker.env.models import EnvironmentFailure
from worker.env.services import with_test_services
from worker.env.use import in_environment, prepared
from worker.fix.models import Attempt, VerdictStatus, Verification
from worker.models import RunState
from worker.playbooks import choose_playbook, load_playbooks
from worker.ports import Sandbox
from worker.runs import AttemptVerdict, ChosenPatch, CommandSummary, FixOutcome, RunRecord
from worker.stages.bisect import bisect_crash
from worker.stages.deps import AGENT_STAGE_SECONDS, Deps, open_run
from worker.stages.previewing import check_on_previews
from worker.stages.scrubbing import scrubbed_command
from worker.verify import DiffPolicy, changed_lines, choose_best, verify_patch


def verify(deps: Deps, run_id: int) -> RunState | None:
    """Verify a patched run's candidates; returns VERIFIED or UNVERIFIED."""
    opened = open_run(deps, run_id, (RunState.PATCHED, RunState.VERIFYING))
    if opened is None:
        return None
    started = time.monotonic()
    if opened.run.state == RunState.PATCHED and not deps.store.transition(
            run_id, RunState.PATCHED, RunState.VERIFYING, "verifying the candidate patches"):
        return None
    service, event = opened.service, opened.event
    fixed = opened.run.record.fix or FixOutcome()
    if service is None or event is None or not deps.open_workspace or not deps.make_sandbox:
        return _done(deps, run_id, False, "verification impossible: the repository or the "
                                          "sandbox is not available", fixed)
    workspace = deps.open_workspace(service.repository)
    playbook = choose_playbook(load_playbooks(deps.settings.playbooks_dir), event)
    policy = DiffPolicy(**playbook.diff_policy.model_dump())
    test_command = playbook.checks.test_command or service.test_command
    # The fix stage built the environment; this finds it in the cache (or builds it again).
    environment = prepared(deps.environments, workspace, fixed.base, service.setup)
    if isinstance(environment, EnvironmentFailure):
        return _done(deps, run_id, False, f"verification impossible: the repository's "
                                          f"environment could not be built: "
                                          f"{environment.reason}",
                     fixed.model_copy(update={"environment_failure": environment}))
    sandbox = with_test_services(in_environment(deps.make_sandbox(), environment),
                                 service.test_services)
    judged: list[tuple[Attempt, Verification, int]] = []
    for attempt in fixed.patched:
        verdict = verify_patch(workspace, fixed.base, attempt.patch,
                               test_command=test_command, sandbox=sandbox, policy=policy,
                               expected_error=event.primary.type if event.primary else None,
                               run_suite=playbook.checks.suite)
        judged.append((attempt, verdict, changed_lines(attempt.patch)))
    fixed = fixed.model_copy(update={
        "verifications": [AttemptVerdict(agent=a.agent, **dict(v)) for a, v, _n in judged],
        "verify_audit": _audit(sandbox)})
    best = choose_best(judged)
    found = bisect_crash(deps, workspace, fixed.base, judged, best, sandbox, event,
                         opened.run.record.correlation,
                         seconds_left=AGENT_STAGE_SECONDS - (time.monotonic() - started) - 60)
    fixed = fixed.model_copy(update={"bisection": found, "verify_audit": _audit(sandbox)})
    origin = f"; the crash started at {found.culprit[:12]}" if found.culprit else ""
    if best is None:
        reasons = "; ".join(f"{a.agent}: {', '.join(v.reasons[:4])}" for a, v, _n in judged)
        # A patch whose tests never ran is not a failed fix: it does not count towards the
        # cluster's cooldown, which looks for "verification rejected".
        unverifiable = judged and all(v.status == VerdictStatus.UNVERIFIABLE
                                      for _a, v, _n in judged)
        opening = ("could not verify any patch: the tests did not run" if unverifiable
                   else "verification rejected every patch")
        return _done(deps, run_id, False, f"{opening} ({reasons}){origin}", fixed)
    attempt, verdict, lines = best
    previewed = check_on_previews(
        deps, deps.make_preview(service) if deps.make_preview else None, workspace, fixed.base,
        attempt.patch, event, environment, run_id)
    fixed = fixed.model_copy(update={"chosen": ChosenPatch(
        agent=attempt.agent, patch=attempt.patch, changed_lines=lines, verification=verdict),
        "preview": previewed})
    if previewed.contradicts_fix and previewed.replay is not None:
        return _done(deps, run_id, False, f"the {attempt.agent} patch passes its tests, but the "
                                          f"failing request replayed on a preview of the fix "
                                          f"still fails: {previewed.replay.verdict}{origin}",
                     fixed)
    checks = ("the diff policy, its reproduction test and the suite" if verdict.suite.ran else
              f"the diff policy and its reproduction test (the suite did not run: "
              f"{verdict.suite.note})")
    replayed = (f"; the failing request replayed on previews: {previewed.replay.verdict}"
                if previewed.replay else "")
    return _done(deps, run_id, True, f"verified: the {attempt.agent} patch ({lines} changed "
                                     f"lines) passes {checks}{replayed}{origin}", fixed)


def _audit(sandbox: Sandbox) -> list[CommandSummary]:
    """Every command the sandbox ran for this stage, in short (a test's refused request lines
    are its own words: scrubbed like the fix stage's)."""
    return [scrubbed_command(CommandSummary.of(command)) for command in sandbox.audit]


def _done(deps: Deps, run_id: int, ok: bool, reason: str, fixed: FixOutcome) -> RunState | None:
    new = RunState.VERIFIED if ok else RunState.UNVERIFIED
    if deps.store.transition(run_id, RunState.VERIFYING, new, reason,
                             record=RunRecord(fix=fixed)):
        return new
    return None
