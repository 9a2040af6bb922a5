"""Reproduce a fix's crash, and ask of older commits whether they have the same crash.

``reproduce_fix`` runs the fix's changed test functions at its first parent (the release that
crashed) and at the fix; it succeeds when a test crashes the project at the parent and does not
at the fix. ``probe`` stages that one test at any other commit: "crash" (same exception type and
innermost function), "clean" (the test ran and the project did not crash: it passed, failed on
its own, or could not call an API the commit does not have yet: "feature absent") or "unknown".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from candidates import git
from projects import Project
from runner import Run, run_at
from testfuncs import TestRef, changed_tests

CLEAN_PREFIXES = ("passed", "test-failed:", "not-a-crash:Failed", "feature-absent:")


@dataclass(frozen=True)
class Settings:
    """Where and how tests run: repository, project, interpreters, scratch, time limit."""

    repo: str
    project: Project
    python: str
    legacy_python: str | None
    scratch: str
    timeout: float

    def pythons(self, commit: str) -> list[str]:
        """Interpreters to try at ``commit``, the one of its era first."""
        if not self.legacy_python:
            return [self.python]
        date = git(self.repo, "show", "-s", "--format=%cI", commit).strip()
        if date < self.project.legacy_before:
            return [self.legacy_python, self.python]
        return [self.python, self.legacy_python]

    def run(self, commit: str, fix: str, tests: list[TestRef]) -> Run:
        """Stage ``fix``'s ``tests`` at ``commit`` and run them."""
        return run_at(self.repo, self.project, commit, fix, tests, self.pythons(commit),
                      self.scratch, self.timeout)


@dataclass(frozen=True)
class Reproduction:
    """A crash reproduced at a fix's parent and gone at the fix."""

    fix: str
    release: str
    test: TestRef
    crash: dict[str, Any]
    python: str
    staging: str

    @property
    def signature(self) -> tuple[str, str]:
        """Exception type and innermost function."""
        return signature(self.crash)


def signature(crash: dict[str, Any]) -> tuple[str, str]:
    """A crash's type and innermost function (a RecursionError matches on its type alone)."""
    kind = crash["exc_type"]
    return kind, "" if kind == "RecursionError" else crash["innermost"]["function"]


def parent(repo: str, commit: str) -> str:
    """The first parent of ``commit``."""
    return git(repo, "rev-parse", f"{commit}^1").strip()


def _no_crash_reason(run: Run, tests: list[TestRef]) -> str:
    outcomes = [run.outcome(t) for t in tests]
    seen = [o["outcome"].split(":")[0] for o in outcomes if o]
    if not seen:
        return "regression tests not collected at parent"
    if "crash" in seen:
        return "crash captured without an event"
    return "no crash at parent (" + ", ".join(sorted(set(seen))) + ")"


def reproduce_fix(cfg: Settings, fix: str) -> Reproduction | str:
    """Reproduce the crash ``fix`` fixed, or return why it could not be."""
    tests = changed_tests(cfg.repo, cfg.project, fix)
    if not tests:
        return "fix adds no test function"
    release = parent(cfg.repo, fix)
    before = cfg.run(release, fix, tests)
    if not before.ok:
        return f"at parent: {before.problem.split(':')[0]}"
    crashed = [(t, before.outcome(t)) for t in tests]
    crashed = [(t, o) for t, o in crashed if o and o["outcome"] == "crash" and o.get("event")]
    if not crashed:
        return _no_crash_reason(before, tests)
    after = cfg.run(fix, fix, [t for t, _ in crashed])
    if not after.ok:
        return f"at fix: {after.problem.split(':')[0]}"
    for test, crash in crashed:
        done = after.outcome(test)
        if done and done["outcome"] != "crash":
            return Reproduction(fix, release, test, crash, before.python, before.staging)
    return "crash persists at the fix"


def probe(cfg: Settings, repro: Reproduction, commit: str) -> str:
    """At ``commit``: "crash", "clean", "feature absent" or "unknown"."""
    run = cfg.run(commit, repro.fix, [repro.test])
    record = run.outcome(repro.test) if run.ok else None
    if record is None:
        return "unknown"
    outcome = record.get("outcome", "")
    if outcome == "crash":
        return "crash" if signature(record) == repro.signature else "unknown"
    if outcome.startswith("feature-absent:"):
        return "feature absent"
    return "clean" if outcome.startswith(CLEAN_PREFIXES) else "unknown"


def check(cfg: Settings, repro: Reproduction, culprit: str, before: str) -> dict[str, Any]:
    """The culprit check: the crash at ``culprit`` and at ``before`` (its parent or base)."""
    verdicts = {"crash": True, "clean": False, "feature absent": False, "unknown": None}
    at, prior = probe(cfg, repro, culprit), probe(cfg, repro, before)
    result: dict[str, Any] = {"crash_at_culprit": verdicts[at],
                              "crash_before_culprit": verdicts[prior]}
    if prior == "feature absent":
        result["before_culprit"] = "feature absent"
    return result


def verified(result: dict[str, Any]) -> bool:
    """True when the crash is shown to start exactly at the culprit."""
    return result["crash_at_culprit"] is True and result["crash_before_culprit"] is False
