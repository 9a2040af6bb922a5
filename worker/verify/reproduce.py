"""The reproduction check: the tests a patch adds must fail without its code change and pass
with it.

Which tests are new is read from the applied diff: every test in an added test module, and
every test function or method whose `def` line the diff adds in an existing one (found with
`ast` on the patched file, so methods get their class in the id); Go tests from added
`func TestX` lines; other added test files as a whole, and an existing JavaScript test file
when the diff adds a test block to it. A test added to a base or mixin class is named through
each collected class that inherits it (`worker.verify.inherited`). Which Python files are test
modules follows the runner's rules (`runners.testfiles`). A caller may name the tests instead.
The check passes when every reproduction test passes on the fix and at least one of them
failed on base (with the crash's error, when that is known): a test that already passed on
base proves nothing, but it does no harm either, so it is only reported.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Iterator

from worker.fix.models import ReproductionCounts, ReproductionReport, TestOutcome
from worker.scrub import scrub_text
from worker.verify.diffparse import FileDiff
from worker.verify.inherited import inherited_from_diff
from worker.verify.outcomes import MISSING, PASSED, RED, SKIPPED
from worker.verify.paths import TEST_MACHINERY, is_python_test_module, is_test_path, matches_any
from worker.verify.runners.testfiles import python_test_patterns
from worker.verify.suite import TestRun, load_error
from worker.verify.weakening import defined_tests

_MAX_LISTED = 20
_JS_TEST = re.compile(r"\.(?:test|spec)\.[cm]?[jt]sx?$|(?:^|/)__tests__/")


def find_reproduction_tests(files: list[FileDiff], read: Callable[[str], str | None], *,
                            python_files: list[str] | None = None,
                            candidates: Iterable[str] = ()) -> list[str]:
    """Ids of the tests the diff adds; `read(path)` gives a file's patched text.
    `python_files` are the runner's globs for Python test modules (by default the
    repository's pytest configuration, read through `read`, else pytest's defaults and
    Django's `tests.py`); `candidates` are more modules to look for subclasses in, when a
    test is added to a base or mixin class (`inherited`)."""
    patterns = python_files if python_files is not None else python_test_patterns(None, read)
    ids: list[str] = []
    for file in files:
        path = file.new_path
        if path is None or not is_test_path(path, patterns) \
                or matches_any(TEST_MACHINERY, path):
            continue
        if is_python_test_module(path, patterns):
            ids.extend(_python_tests(file, path, read(path)))
        elif path.endswith("_test.go"):
            ids.extend(sorted(defined_tests(file.added) - defined_tests(file.removed)))
        elif file.status in ("added", "copied") and not path.endswith(".py"):
            ids.append(path)
        elif _JS_TEST.search(path) and defined_tests(file.added) - defined_tests(file.removed):
            ids.append(path)  # a JS test added to an existing file: the file, as runners name it
    ids.extend(inherited_from_diff(
        files, read, lambda path: is_python_test_module(path, patterns), candidates))
    return list(dict.fromkeys(ids))


def judge_reproduction(test_ids: list[str], base: TestRun, fix: TestRun,
                       expected_error: str | None = None
                       ) -> tuple[list[str], ReproductionReport]:
    """Reasons the tests do not reproduce the bug (empty when they do) and the report.

    A test that did not run (never reported, skipped, or, on the fix, only its module's
    collection error) proves nothing either way: it is listed in the report's `not_run` with
    why, so the verdict can say it could not verify rather than blame the patch."""
    rows = {t: TestOutcome(base=base.outcomes.of(t), fix=fix.outcomes.of(t),
                           base_message=base.outcomes.message(t)) for t in test_ids}
    not_run = {t: why for t in test_ids if (why := _not_run(t, rows[t], fix))}
    ran = [t for t in test_ids if t not in not_run]
    red = [t for t in ran if rows[t].base in RED]
    green = [t for t in ran if rows[t].fix == PASSED]
    wrong_error = [t for t in red if expected_error
                   and expected_error not in _failure_text(rows[t].base_message, base)]
    shown = [t for t in red if t in green and t not in wrong_error]
    reasons = [f"reproduction test fails on the fix: {t} ({rows[t].fix})"
               for t in ran if t not in green]
    if not shown:
        reasons.extend(f"reproduction test passes on base: {t}"
                       for t in ran if rows[t].base == PASSED)
        reasons.extend(f"reproduction test does not fail with {expected_error} on base: {t}"
                       for t in wrong_error)
    report = ReproductionReport(
        ran=True, tests=test_ids, command=fix.command, outcomes=rows,
        red_on_base=red, green_on_fix=green, reproduced=shown,
        passed_on_base=[t for t in ran if rows[t].base == PASSED],
        not_run=[f"{t} ({why})" for t, why in not_run.items()],
        counts=ReproductionCounts(tests=len(test_ids), red_on_base=len(red),
                                  green_on_fix=len(green), reproduced=len(shown),
                                  not_run=len(not_run)),
        base=base.report(), fix=fix.report())
    return reasons[:_MAX_LISTED], report


def _not_run(test_id: str, row: TestOutcome, fix: TestRun) -> str:
    """Why a reproduction test did not run, or "" when it ran on base and on the fix. A module
    that cannot be imported on base still counts as red there (the crash's error type, when
    known, is checked against its message); on the fix it means the test never ran."""
    for where, outcome in (("base", row.base), ("the fix", row.fix)):
        if outcome in (MISSING, SKIPPED):
            return f"{'not reported' if outcome == MISSING else 'skipped'} on {where}"
    if row.fix in RED and fix.outcomes.did_not_load(test_id):
        message = scrub_text(load_error(fix, test_id))
        return f"its module could not be loaded on the fix: {message}"[:300]
    return ""


def _failure_text(message: str, run: TestRun) -> str:
    # The summary line names the exception, but pytest may cut it to the terminal width, so
    # the log (of a run narrowed to the reproduction tests) counts as evidence too.
    return "\n".join((message, run.result.stdout, run.result.stderr))


def _python_tests(file: FileDiff, path: str, text: str | None) -> Iterator[str]:
    try:
        tree = ast.parse(text or "", filename=path)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        if file.status in ("added", "copied"):
            yield path  # it will fail to import on base and on the fix alike
        return
    added = {number for number, _ in file.added}
    existed = defined_tests(file.removed)
    whole = file.status in ("added", "copied")
    for qualname, node in _test_functions(tree.body, ()):
        if whole or (node.lineno in added and node.name not in existed):
            yield f"{path}::{qualname}"


def _test_functions(body: list[ast.stmt], scope: tuple[str, ...]
                    ) -> Iterator[tuple[str, ast.FunctionDef | ast.AsyncFunctionDef]]:
    for node in body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) \
                and node.name.startswith("test"):
            yield "::".join((*scope, node.name)), node
        elif isinstance(node, ast.ClassDef) and _collected_class(node):
            yield from _test_functions(node.body, (*scope, node.name))


def _collected_class(node: ast.ClassDef) -> bool:
    """Whether pytest collects the class: named Test*, or a unittest TestCase."""
    bases = {b.attr if isinstance(b, ast.Attribute) else getattr(b, "id", "") for b in node.bases}
    return node.name.startswith("Test") or any(b.endswith("TestCase") for b in bases)
