"""The JUnit XML reports a test command writes, found from the command itself.

A report is read when the command names it: pytest's `--junitxml=PATH`, vitest's
`--outputFile=PATH` or `--outputFile.junit=PATH`, jest-junit's `JEST_JUNIT_OUTPUT_FILE=PATH`
or `JEST_JUNIT_OUTPUT_DIR=DIR` (with `JEST_JUNIT_OUTPUT_NAME`, default `junit.xml`), and
`go-junit-report ... > PATH`; and Maven's `target/surefire-reports/TEST-*.xml` (any module's)
when the command runs `mvn`. Files are written by the code under test, so only regular files
inside the worktree count, never links. A Surefire report must also be newer than its module's
`pom.xml` by a second: the tree is checked out just before the run, so a report that was
committed (or added by the patch) has the checkout's time, while Maven takes longer than that
to start and write one.
"""

from __future__ import annotations

import re
from pathlib import Path

_NAMED = (
    re.compile(r"--junit-?xml(?:=|\s+)(\S+)"),
    re.compile(r"--outputFile(?:\.junit)?(?:=|\s+)(\S+\.xml)\b"),
    re.compile(r"\bJEST_JUNIT_OUTPUT_FILE=(\S+)"),
    re.compile(r"go-junit-report\b[^|;&>]*>\s*(\S+)"),
)
_JEST_DIR = re.compile(r"\bJEST_JUNIT_OUTPUT_DIR=(\S+)")
_JEST_NAME = re.compile(r"\bJEST_JUNIT_OUTPUT_NAME=(\S+)")
_MAVEN = re.compile(r"(?:^|[\s/])mvnw?\b")
_SUREFIRE = "**/surefire-reports/TEST-*.xml"
_MAX_REPORTS = 2000
_CHECKOUT_SLACK = 1.0


def report_texts(worktree: Path, command: str) -> list[str]:
    """The text of every JUnit report `command` wrote inside `worktree`."""
    root = worktree.resolve()
    paths = [root / _unquoted(m.group(1)) for pattern in _NAMED
             for m in pattern.finditer(command)]
    jest_dir = _JEST_DIR.search(command)
    if jest_dir:
        name = _JEST_NAME.search(command)
        paths.append(root / _unquoted(jest_dir.group(1))
                     / (_unquoted(name.group(1)) if name else "junit.xml"))
    if _MAVEN.search(command):
        paths.extend(p for p in sorted(root.glob(_SUREFIRE))[:_MAX_REPORTS] if _fresh(p))
    texts: list[str] = []
    for path in dict.fromkeys(paths):
        text = _read_inside(root, path)
        if text is not None:
            texts.append(text)
    return texts


def _fresh(report: Path) -> bool:
    """Whether a Surefire report was written after its module's checkout (see module doc)."""
    module = report.parent.parent.parent  # <module>/target/surefire-reports/TEST-x.xml
    try:
        return report.stat().st_mtime > (module / "pom.xml").stat().st_mtime + _CHECKOUT_SLACK
    except OSError:
        return False


def _read_inside(root: Path, target: Path) -> str | None:
    # The file was written by the code under test: refuse links and anything outside the tree.
    if target.is_symlink() or not target.is_file():
        return None
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        return None
    try:
        return resolved.read_text("utf-8", "replace")
    except OSError:
        return None


def _unquoted(text: str) -> str:
    return text.strip("'\"")
