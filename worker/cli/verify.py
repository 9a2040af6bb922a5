"""`suture verify`: the verdict on one patch file against a repository, for people and tools.

With `--json` it prints the contract other tools depend on:
`{"verified": bool, "status": "verified" | "rejected" | "could not verify", "reasons": [...],
"reproduction": {...}, "suite": {...}, "policy": {...}, "seconds": float}`, plus
`"bisection": {"culprit", "good", "author", "summary", "reason", "probes", "searched"}` with
`--bisect`; without it, a short readable report. The exit status is 0 when the patch is
verified, 1 when it is rejected, and 2 when verification could not be carried out or could not
reach a verdict (the tests did not run).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from worker.cli.output import echo, echo_json
from worker.env.models import Environment, EnvironmentFailure
from worker.env.use import in_environment, prepared
from worker.fix.models import VerdictStatus, Verification
from worker.ports import Environments, Sandbox, SutureError, Workspace
from worker.verify import DiffPolicy, verify_patch
from worker.verify.bisection import Bisection
from worker.verify.origin import Reproduction, find_culprit

VERIFIED, NOT_VERIFIED, CANNOT_VERIFY = 0, 1, 2
EXIT_STATUS = {VerdictStatus.VERIFIED: VERIFIED, VerdictStatus.REJECTED: NOT_VERIFIED,
               VerdictStatus.UNVERIFIABLE: CANNOT_VERIFY}


def verify_cli(workspace: Workspace, base: str, patch_file: Path, test_command: str | None,
               as_json: bool, sandbox: Sandbox, *, error: str | None = None,
               bisect: bool = False, environments: Environments | None = None,
               setup: list[str] | None = None) -> int:
    """Verify the patch in `patch_file` against `base` of the workspace's repository, print
    the verdict, and return the exit status. `error` is the crash's exception type, which the
    reproduction must show; with `bisect`, a verified patch's reproduction is also run back in
    history. With `environments`, every test runs in the repository's environment, built from
    `setup` (or what the repository's files call for) or reused from the cache."""
    try:
        patch = patch_file.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        echo(f"suture: cannot read the patch: {exc}", err=True)
        return CANNOT_VERIFY
    try:
        environment = prepared(environments, workspace, base, setup or None)
        if isinstance(environment, EnvironmentFailure):
            return _no_environment(environment, as_json)
        sandbox = in_environment(sandbox, environment)
        verdict = verify_patch(workspace, base, patch, test_command=test_command,
                               sandbox=sandbox, policy=DiffPolicy(), expected_error=error)
        found = _bisection(workspace, base, patch, verdict, sandbox, error) if bisect else None
    except SutureError as exc:
        echo(f"suture: verification could not run: {exc}", err=True)
        return CANNOT_VERIFY
    shown = contract(verdict, found, environment) if as_json else summary(verdict, found)
    if as_json:
        echo_json(shown)
    else:
        echo(shown)
    return EXIT_STATUS[verdict.status or VerdictStatus.REJECTED]


def _no_environment(failure: EnvironmentFailure, as_json: bool) -> int:
    """Say that the environment could not be built (the verdict: could not verify)."""
    reason = f"the repository's environment could not be built: {failure.reason}"
    if as_json:
        echo_json({"verified": False, "status": VerdictStatus.UNVERIFIABLE.value,
                   "reasons": [reason], "environment": failure.model_dump(mode="json")})
    else:
        echo(f"could NOT verify\n  - {reason}\n{failure.log}")
    return CANNOT_VERIFY


def _bisection(workspace: Workspace, base: str, patch: str, verdict: Verification,
               sandbox: Sandbox, error: str | None) -> Bisection:
    tests, command = verdict.reproduction.reproduced, verdict.reproduction.command
    if not verdict.verified or not tests or not command:
        return Bisection(reason="not bisected: the patch is not verified")
    return find_culprit(workspace, base, Reproduction(patch=patch, tests=list(tests),
                                                      command=command, expected_error=error),
                        sandbox=sandbox)


def contract(verdict: Verification, found: Bisection | None = None,
             environment: Environment | None = None) -> dict[str, Any]:
    """The JSON shape other tools read."""
    shape = verdict.model_dump(mode="json")
    if found is not None:
        shape["bisection"] = found.model_dump(mode="json")
    if environment is not None and environment.key:
        shape["environment"] = environment.model_dump(
            mode="json", include={"key", "commands", "source", "reused", "seconds",
                                  "build_seconds", "size_bytes"})
    return shape


def summary(verdict: Verification, found: Bisection | None = None) -> str:
    """A readable report: the verdict, every reason, and one line per check."""
    shown = {VerdictStatus.VERIFIED: "verified", VerdictStatus.UNVERIFIABLE: "could NOT verify"}
    lines = [f"{shown.get(verdict.status or VerdictStatus.REJECTED, 'NOT verified')} "
             f"({verdict.seconds:.1f} s)"]
    lines += [f"  - {reason}" for reason in verdict.reasons]
    policy = verdict.policy
    lines.append(f"policy: {policy.files} file(s), {policy.changed_lines} changed line(s), "
                 f"{len(policy.findings)} finding(s)")
    repro = verdict.reproduction.counts
    if verdict.reproduction.ran:
        lines.append(f"reproduction: {repro.tests} test(s), {repro.red_on_base} fail on base, "
                     f"{repro.green_on_fix} pass on the fix")
    suite = verdict.suite.counts
    if verdict.suite.ran:
        lines.append(f"suite: {suite.passed_on_base} passing on base, {suite.broken} broken by "
                     f"the fix, {suite.failing_on_base} already failing on base")
    if found is not None:
        culprit = f"{found.culprit[:12]} {found.summary} ({found.author}): " if found.culprit \
            else ""
        lines.append(f"bisection: {culprit}{found.reason} ({len(found.probes)} runs)")
    return "\n".join(lines)

