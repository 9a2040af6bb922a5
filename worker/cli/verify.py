"""`suture verify`: the verdict on one patch file against a repository, for people and tools.

With `--json` it prints the contract other tools depend on:
`{"verified": bool, "reasons": [...], "reproduction": {...}, "suite": {...}, "policy": {...},
"seconds": float}`, plus `"bisection": {"culprit", "good", "author", "summary", "reason",
"probes", "searched"}` with `--bisect`; without it, a short readable report. The exit status
is 0 when the patch is verified, 1 when it is not, and 2 when verification could not be
carried out at all.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from worker.fix.models import Verification
from worker.ports import Sandbox, SutureError
from worker.verify import DiffPolicy, verify_patch
from worker.verify.bisection import Bisection
from worker.verify.origin import Reproduction, find_culprit

VERIFIED, NOT_VERIFIED, CANNOT_VERIFY = 0, 1, 2


def verify_cli(repo: Path, base: str, patch_file: Path, test_command: str | None,
               as_json: bool, sandbox: Sandbox, *, error: str | None = None,
               bisect: bool = False) -> int:
    """Verify the patch in `patch_file` against `base` of `repo`, print the verdict, and return
    the exit status. `error` is the crash's exception type, which the reproduction must show;
    with `bisect`, a verified patch's reproduction is also run back in history."""
    try:
        patch = patch_file.read_bytes().decode("utf-8", "surrogateescape")
    except OSError as exc:
        typer.echo(f"suture: cannot read the patch: {exc}", err=True)
        return CANNOT_VERIFY
    try:
        verdict = verify_patch(repo, base, patch, test_command=test_command, sandbox=sandbox,
                               policy=DiffPolicy(), expected_error=error)
        found = _bisection(repo, base, patch, verdict, sandbox, error) if bisect else None
    except SutureError as exc:
        typer.echo(f"suture: verification could not run: {exc}", err=True)
        return CANNOT_VERIFY
    shown = contract(verdict, found) if as_json else summary(verdict, found)
    typer.echo(json.dumps(shown, indent=2) if as_json else shown)
    return VERIFIED if verdict.verified else NOT_VERIFIED


def _bisection(repo: Path, base: str, patch: str, verdict: Verification, sandbox: Sandbox,
               error: str | None) -> Bisection:
    tests = verdict.reproduction.get("reproduced")
    command = verdict.reproduction.get("command")
    if not verdict.verified or not isinstance(tests, list) or not isinstance(command, str):
        return Bisection(reason="not bisected: the patch is not verified")
    return find_culprit(repo, base, Reproduction(patch=patch, tests=[str(t) for t in tests],
                                                 command=command, expected_error=error),
                        sandbox=sandbox)


def contract(verdict: Verification, found: Bisection | None = None) -> dict[str, Any]:
    """The JSON shape other tools read."""
    shape = {"verified": verdict.verified, "reasons": verdict.reasons,
             "reproduction": verdict.reproduction, "suite": verdict.suite,
             "policy": verdict.policy, "seconds": verdict.seconds}
    if found is not None:
        shape["bisection"] = found.model_dump(mode="json")
    return shape


def summary(verdict: Verification, found: Bisection | None = None) -> str:
    """A readable report: the verdict, every reason, and one line per check."""
    lines = [f"{'verified' if verdict.verified else 'NOT verified'} ({verdict.seconds:.1f} s)"]
    lines += [f"  - {reason}" for reason in verdict.reasons]
    policy = verdict.policy
    findings = policy.get("findings")
    lines.append(f"policy: {policy.get('files', 0)} file(s), {policy.get('changed_lines', 0)} "
                 f"changed line(s), {len(findings) if isinstance(findings, list) else 0} "
                 "finding(s)")
    repro = _counts(verdict.reproduction)
    if verdict.reproduction.get("ran"):
        lines.append(f"reproduction: {repro.get('tests', 0)} test(s), "
                     f"{repro.get('red_on_base', 0)} fail on base, "
                     f"{repro.get('green_on_fix', 0)} pass on the fix")
    suite = _counts(verdict.suite)
    if verdict.suite.get("ran"):
        lines.append(f"suite: {suite.get('passed_on_base', 0)} passing on base, "
                     f"{suite.get('broken', 0)} broken by the fix, "
                     f"{suite.get('failing_on_base', 0)} already failing on base")
    if found is not None:
        culprit = f"{found.culprit[:12]} {found.summary} ({found.author}): " if found.culprit \
            else ""
        lines.append(f"bisection: {culprit}{found.reason} ({len(found.probes)} runs)")
    return "\n".join(lines)


def _counts(section: dict[str, object]) -> dict[str, object]:
    counts = section.get("counts")
    return counts if isinstance(counts, dict) else {}
