"""Rules that keep a patch from passing by weakening tests instead of fixing code (pure).

A patch may add tests, never take them away: in test files it may not delete or rename a test,
remove or change an assertion, or add a skip, an expected failure or a focus (`it.only` skips
every other test). Outside test files it may not reach into the test runner (import pytest,
define pytest hooks, touch `_pytest`), which is how code under test could rewrite its own
verdict. Moving an assertion is fine (it is removed and re-added unchanged); so is adding
`# noqa` or `# type: ignore` to it. The rules read lines, not syntax trees, so they err on the
side of refusing: a human can always widen the playbook.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator

from worker.fix.models import PolicyFinding
from worker.verify.diffparse import FileDiff
from worker.verify.paths import is_test_path

_SKIP = re.compile(
    r"@pytest\.mark\.(?:skip|skipif|xfail)\b|\bpytest\.(?:skip|xfail|importorskip)\s*\("
    r"|@unittest\.(?:skip|skipIf|skipUnless|expectedFailure)\b|\bself\.skipTest\s*\("
    r"|\bxfail\b|\b(?:it|describe|test|context|suite)\.(?:skip|todo|only)\b"
    r"|\b(?:xit|xdescribe|xtest|fit|fdescribe)\s*\(|\bt\.Skip(?:f|Now)?\s*\("
    r"|@Disabled\b|@Ignore\b"
)
_ASSERTION = re.compile(
    r"\bassert|\bexpect\s*\(|\bt\.(?:Error|Errorf|Fatal|Fatalf|Fail|FailNow)\b"
    r"|\bpytest\.raises\b|\brequire\.|\.should\b"
)
_COMMENT = re.compile(r"^\s*(?:#|//)")
_GO_REPORT = re.compile(r"^\s*t\.(Errorf?|Fatalf?)\s*\(")
_QUIET = re.compile(r"#\s*(?:noqa|type:\s*ignore|pragma)\b.*$")
_TEST_DEFS = (
    re.compile(r"^\s*(?:async\s+)?def\s+(test\w*)\s*\("),
    re.compile(r"^\s*class\s+(Test\w*)\b"),
    re.compile(r"^func\s+(Test\w*)\s*\("),
    re.compile(r"^\s*(?:it|test|describe)(?:\.\w+)?\s*\(\s*(['\"`])(.*?)\1"),
    re.compile(r"^\s*(@Test)\b"),
)
_HARNESS_ANYWHERE = re.compile(r"\b_pytest\b|\bPYTEST_(?:ADDOPTS|PLUGINS)\b")
_HARNESS_IN_TESTS = re.compile(r"^\s*(?:async\s+)?def\s+pytest_\w+\s*\(|\bpytest_plugins\b")
_HARNESS_IN_SOURCE = re.compile(r"^\s*(?:import|from)\s+(?:pytest|_pytest|unittest)\b")


def weakening_findings(file: FileDiff, *, allow_test_deletion: bool) -> Iterator[PolicyFinding]:
    """Every way `file`'s change weakens tests or reaches into the test runner."""
    yield from _harness(file)
    if not any(is_test_path(path) for path in file.paths):
        return
    if not allow_test_deletion:
        yield from _deleted_tests(file)
    yield from _skips(file)
    yield from _weakened_assertions(file)


def defined_tests(lines: list[tuple[int, str]]) -> Counter[str]:
    """The tests defined on `lines`: Python functions and classes, Go tests, JS blocks, @Test."""
    names: Counter[str] = Counter()
    for _, text in lines:
        for pattern in _TEST_DEFS:
            match = pattern.match(text)
            if match:
                names[match.group(match.lastindex or 1)] += 1
                break
    return names


def _deleted_tests(file: FileDiff) -> Iterator[PolicyFinding]:
    old = file.old_path
    if file.status == "deleted" or (file.status == "renamed" and old and is_test_path(old)):
        how = "deleted" if file.status == "deleted" else f"renamed to {file.new_path}"
        yield PolicyFinding(rule="test-deleted", path=old or file.path,
                            detail=f"the test file is {how}; patches add tests, never remove them")
        return
    missing = defined_tests(file.removed) - defined_tests(file.added)
    for name in sorted(missing):
        yield PolicyFinding(rule="test-deleted", path=file.path,
                            detail=f"test {name!r} is removed or renamed")


def _skips(file: FileDiff) -> Iterator[PolicyFinding]:
    for number, text in file.added:
        match = _SKIP.search(text)
        if match and not _COMMENT.match(text):
            yield PolicyFinding(rule="test-skipped", path=file.path,
                                detail=f"line {number} adds {match.group(0).strip()!r}, "
                                       "which skips, expects to fail or excludes tests")


def _weakened_assertions(file: FileDiff) -> Iterator[PolicyFinding]:
    readded = Counter(_normal(text) for _, text in file.added)
    for number, text in file.removed:
        if not _ASSERTION.search(text) or _COMMENT.match(text):
            continue
        key = _normal(text)
        if readded[key] > 0:
            readded[key] -= 1  # moved, or only a lint pragma added: the assertion survives
            continue
        yield PolicyFinding(rule="assertion-weakened", path=file.old_path or file.path,
                            detail=f"line {number} removes or changes the assertion "
                                   f"{_clip(text.strip())!r}")


def _harness(file: FileDiff) -> Iterator[PolicyFinding]:
    in_tests = is_test_path(file.path)
    python = file.path.endswith(".py")
    for number, text in file.added:
        if _HARNESS_ANYWHERE.search(text) or (
                python and (_HARNESS_IN_TESTS if in_tests else _HARNESS_IN_SOURCE).search(text)):
            yield PolicyFinding(rule="test-harness", path=file.path,
                                detail=f"line {number} reaches into the test runner: "
                                       f"{_clip(text.strip())!r}")


def _normal(text: str) -> str:
    report = _GO_REPORT.match(text)
    if report:
        # A Go test reports a failure its `if` found: the call's message and arguments are what
        # it says, not what it checks, so rewording them keeps the assertion.
        return f"t.{report.group(1)}(...)"
    return "".join(_QUIET.sub("", text).split())


def _clip(text: str, size: int = 120) -> str:
    return text if len(text) <= size else text[:size] + "..."
