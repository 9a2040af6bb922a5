"""Verification of a patch, outside the model, and the choice between verified attempts.

`verify_patch` judges a patch in this order, and a patch is verified only if it passes all:
1. the diff policy, on the submitted text (refused at once, with every finding);
2. it applies to the base (`git apply --index` in a fresh worktree), and the diff git then
   reports passes the policy too, so nothing the parser and git read differently slips by;
3. the suite: the test command on base, and on the fix with the base's own test files, so no
   edit to tests can change the verdict on them; no test that passed on base may fail;
4. reproduction: the tests the patch adds fail on base with only those test files added, and
   pass on the full fix.
Every reason for a "no" is listed, and a verified patch gets one sentence saying why it passed.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from worker.fix.models import (
    Attempt,
    PolicyFinding,
    PolicyReport,
    ReproductionReport,
    SandboxPolicy,
    SuiteReport,
    VerdictStatus,
    Verification,
)
from worker.ports import Sandbox, Workspace, WorkspaceError
from worker.verify.diff_policy import DiffPolicy, check_diff_policy
from worker.verify.diffparse import changed_lines, parse_diff
from worker.verify.paths import is_test_path
from worker.verify.reproduce import find_reproduction_tests, judge_reproduction
from worker.verify.suite import TestRun, command_for, default_test_command, judge_suite, run_tests

SUITE_OFF = "switched off by the playbook (checks.suite: false)"
NO_REPRODUCTION = ("no reproduction test: the patch adds no test that fails without the fix "
                   "and passes with it")


@dataclass
class _Job:
    workspace: Workspace
    patch: str
    test_command: str | None
    sandbox: Sandbox
    policy: DiffPolicy
    reproduction_tests: list[str] | None
    sandbox_policy: SandboxPolicy
    expected_error: str | None
    started: float
    run_suite: bool = True


def verify_patch(workspace: Workspace, base: str, patch: str, *, test_command: str | None,
                 sandbox: Sandbox, policy: DiffPolicy,
                 reproduction_tests: list[str] | None = None,
                 sandbox_policy: SandboxPolicy | None = None,
                 expected_error: str | None = None, run_suite: bool = True) -> Verification:
    """The verdict on `patch` against `base` of the workspace's repository. `expected_error`
    (the crash's exception type), when given, must show in a reproduction test's failure on
    base; `run_suite` False (a playbook's `checks.suite: false`) leaves the suite out and says
    so in the verdict. A broken sandbox raises (PermanentError) rather than passing for a
    failing patch."""
    job = _Job(workspace, patch, test_command, sandbox, policy, reproduction_tests,
               sandbox_policy or SandboxPolicy(), expected_error, time.monotonic(), run_suite)
    findings = check_diff_policy(patch, policy)
    if findings:
        return _refused(job, findings)
    try:
        with workspace.worktrees(base) as tree:
            return _verify_in(job, base, tree["base"], tree["fix"])
    except WorkspaceError as exc:
        return _verdict(job, [str(exc)], policy=_policy_report(job.patch, []),
                        status=VerdictStatus.UNVERIFIABLE)


def choose_best(results: list[tuple[Attempt, Verification, int]]
                ) -> tuple[Attempt, Verification, int] | None:
    """The verified result with the smallest patch (added plus removed lines, counted from the
    patch itself, so the int each result carries is passed through untouched); the earliest
    on a tie; None when nothing was verified."""
    verified = [r for r in results if r[1].verified]
    return min(verified, key=lambda r: changed_lines(r[0].patch), default=None)


def _verify_in(job: _Job, base: str, base_tree: Path, fix_tree: Path) -> Verification:
    problem = job.workspace.apply(fix_tree, _encode(job.patch))
    if problem:
        return _verdict(job, [f"the patch does not apply to {base}: {problem}"],
                        policy=_policy_report(job.patch, []))
    applied = job.workspace.staged_diff(fix_tree).decode("utf-8", "replace")
    findings = check_diff_policy(applied, job.policy)
    if findings:
        return _refused(job, findings)
    files = parse_diff(applied)
    command = job.test_command or default_test_command(job.workspace.tracked(base_tree))
    ids = list(job.reproduction_tests or find_reproduction_tests(
        files, lambda path: job.workspace.staged_text(fix_tree, path),
        candidates=job.workspace.tracked(base_tree)))  # subclasses of a mixin the patch adds to
    test_paths = sorted({p for f in files for p in f.paths if is_test_path(p)})
    reasons: list[str] = [] if ids else [NO_REPRODUCTION]
    if command is None:
        reasons.append("no test command: none was given and none could be guessed")
        return _verdict(job, reasons, policy=_policy_report(applied, []),
                        reproduction=ReproductionReport(tests=ids),
                        status=VerdictStatus.REJECTED if ids else VerdictStatus.UNVERIFIABLE)
    tests_patch = (job.workspace.staged_diff(fix_tree, test_paths, binary=True) if test_paths
                   else b"")
    suite_reasons, suite = (_suite(job, command, base_tree, fix_tree, tests_patch)
                            if job.run_suite else ([], SuiteReport(note=SUITE_OFF)))
    repro_reasons, repro = _reproduction(job, command, ids, base_tree, fix_tree, tests_patch)
    reasons += suite_reasons + repro_reasons
    # What the patch got wrong decides first; tests that never ran can neither verify a patch
    # nor blame it.
    blockers = ([suite.unusable] if suite.unusable else []) + [
        f"reproduction test did not run: {test}" for test in repro.not_run]
    if reasons or blockers:
        status = VerdictStatus.REJECTED if reasons else VerdictStatus.UNVERIFIABLE
        return _verdict(job, reasons + blockers, status=status, policy=_policy_report(applied, []),
                        suite=suite, reproduction=repro)
    return _verdict(job, [_summary(suite, repro)], status=VerdictStatus.VERIFIED,
                    policy=_policy_report(applied, []), suite=suite, reproduction=repro)


def _suite(job: _Job, command: str, base_tree: Path, fix_tree: Path, tests_patch: bytes
           ) -> tuple[list[str], SuiteReport]:
    """The suite on base, and on the fix with the patch's test changes taken out."""
    base_run = _run(job, base_tree, command)
    if tests_patch:
        _apply_or_fail(job, fix_tree, tests_patch, reverse=True)
    fix_run = _run(job, fix_tree, command)
    if tests_patch:
        _apply_or_fail(job, fix_tree, tests_patch)
    reasons, report = judge_suite(base_run, fix_run)
    if report.unusable and not any(is_test_path(p) for p in job.workspace.tracked(base_tree)):
        # Nothing to break: an empty suite is the repository's, not a run that went wrong.
        report = report.model_copy(update={
            "unusable": "", "note": "the repository has no tests on base, so only the "
                                    "reproduction test speaks for the fix"})
    return reasons, report


def _reproduction(job: _Job, command: str, ids: list[str], base_tree: Path, fix_tree: Path,
                  tests_patch: bytes) -> tuple[list[str], ReproductionReport]:
    """The new tests on base with only the patch's test files added, then on the full fix."""
    if not ids:
        return [], ReproductionReport()
    if tests_patch:
        _apply_or_fail(job, base_tree, tests_patch)
    narrowed = command_for(command, ids)
    base_run = _run(job, base_tree, narrowed)
    fix_run = _run(job, fix_tree, narrowed)
    reasons, report = judge_reproduction(ids, base_run, fix_run, job.expected_error)
    return reasons, report.model_copy(
        update={"source": "given" if job.reproduction_tests else "patch"})


def _run(job: _Job, tree: Path, command: str) -> TestRun:
    job.workspace.reset_to_index(tree)
    return run_tests(job.sandbox, tree, command, job.sandbox_policy)


def _apply_or_fail(job: _Job, tree: Path, patch: bytes, *, reverse: bool = False) -> None:
    job.workspace.reset_to_index(tree)
    problem = job.workspace.apply(tree, patch, reverse=reverse)
    if problem:
        raise WorkspaceError(f"the patch's test files could not be moved between trees: "
                             f"{problem}")


def _summary(suite: SuiteReport, repro: ReproductionReport) -> str:
    counts = suite.counts
    shown = ", ".join(repro.reproduced)
    text = (f"verified: {len(repro.reproduced)} reproduction test(s) fail on base and pass "
            f"with the fix ({shown}); ")
    if not suite.ran:
        return text + f"the suite did not run: {suite.note}"
    text += f"{counts.passed_on_base} test(s) passing on base still pass"
    if counts.failing_on_base:
        text += (f"; {counts.failing_on_base} test(s) already failing on base are reported, "
                 f"not blamed ({counts.fixed} of them now pass)")
    return text


def _refused(job: _Job, findings: list[PolicyFinding]) -> Verification:
    reasons = [f"diff policy: {f.rule}{' in ' + f.path if f.path else ''}: {f.detail}"
               for f in findings]
    return _verdict(job, reasons, policy=_policy_report(job.patch, findings))


def _policy_report(patch: str, findings: list[PolicyFinding]) -> PolicyReport:
    try:
        files = parse_diff(patch)
    except ValueError:
        files = []
    return PolicyReport(passed=not findings, files=len(files),
                        changed_lines=sum(f.changed_lines for f in files), findings=findings)


def _verdict(job: _Job, reasons: list[str], *, policy: PolicyReport,
             status: VerdictStatus = VerdictStatus.REJECTED, suite: SuiteReport | None = None,
             reproduction: ReproductionReport | None = None) -> Verification:
    return Verification(verified=status == VerdictStatus.VERIFIED, status=status,
                        reasons=reasons, policy=policy,
                        suite=suite or SuiteReport(),
                        reproduction=reproduction or ReproductionReport(),
                        seconds=round(time.monotonic() - job.started, 3))


def _encode(patch: str) -> bytes:
    try:
        return patch.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return patch.encode("utf-8", "replace")
