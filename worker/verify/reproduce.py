"""The reproduction check: the tests a patch adds must fail without its code change and pass
with it.

Which tests are new is read from the applied diff: every test in an added test module, and
every test function or method whose `def` line the diff adds in an existing one (found with
`ast` on the patched file, so methods get their class in the id); Go tests from added
`func TestX` lines; other added test files as a whole. A caller may name the tests instead.
The check passes when every reproduction test passes on the fix and at least one of them
failed on base (with the crash's error, when that is known): a test that already passed on
base proves nothing, but it does no harm either, so it is only reported.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterator

from worker.fix.models import ReproductionCounts, ReproductionReport, TestOutcome
from worker.verify.diffparse import FileDiff
from worker.verify.outcomes import PASSED, RED
from worker.verify.paths import TEST_MACHINERY, is_python_test_module, is_test_path, matches_any
from worker.verify.suite import TestRun
from worker.verify.weakening import defined_tests

_MAX_LISTED = 20


def find_reproduction_tests(files: list[FileDiff],
                            read: Callable[[str], str | None]) -> list[str]:
    """Ids of the tests the diff adds; `read(path)` gives a file's patched text."""
    ids: list[str] = []
    for file in files:
        path = file.new_path
        if path is None or not is_test_path(path) or matches_any(TEST_MACHINERY, path):
            continue
        if is_python_test_module(path):
            ids.extend(_python_tests(file, path, read(path)))
        elif path.endswith("_test.go"):
            ids.extend(sorted(defined_tests(file.added) - defined_tests(file.removed)))
        elif file.status in ("added", "copied") and not path.endswith(".py"):
            ids.append(path)
    return list(dict.fromkeys(ids))


def judge_reproduction(test_ids: list[str], base: TestRun, fix: TestRun,
                       expected_error: str | None = None
                       ) -> tuple[list[str], ReproductionReport]:
    """Failure reasons (empty when the tests reproduce the bug) and the reproduction report."""
    rows = {t: TestOutcome(base=base.outcomes.of(t), fix=fix.outcomes.of(t),
                           base_message=base.outcomes.message(t)) for t in test_ids}
    red = [t for t, row in rows.items() if row.base in RED]
    green = [t for t, row in rows.items() if row.fix == PASSED]
    wrong_error = [t for t in red if expected_error
                   and expected_error not in _failure_text(rows[t].base_message, base)]
    shown = [t for t in red if t in green and t not in wrong_error]
    reasons = [f"reproduction test fails on the fix: {t} ({rows[t].fix})"
               for t in test_ids if t not in green]
    if not shown:
        reasons.extend(f"reproduction test passes on base: {t}"
                       for t in test_ids if rows[t].base == PASSED)
        reasons.extend(f"reproduction test does not fail with {expected_error} on base: {t}"
                       for t in wrong_error)
        reasons.extend(f"reproduction test does not run on base: {t} ({rows[t].base})"
                       for t in test_ids if rows[t].base not in RED | {PASSED})
    report = ReproductionReport(
        ran=True, tests=test_ids, command=fix.command, outcomes=rows,
        red_on_base=red, green_on_fix=green, reproduced=shown,
        passed_on_base=[t for t, row in rows.items() if row.base == PASSED],
        counts=ReproductionCounts(tests=len(test_ids), red_on_base=len(red),
                                  green_on_fix=len(green), reproduced=len(shown)),
        base=base.report(), fix=fix.report())
    return reasons[:_MAX_LISTED], report


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
