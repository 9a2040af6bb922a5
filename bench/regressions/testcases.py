"""Locate the regression tests a fix commit adds, and stage them into another checkout.

mypy's tests are data-driven: ``*.test`` files under ``test-data/unit`` and ``mypyc/test-data``
hold ``[case NAME]`` blocks (program, ``[file ...]`` sections, ``# flags:`` line, expected
output), collected by pytest through ``mypy/test/data.py``. The program that triggers a crash is
the case a fix adds or edits. To run it at the fix's parent, the fix's versions of its test data
and test-harness files are checked out over that worktree; to run it at older commits (the
culprit and its parent, bisection steps), only the case blocks are appended to the matching
``.test`` file, with the fixtures they name taken from the fix.
"""

from __future__ import annotations

import fnmatch
import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from candidates import git

TEST_DATA_DIRS = ("test-data/", "mypyc/test-data/")
HARNESS_DIRS = ("mypy/test/", "mypyc/test/")
_CASE = re.compile(r"^\[case ([^\]]+)\]\s*$")
_HUNK = re.compile(r"^@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@")


@dataclass(frozen=True)
class CaseRef:
    """A data-driven test case: the ``.test`` file that holds it and its name."""

    path: str
    name: str

    @property
    def test_name(self) -> str:
        """The pytest item name (a ``-skip``/``-xfail`` suffix is not part of it)."""
        return re.sub(r"-(?:skip|xfail|writescache|only_when_cache|only_when_nocache)\b.*$",
                      "", self.name.split()[0])


def changed_files(repo: str, fix: str) -> list[str]:
    """Paths the fix commit added or modified."""
    out = git(repo, "diff", "--name-only", "--diff-filter=AM", f"{fix}^", fix)
    return [line for line in out.splitlines() if line]


def _added_lines(repo: str, fix: str, path: str) -> set[int]:
    """Line numbers (in the fix's version of ``path``) that the fix added or changed."""
    diff = git(repo, "diff", "-U0", f"{fix}^", fix, "--", path)
    lines: set[int] = set()
    for line in diff.splitlines():
        match = _HUNK.match(line)
        if match:
            start, count = int(match.group(1)), int(match.group(2) or "1")
            lines.update(range(start, start + count))
    return lines


def changed_cases(repo: str, fix: str) -> list[CaseRef]:
    """The test cases whose block the fix added or edited, in file order."""
    cases: list[CaseRef] = []
    for path in changed_files(repo, fix):
        if not path.endswith(".test") or not path.startswith(TEST_DATA_DIRS):
            continue
        touched = _added_lines(repo, fix, path)
        current, hit = None, False
        for number, line in enumerate(git(repo, "show", f"{fix}:{path}").splitlines(), 1):
            match = _CASE.match(line)
            if match:
                if current and hit:
                    cases.append(CaseRef(path, current))
                current, hit = match.group(1), number in touched
            elif current and number in touched:
                hit = True
        if current and hit:
            cases.append(CaseRef(path, current))
    return [case for case in cases if "-skip" not in case.name]


def case_block(repo: str, commit: str, case: CaseRef) -> str:
    """The text of ``case`` (header included) as it is in ``commit``."""
    block: list[str] = []
    for line in git(repo, "show", f"{commit}:{case.path}").splitlines():
        match = _CASE.match(line)
        if match and block:
            break
        if block or (match and match.group(1) == case.name):
            block.append(line)
    return "\n".join(block).rstrip() + "\n"


def stage_fix_tests(worktree: str, fix: str, files: list[str]) -> None:
    """Check out the fix's test data and harness files over the worktree."""
    paths = [p for p in files if p.startswith(TEST_DATA_DIRS + HARNESS_DIRS)]
    if paths:
        git(worktree, "checkout", fix, "--", *paths)


def _fixtures(case_text: str, case_path: str) -> list[str]:
    """Repository paths of the fixture files a case block names (``[builtins fixtures/x]``)."""
    folder = os.path.dirname(case_path)
    names = re.findall(r"^\[(?:builtins|typing|fixture)\s+(\S+)\]", case_text, re.MULTILINE)
    return [f"{folder}/{name}" for name in names]


def stage_case_blocks(worktree: str, repo: str, fix: str, cases: list[CaseRef],
                      files: list[str]) -> None:
    """Append the fix's case blocks to an older worktree, with the fix's fixtures.

    The fixtures a block names are taken from the fix (the same program needs the same stubs);
    other test-data files the fix added or changed are only added where the tree lacks them.
    """
    blocks = {case: case_block(repo, fix, case) for case in cases}
    named = {path for case, text in blocks.items() for path in _fixtures(text, case.path)}
    for path in sorted(named | {p for p in files if p.startswith(TEST_DATA_DIRS)}):
        target = Path(worktree, path)
        if path.endswith(".test") or (target.exists() and path not in named):
            continue
        try:
            text = git(repo, "show", f"{fix}:{path}")
        except subprocess.CalledProcessError:
            continue  # a fixture name the harness resolves elsewhere
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    for case, text in blocks.items():
        target = Path(worktree, case.path)
        target.parent.mkdir(parents=True, exist_ok=True)
        old = target.read_text(encoding="utf-8") if target.exists() else ""
        target.write_text(old.rstrip("\n") + "\n\n" + text, encoding="utf-8")


def suite_modules(worktree: str, test_file: str) -> list[str]:
    """The pytest modules in the worktree that collect ``test_file`` (by name or glob)."""
    name = os.path.basename(test_file)
    modules = []
    for harness in HARNESS_DIRS:
        folder = Path(worktree, harness)
        for module in sorted(folder.glob("test*.py")) if folder.is_dir() else []:
            text = module.read_text(encoding="utf-8", errors="replace")
            literals = re.findall(r"""["']([\w.*-]+\.test)["']""", text)
            if any(fnmatch.fnmatch(name, literal) for literal in literals):
                modules.append(f"{harness}{module.name}")
    return modules
