"""Reproduce the crash a fix commit fixed, and probe older commits for the same crash.

``reproduce_fix`` runs the fix's regression tests at its parent (the release that crashed) and at
the fix itself; it succeeds only when one of them crashes mypy at the parent and not at the fix.
``probe`` then asks of any older commit whether that same crash (same exception type, same
innermost function) happens there, which is how culprits are checked and bisected.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

from candidates import git
from reproduce import RunResult, run_at
from testcases import CaseRef, changed_cases, changed_files, stage_case_blocks, stage_fix_tests

# The test ran and mypy did not crash: it passed, its output differed, or mypy stopped normally
# (rejected an option it did not have yet, or reported a blocking error).
CLEAN_OUTCOMES = ("passed", "not-a-crash:Failed", "harness-failure:AssertionError",
                  "not-a-crash:SystemExit", "not-a-crash:CompileError")


@dataclass(frozen=True)
class Settings:
    """How the reproduction runs: scratch directory, harness interpreters and time limit."""

    repo: str
    scratch: str
    python: str
    legacy_python: str | None
    legacy_before: str
    timeout: float
    # Newer interpreters, tried last: mypy's harness collects check-python312.test and the
    # like only on the Python version they are named after.
    extra_pythons: tuple[str, ...] = ()
    pins: str | None = None  # see reproduce.pinned_paths

    def pythons(self, commit: str) -> list[str]:
        """Interpreters to try for ``commit``, its era's first (old mypy misreads new ASTs)."""
        order = [self.python]
        if self.legacy_python:
            date = git(self.repo, "show", "-s", "--format=%cI", commit).strip()
            old = date < self.legacy_before
            order = [self.legacy_python, self.python] if old else [self.python, self.legacy_python]
        return order + [p for p in self.extra_pythons if p not in order]

    def run(self, commit: str, cases: list[CaseRef], stage: Callable[[str], None]) -> RunResult:
        """Run ``cases`` at ``commit`` after staging them with ``stage``."""
        return run_at(self.repo, commit, self.scratch, cases, stage, self.pythons(commit),
                      self.timeout, self.pins)


@dataclass(frozen=True)
class Reproduction:
    """A crash reproduced at a fix's parent and gone at the fix."""

    fix: str
    release: str
    case: CaseRef
    files: list[str]
    crash: dict[str, Any]
    python: str

    @property
    def signature(self) -> tuple[str, str]:
        """Exception type and innermost function: what makes another crash the same one."""
        return signature(self.crash)


def signature(crash: dict[str, Any]) -> tuple[str, str]:
    """A crash's exception type and innermost function.

    A RecursionError matches on its type alone: its innermost frame is wherever the stack ran out.
    """
    kind = crash["exc_type"]
    return kind, "" if kind == "RecursionError" else crash["innermost"]["function"]


def parent(repo: str, commit: str) -> str:
    """The first parent of ``commit``."""
    return git(repo, "rev-parse", f"{commit}^").strip()


def _harness_reason(where: str, result: RunResult) -> str:
    kind = "timeout" if result.problem == "timeout" else "harness did not run the tests"
    return f"{kind} at {where}"


def _no_crash_reason(result: RunResult, names: set[str]) -> str:
    tests = [t for t in result.tests if t["name"] in names]
    if not tests:
        return "regression test not collected at parent"
    if any(t.get("printed_crash") for t in tests):
        return "crash only printed (subprocess or caught), not capturable"
    if any(t.get("outcome") == "crash" for t in tests):
        return "crash captured without an event"
    failed = any(t.get("outcome") != "passed" for t in tests)
    return "no crash at parent (test " + ("failed" if failed else "passed") + ")"


def reproduce_fix(cfg: Settings, fix: str) -> Reproduction | str:
    """Reproduce the crash ``fix`` fixed, or return why it could not be."""
    cases, files = changed_cases(cfg.repo, fix), changed_files(cfg.repo, fix)
    if not cases:
        return "fix adds no data-driven test case"
    names = {case.test_name for case in cases}
    release = parent(cfg.repo, fix)
    before = cfg.run(release, cases, lambda tree: stage_fix_tests(tree, fix, files))
    if not before.ok:
        return _harness_reason("parent", before)
    crash = before.crash(names)
    if crash is None:
        return _no_crash_reason(before, names)
    crashed = {crash["name"]}
    after = cfg.run(fix, cases, lambda tree: None)
    if not after.ok or not after.ran(crashed):
        return _harness_reason("fix", after)
    if after.crash(crashed) is not None:
        return "crash persists at the fix"
    case = next(c for c in cases if c.test_name == crash["name"])
    return Reproduction(fix, release, case, files, crash, before.python)


def probe(cfg: Settings, repro: Reproduction, commit: str) -> str:
    """At ``commit``: "crash" (the same crash), "clean" (test ran, no crash) or "unknown"."""
    stage = partial(stage_case_blocks, repo=cfg.repo, fix=repro.fix, cases=[repro.case],
                    files=repro.files)
    result = cfg.run(commit, [repro.case], stage)
    tests = [t for t in result.tests if t["name"] == repro.case.test_name] if result.ok else []
    if not tests:
        return "unknown"
    outcome = tests[0].get("outcome", "")
    if outcome == "crash":
        same = signature(tests[0]) == repro.signature
        return "crash" if same else "unknown"
    if tests[0].get("printed_crash"):
        return "unknown"  # a crash printed as text may be this one
    return "clean" if outcome in CLEAN_OUTCOMES else "unknown"


def check_culprit(cfg: Settings, repro: Reproduction, culprit: str) -> dict[str, bool | None]:
    """Whether the same crash happens at the culprit and at its parent (None: unknown)."""
    verdicts = {"crash": True, "clean": False, "unknown": None}
    return {
        "crash_at_culprit": verdicts[probe(cfg, repro, culprit)],
        "crash_before_culprit": verdicts[probe(cfg, repro, parent(cfg.repo, culprit))],
    }


def verified(check: dict[str, bool | None]) -> bool:
    """True when the crash is shown to start exactly at the culprit."""
    return check["crash_at_culprit"] is True and check["crash_before_culprit"] is False
