"""Run a fix's regression test functions at a commit and collect what each one did.

Each run checks the commit out into a detached ``git worktree`` (``reproduce.worktree``), stages
the fix's tests there (whole test modules first; grafted functions when the fix's module cannot
be collected at that commit), and starts pytest in a subprocess whose working directory is the
worktree, so that commit's package is imported. The ``pyfunc_capture`` plugin writes one record
per test. Every subprocess is bounded by a timeout.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from candidates import git
from projects import Project
from reproduce import worktree
from testfuncs import TestRef, graft, reset, stage_whole

HERE = Path(__file__).resolve().parent


@dataclass
class Run:
    """What one pytest run produced: a record per test (by node id), or why there were none."""

    ok: bool
    problem: str = ""
    tests: dict[str, dict[str, Any]] = field(default_factory=dict)
    python: str = ""
    staging: str = ""  # "whole" (the fix's test modules) or "graft"
    crash_first: bool = False  # Project.crash_first

    def outcome(self, test: TestRef) -> dict[str, Any] | None:
        """The record of ``test`` (the first parametrization that did not pass, if any).

        A class a project's plugin renamed (``Class_<backend>``) counts as the class itself.
        """
        found = [r for node, r in self.tests.items() if node.split("[")[0] == test.nodeid]
        if not found and test.cls:
            found = [r for node, r in self.tests.items() if _renamed(node, test)]
        bad = [r for r in found if r.get("outcome") != "passed"]
        if self.crash_first:
            bad.sort(key=lambda r: r.get("outcome") != "crash")  # stable: file order otherwise
        return (bad or found or [None])[0]


def _renamed(nodeid: str, test: TestRef) -> bool:
    path, _, rest = nodeid.split("[")[0].partition("::")
    cls, _, name = rest.rpartition("::")
    return path == test.path and name == test.name and cls.startswith(test.cls + "_")


def _selection(project: Project, tests: list[TestRef]) -> list[str]:
    """pytest arguments selecting ``tests``: node ids, or modules and a -k expression."""
    if not project.keyword_select:
        return sorted({t.nodeid for t in tests})
    terms = sorted({f"({t.cls} and {t.name})" if t.cls else t.name for t in tests})
    return [*sorted({t.path for t in tests}), "-k", " or ".join(terms)]


def _timestamp(repo: str, commit: str) -> str:
    seconds = int(git(repo, "show", "-s", "--format=%ct", commit).strip())
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _environment(tree: str, project: Project, release: str, stamp: str,
                 out: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTEST", "PYTHON", "SYMPY", "BENCH"))}
    settings = {k: v for k, v in asdict(project).items() if k != "moved_modules"}
    # A lib/<package> layout: the worktree's package must be the one imported.
    source = [str(Path(tree, project.src_root))] if project.src_root else []
    env.update(BENCH_CAPTURE_OUT=out, BENCH_RELEASE=release, BENCH_WORKTREE=tree,
               BENCH_TIMESTAMP=stamp, BENCH_PROJECT=json.dumps(settings),
               PYTHONPATH=os.pathsep.join([str(HERE), str(HERE.parent), *source]),
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0",
               SYMPY_USE_CACHE="yes", MPLBACKEND="Agg")
    env.update(dict(project.environment))
    return env


def run_pytest(tree: str, project: Project, release: str, stamp: str, tests: list[TestRef],
               python: str, timeout: float) -> Run:
    """Run ``tests`` in the staged ``tree`` under ``python`` and read the plugin's records."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as report:
        out = report.name
    command = [python, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
               "-p", "pyfunc_capture", "-W", "ignore::DeprecationWarning",
               *_selection(project, tests)]
    try:
        proc = subprocess.run(command, cwd=tree, capture_output=True, text=True, timeout=timeout,
                              env=_environment(tree, project, release, stamp, out))
    except subprocess.TimeoutExpired:
        os.unlink(out)
        return Run(False, "timeout")
    records = [json.loads(line) for line in Path(out).read_text().splitlines() if line]
    os.unlink(out)
    header = next((r for r in records if r["kind"] == "header"), None)
    if header is None:
        return Run(False, "harness did not start: " + _tail(proc.stdout + proc.stderr))
    if header.get("package_file") is None:
        return Run(False, "imported a package outside the worktree")
    found = {r["nodeid"]: r for r in records if r["kind"] == "test"}
    if not found:
        return Run(False, "not collected: " + _tail(proc.stdout + proc.stderr))
    return Run(True, tests=found, python=header.get("python", ""), crash_first=project.crash_first)


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:])[:300]


def _staged_runs(tree: str, repo: str, project: Project, commit: str, fix: str,
                 tests: list[TestRef], python: str, timeout: float) -> Run:
    """The fix's whole test modules first; grafted functions if those are not collected."""
    stamp, files = _timestamp(repo, commit), _changed(repo, fix)
    if commit != fix:
        stage_whole(tree, project, fix, files)
    result = run_pytest(tree, project, commit, stamp, tests, python, timeout)
    result.staging = "whole"
    if result.ok or result.problem == "timeout" or commit == fix:
        return result
    if result.problem.startswith("harness did not start"):
        return result  # the package itself does not import under this interpreter
    reset(tree)
    moved = {t: _relocate(tree, project, t) for t in tests}
    graft(tree, repo, project, fix, list(moved.values()), sources={m.path: t.path for t, m in
                                                                    moved.items()})
    grafted = run_pytest(tree, project, commit, stamp, list(moved.values()), python, timeout)
    grafted.staging = "graft"
    back = {m.path: t.path for t, m in moved.items()}
    grafted.tests = {_moved_back(node, back): r for node, r in grafted.tests.items()}
    return grafted


def _relocate(tree: str, project: Project, test: TestRef) -> TestRef:
    """The test at the path its module had in this tree (test directories have moved)."""
    if Path(tree, test.path).exists():
        return test
    name = Path(test.path).name
    found = [p.relative_to(tree).as_posix() for p in Path(tree).rglob(name)]
    found = [p for p in found if project.is_test_file(p)]
    return replace(test, path=found[0]) if len(found) == 1 else test


def _moved_back(nodeid: str, back: dict[str, str]) -> str:
    path, sep, rest = nodeid.partition("::")
    return back.get(path, path) + sep + rest


def _changed(repo: str, fix: str) -> list[str]:
    out = git(repo, "diff", "--name-only", "--diff-filter=AM", f"{fix}^1", fix)
    return [line for line in out.splitlines() if line]


def run_at(repo: str, project: Project, commit: str, fix: str, tests: list[TestRef],
           pythons: list[str], scratch: str, timeout: float) -> Run:
    """Stage ``fix``'s ``tests`` at ``commit`` and run them, trying each interpreter in turn."""
    result = Run(False, "no interpreter")
    try:
        with worktree(repo, commit, scratch) as tree:
            for python in pythons:
                reset(tree)
                result = _staged_runs(tree, repo, project, commit, fix, tests, python, timeout)
                if result.ok or result.problem == "timeout":
                    break
    except subprocess.TimeoutExpired:
        return Run(False, "timeout")
    except subprocess.CalledProcessError as exc:
        return Run(False, f"git failed: {_tail(exc.stderr or '')}")
    return result
