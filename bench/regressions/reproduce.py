"""Run a fix's regression tests at a given commit and collect the crashes they raise.

Each run checks the commit out into its own detached ``git worktree`` under a scratch directory,
stages the tests there (see ``testcases``), and starts mypy's own pytest harness in a subprocess
whose working directory is the worktree, so that commit's mypy is the one imported. The
``crash_capture`` plugin reports each test's outcome and, for a crash, the stored Sentry event.
Every subprocess is bounded by a timeout and the worktree is removed afterwards.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from candidates import git
from testcases import CaseRef, suite_modules

HERE = Path(__file__).resolve().parent
_WORKTREE_LOCK = threading.Lock()  # git serialises worktree bookkeeping badly under contention


@dataclass
class RunResult:
    """What one pytest run of the staged cases produced."""

    ok: bool
    problem: str = ""
    tests: list[dict[str, Any]] = field(default_factory=list)
    python: str = ""

    def crash(self, names: set[str]) -> dict[str, Any] | None:
        """The first crash among the named tests, if any."""
        for test in self.tests:
            if test["name"] in names and test.get("outcome") == "crash" and test.get("event"):
                return test
        return None

    def ran(self, names: set[str]) -> bool:
        """True when at least one of the named tests actually ran."""
        return any(test["name"] in names for test in self.tests)


@contextmanager
def worktree(repo: str, commit: str, scratch: str) -> Iterator[str]:
    """A detached worktree of ``commit``, removed on exit."""
    path = tempfile.mkdtemp(prefix=f"wt-{commit[:10]}-", dir=scratch)
    with _WORKTREE_LOCK:
        git(repo, "worktree", "add", "--detach", "--force", path, commit, timeout=300)
    try:
        yield path
    finally:
        with _WORKTREE_LOCK:
            subprocess.run(["git", "-C", repo, "worktree", "remove", "--force", path],
                           capture_output=True, timeout=300)
            subprocess.run(["git", "-C", repo, "worktree", "prune"], capture_output=True,
                           timeout=300)


def _pytest_command(python: str, tree: str, cases: list[CaseRef]) -> list[str]:
    modules = sorted({m for case in cases for m in suite_modules(tree, case.path)})
    selector = " or ".join(sorted({case.test_name for case in cases}))
    return [python, "-m", "pytest", "-q", "-o", "addopts=", "-p", "no:cacheprovider",
            "-p", "no:benchmark", "-p", "crash_capture", "-k", selector,
            "--continue-on-collection-errors", *(modules or [])]


def _timestamp(tree: str, release: str) -> str:
    """The release's committer date as a Sentry timestamp (UTC, ISO 8601)."""
    seconds = int(git(tree, "show", "-s", "--format=%ct", release).strip())
    return datetime.fromtimestamp(seconds, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_REQUIREMENT = re.compile(r"^([A-Za-z0-9_.-]+)\s*(?:==|>=|~=)\s*([0-9][\w.]*)", re.MULTILINE)


@lru_cache(maxsize=8)
def _python_tag(python: str) -> str:
    """``py3.11`` for a Python 3.11 interpreter."""
    out = subprocess.run([python, "-c", "import sys; print('py%d.%d' % sys.version_info[:2])"],
                         capture_output=True, text=True, timeout=60, check=True)
    return out.stdout.strip()


def pinned_paths(tree: str, python: str, pins: str | None) -> list[str]:
    """Install directories for the versions of mypy's runtime libraries this commit asks for.

    mypy imports compiled helper libraries (``librt``, ``ast_serialize``) whose interface changes
    from release to release, and each commit's ``mypy-requirements.txt`` names the oldest version
    it works with. ``pins`` holds ``<py3.X>/<name>-<version>`` directories (``pip install
    --target``); the ones a commit names go first on its path. A commit whose version is missing
    there runs with the interpreter's own copy.
    """
    requirements = Path(tree, "mypy-requirements.txt")
    if not pins or not requirements.exists():
        return []
    folder = Path(pins, _python_tag(python))
    found = [folder / f"{name}-{version}" for name, version in
             _REQUIREMENT.findall(requirements.read_text(encoding="utf-8", errors="replace"))]
    return [str(path) for path in found if path.is_dir()]


def _environment(tree: str, release: str, out: str, paths: list[str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MYPY", "PYTEST"))}
    env.update(BENCH_CAPTURE_OUT=out, BENCH_RELEASE=release, BENCH_WORKTREE=tree,
               BENCH_TIMESTAMP=_timestamp(tree, release),
               PYTHONPATH=os.pathsep.join([str(HERE), *paths]),
               PYTHONDONTWRITEBYTECODE="1", PYTHONHASHSEED="0")
    return env


def run_staged(tree: str, release: str, cases: list[CaseRef], python: str,
               timeout: float, pins: str | None = None) -> RunResult:
    """Run the staged cases in ``tree`` with the capture plugin and read its report."""
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as report:
        out = report.name
    env = _environment(tree, release, out, pinned_paths(tree, python, pins))
    try:
        proc = subprocess.run(_pytest_command(python, tree, cases), cwd=tree, capture_output=True,
                              text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        os.unlink(out)
        return RunResult(False, "timeout")
    records = [json.loads(line) for line in Path(out).read_text().splitlines() if line]
    os.unlink(out)
    header = next((r for r in records if r["kind"] == "header"), None)
    if header is None:
        return RunResult(False, "harness did not start: " + _tail(proc.stdout + proc.stderr))
    if header.get("mypy_file") is None:
        return RunResult(False, "imported a mypy outside the worktree")
    tests = [r for r in records if r["kind"] == "test"]
    if not tests:
        return RunResult(False, "no test ran: " + _tail(proc.stdout + proc.stderr))
    return RunResult(True, tests=tests, python=header.get("python", ""))


def _tail(text: str) -> str:
    lines = [line for line in text.splitlines() if line.strip()]
    return " | ".join(lines[-3:])[:300]


_VERSION_GATED = re.compile(r"python3\d+\.test$")  # collected only on that Python or newer


def _missing_gated(result: RunResult, cases: list[CaseRef]) -> bool:
    """True when a case of a version-gated file (``check-python312.test``) did not run."""
    gated = {case.test_name for case in cases if _VERSION_GATED.search(case.path)}
    return bool(gated - {test["name"] for test in result.tests})


def _better(best: RunResult, result: RunResult) -> RunResult:
    """The run to keep: one that ran beats one that did not, then the one that ran more."""
    if not result.ok:
        return best if best.ok else result
    return result if not best.ok or len(result.tests) > len(best.tests) else best


def run_at(repo: str, commit: str, scratch: str, cases: list[CaseRef],
           stage: Callable[[str], None], pythons: Sequence[str] = (sys.executable,),
           timeout: float = 600, pins: str | None = None) -> RunResult:
    """Check out ``commit``, stage the tests with ``stage`` and run them.

    The interpreters are tried in order until one runs the harness: old mypy test harnesses
    need an old pytest, which needs an old Python. A run that skipped a case of a
    version-gated file goes on to the next (newer) interpreter too. ``pins``: see
    ``pinned_paths``.
    """
    best = RunResult(False, "no interpreter")
    try:
        with worktree(repo, commit, scratch) as tree:
            stage(tree)
            for python in pythons:
                result = run_staged(tree, commit, cases, python, timeout, pins)
                best = _better(best, result)
                if result.problem == "timeout" or (best.ok and not _missing_gated(best, cases)):
                    break
    except subprocess.TimeoutExpired:
        return RunResult(False, "timeout")
    except subprocess.CalledProcessError as exc:
        return RunResult(False, f"git failed: {_tail(exc.stderr or '')}")
    return best
