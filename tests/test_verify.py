"""Verification end to end on a small real git repository with a real bug: a fix with its
reproduction test is verified; patches that delete tests, add a test that already passes,
break another test or game a test's constant are refused with the reason; a test already
failing on base is reported but not blamed. Also the outcome parsers, `choose_best`, the
`suture verify` JSON contract, and one run through the bubblewrap sandbox when it exists."""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import pytest

from integrations.git import GitWorkspace
from tests.gitrepo import GitRepoBuilder, git, lines
from tests.support import LocalSandbox
from worker.cli.verify import verify_cli
from worker.fix.models import Attempt, Verification
from worker.verify import DiffPolicy, choose_best, verify_patch
from worker.verify.outcomes import FAILED, MISSING, PASSED, SUITE, parse_outcomes
from worker.verify.verifier import NO_REPRODUCTION

PRICING = lines(
    "def average(prices):",
    "    return sum(prices) // len(prices)",
    "",
    "",
    "def total(prices):",
    "    return sum(prices)",
)
FIXED_PRICING = PRICING.replace("    return sum(prices) // len(prices)",
                                "    if not prices:\n        return 0\n"
                                "    return sum(prices) // len(prices)")
TESTS = lines(
    "from shop.pricing import average, total",
    "",
    "TOTAL = 3",
    "",
    "",
    "def test_average():",
    "    assert average([2, 4]) == 3",
    "",
    "",
    "def test_total():",
    "    assert total([1, 2]) == TOTAL",
)
REPRO = lines(
    "",
    "",
    "def test_average_of_an_empty_cart():",
    "    assert average([]) == 0",
)
REPRO_ID = "tests/test_pricing.py::test_average_of_an_empty_cart"
LEGACY = lines(
    "from shop.pricing import total",
    "",
    "",
    "def test_total_of_no_cart_is_zero():",
    "    assert total(None) == 0",
)
LEGACY_ID = "tests/test_legacy.py::test_total_of_no_cart_is_zero"


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> GitRepoBuilder:
    """The shop: `average` divides by zero on an empty cart; one legacy test already fails."""
    repo = GitRepoBuilder(tmp_path_factory.mktemp("shop") / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": PRICING,
                 "tests/test_pricing.py": TESTS, "tests/test_legacy.py": LEGACY},
                "Prices")
    return repo


def patch_of(repo: GitRepoBuilder, files: dict[str, str], delete: tuple[str, ...] = ()) -> str:
    """The diff `files` and `delete` make to HEAD, as git writes it; the tree is left clean."""
    repo.write(files)
    for name in delete:
        (repo.path / name).unlink()
    git(repo.path, "add", "-A")
    try:
        return git(repo.path, "diff", "--cached", "HEAD") + "\n"
    finally:
        git(repo.path, "reset", "-q", "--hard", "HEAD")


def verify(repo: GitRepoBuilder, patch: str, sandbox: LocalSandbox | None = None,
           **options: object) -> Verification:
    options.setdefault("test_command", None)
    return verify_patch(GitWorkspace(repo.path), "main", patch, sandbox=sandbox or LocalSandbox(),
                        policy=DiffPolicy(), **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def good(shop: GitRepoBuilder) -> tuple[Verification, LocalSandbox]:
    """The verdict on the right fix with its reproduction test."""
    sandbox = LocalSandbox()
    patch = patch_of(shop, {"shop/pricing.py": FIXED_PRICING,
                            "tests/test_pricing.py": TESTS + REPRO})
    return verify(shop, patch, sandbox, expected_error="ZeroDivisionError"), sandbox


# --- verified --------------------------------------------------------------------------------

def test_a_fix_with_a_reproduction_test_is_verified(good: tuple[Verification, LocalSandbox]
                                                    ) -> None:
    verdict, _ = good
    assert verdict.verified, verdict.reasons
    assert verdict.reasons[0].startswith("verified:")
    assert REPRO_ID in verdict.reasons[0]
    repro = verdict.reproduction
    assert repro.reproduced == [REPRO_ID]
    row = repro.outcomes[REPRO_ID]
    assert (row.base, row.fix) == (FAILED, PASSED)
    # On base the test ran with the patch's test file but without its source change.
    assert "ZeroDivisionError" in row.base_message
    assert verdict.suite.counts.model_dump() == {"passed_on_base": 2, "failing_on_base": 1,
                                                 "broken": 0, "fixed": 0, "ran_on_base": 3,
                                                 "ran_on_fix": 3}
    assert verdict.policy.model_dump() == {"passed": True, "files": 2, "changed_lines": 6,
                                           "findings": []}


def test_every_test_command_ran_in_the_sandbox(good: tuple[Verification, LocalSandbox]) -> None:
    _, sandbox = good
    argvs = [result.argv for result in sandbox.audit]
    assert len(argvs) == 4  # suite on base and fix, reproduction on base and fix
    assert all(argv[:2] == ["sh", "-c"] for argv in argvs)
    assert [REPRO_ID in argv[2] for argv in argvs] == [False, False, True, True]


def test_worktrees_are_removed_and_the_repository_is_untouched(
        shop: GitRepoBuilder, good: tuple[Verification, LocalSandbox]) -> None:
    assert good[0].verified
    assert len(git(shop.path, "worktree", "list").splitlines()) == 1
    assert git(shop.path, "status", "--porcelain") == ""


def test_a_test_already_failing_on_base_is_reported_not_blamed(
        good: tuple[Verification, LocalSandbox]) -> None:
    verdict, _ = good
    assert verdict.verified
    assert [t.model_dump() for t in verdict.suite.failing_on_base] == [
        {"test": LEGACY_ID, "base": FAILED, "fix": FAILED}]
    assert "already failing on base" in verdict.reasons[0]


def test_named_reproduction_tests_and_a_fixed_legacy_test(shop: GitRepoBuilder) -> None:
    fixed_total = PRICING.replace("    return sum(prices)\n", "    return sum(prices or [])\n")
    verdict = verify(shop, patch_of(shop, {"shop/pricing.py": fixed_total}),
                     reproduction_tests=[LEGACY_ID])
    assert verdict.verified, verdict.reasons
    assert verdict.reproduction.source == "given"
    assert verdict.suite.fixed == [LEGACY_ID]


def test_junit_reports_are_read_when_the_command_writes_one(shop: GitRepoBuilder) -> None:
    patch = patch_of(shop, {"shop/pricing.py": FIXED_PRICING,
                            "tests/test_pricing.py": TESTS + REPRO})
    verdict = verify(shop, patch,
                     test_command="python -m pytest -q -p no:cacheprovider --junitxml=out.xml")
    assert verdict.verified, verdict.reasons
    assert verdict.suite.base is not None and verdict.suite.base.parser == "junit"
    assert verdict.reproduction.reproduced == [REPRO_ID]


# --- refused ---------------------------------------------------------------------------------

def test_deleting_the_failing_test_is_refused_before_anything_runs(shop: GitRepoBuilder) -> None:
    sandbox = LocalSandbox()
    verdict = verify(shop, patch_of(shop, {}, delete=("tests/test_legacy.py",)), sandbox)
    assert not verdict.verified
    assert any(r.startswith("diff policy: test-deleted in tests/test_legacy.py")
               for r in verdict.reasons), verdict.reasons
    assert verdict.policy.passed is False
    assert sandbox.audit == []


def test_a_new_test_that_passes_on_base_is_refused(shop: GitRepoBuilder) -> None:
    already_fine = lines("", "", "def test_average_of_two():", "    assert average([1, 3]) == 2")
    patch = patch_of(shop, {"shop/pricing.py": FIXED_PRICING,
                            "tests/test_pricing.py": TESTS + already_fine})
    verdict = verify(shop, patch)
    assert not verdict.verified
    assert verdict.reasons == [
        "reproduction test passes on base: tests/test_pricing.py::test_average_of_two"]


def test_a_fix_that_breaks_another_test_is_refused_naming_it(shop: GitRepoBuilder) -> None:
    broken = FIXED_PRICING.replace("    return sum(prices)\n", "    return sum(prices[1:])\n")
    patch = patch_of(shop, {"shop/pricing.py": broken, "tests/test_pricing.py": TESTS + REPRO})
    verdict = verify(shop, patch)
    assert not verdict.verified
    assert verdict.reasons == ["1 test(s) that pass on base fail on the fix: "
                               "tests/test_pricing.py::test_total (failed)"]
    assert [t.model_dump() for t in verdict.suite.broken] == [
        {"test": "tests/test_pricing.py::test_total", "fix": FAILED}]


def test_editing_a_test_constant_cannot_hide_a_broken_test(shop: GitRepoBuilder) -> None:
    # No assertion line changes, so the policy lets it through; the suite runs the base's own
    # tests against the fix, so the changed constant never reaches them.
    broken = FIXED_PRICING.replace("    return sum(prices)\n", "    return sum(prices) + 1\n")
    gamed = TESTS.replace("TOTAL = 3", "TOTAL = 4") + REPRO
    verdict = verify(shop, patch_of(shop, {"shop/pricing.py": broken,
                                           "tests/test_pricing.py": gamed}))
    assert verdict.policy.findings == []
    assert not verdict.verified
    assert "tests/test_pricing.py::test_total (failed)" in verdict.reasons[0]


def test_a_fix_without_a_reproduction_test_is_refused(shop: GitRepoBuilder) -> None:
    verdict = verify(shop, patch_of(shop, {"shop/pricing.py": FIXED_PRICING}))
    assert not verdict.verified
    assert verdict.reasons == [NO_REPRODUCTION]
    assert verdict.suite.counts.broken == 0


def test_a_reproduction_test_failing_for_another_reason_is_refused(shop: GitRepoBuilder) -> None:
    # The new test fails on base only because it imports a name the patch adds.
    added = PRICING + lines("", "", "def cheapest(prices):", "    return min(prices)")
    test = lines("from shop.pricing import cheapest", "", "",
                 "def test_cheapest():", "    assert cheapest([2, 1]) == 1")
    patch = patch_of(shop, {"shop/pricing.py": added, "tests/test_cheapest.py": test})
    verdict = verify(shop, patch, expected_error="ZeroDivisionError")
    assert not verdict.verified
    assert verdict.reasons == ["reproduction test does not fail with ZeroDivisionError on base: "
                               "tests/test_cheapest.py::test_cheapest"]


def test_a_patch_that_does_not_apply_is_refused(shop: GitRepoBuilder) -> None:
    patch = ("diff --git a/shop/pricing.py b/shop/pricing.py\n--- a/shop/pricing.py\n"
             "+++ b/shop/pricing.py\n@@ -1 +1 @@\n-def mean(prices):\n+def mean(values):\n")
    sandbox = LocalSandbox()
    verdict = verify(shop, patch, sandbox)
    assert not verdict.verified
    assert verdict.reasons[0].startswith("the patch does not apply to main: ")
    assert sandbox.audit == []


def test_an_unknown_base_is_refused(shop: GitRepoBuilder) -> None:
    verdict = verify_patch(GitWorkspace(shop.path), "no-such-branch",
                           patch_of(shop, {"shop/x.py": "x = 1\n"}),
                           test_command=None, sandbox=LocalSandbox(), policy=DiffPolicy())
    assert not verdict.verified
    assert verdict.reasons == ["base 'no-such-branch' is not a commit in repo"]


# --- outcomes and choosing -------------------------------------------------------------------

def test_pytest_lines_printed_before_the_real_summary_are_not_believed() -> None:
    output = lines(
        "=========================== short test summary info ============================",
        "PASSED tests/test_a.py::test_b",
        "==================================== PASSES ====================================",
        "=========================== short test summary info ============================",
        "FAILED tests/test_a.py::test_b - assert 1 == 2",
        "PASSED tests/test_a.py::test_c[x y]",
        "ERROR tests/test_d.py - ImportError: nope",
    )
    found = parse_outcomes(output, 1)
    assert found.results == {"tests/test_a.py::test_b": FAILED,
                             "tests/test_a.py::test_c[x y]": PASSED,
                             "tests/test_d.py": "error"}
    assert found.of("tests/test_a.py::test_c") == PASSED
    assert found.of("tests/test_d.py::test_e") == "error"
    assert found.of("tests/test_z.py::test_y") == MISSING


def test_go_test_output_and_the_exit_code_fallback() -> None:
    go = "=== RUN   TestTotal\n--- PASS: TestTotal (0.00s)\n    --- FAIL: TestTotal/empty (0.00s)\n"
    assert parse_outcomes(go, 1).results == {"TestTotal": PASSED, "TestTotal/empty": FAILED}
    assert parse_outcomes(go, 1).of("TestTotal/empty") == FAILED
    assert parse_outcomes("make: *** [test] Error 2", 2).results == {SUITE: FAILED}
    assert parse_outcomes("ok", 0).results == {SUITE: PASSED}


def test_junit_with_a_doctype_is_not_read() -> None:
    xml = ('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><testsuite>'
           '<testcase classname="tests.test_a" name="test_b"/></testsuite>')
    plain = xml.replace('<!DOCTYPE x [<!ENTITY a "b">]>', "")
    assert parse_outcomes("", 1, xml).results == {SUITE: FAILED}
    assert parse_outcomes("", 1, plain).results == {"tests/test_a.py::test_b": PASSED}


def _result(patch: str, verified: bool) -> tuple[Attempt, Verification, int]:
    return Attempt(agent="a", patch=patch), Verification(verified=verified), 0


def test_choose_best_keeps_the_smallest_verified_patch_and_the_first_on_a_tie() -> None:
    one = "--- a/x\n+++ b/x\n@@ -1 +1 @@\n-a\n+b\n"
    three = "--- a/x\n+++ b/x\n@@ -1 +1,2 @@\n-a\n+b\n+c\n"
    big_unverified = _result(one, False)
    first, second, larger = _result(one, True), _result(one, True), _result(three, True)
    assert choose_best([big_unverified, larger, first, second]) is first
    assert choose_best([big_unverified]) is None
    assert choose_best([]) is None


# --- the `suture verify` contract ------------------------------------------------------------

def test_verify_cli_prints_the_json_contract(shop: GitRepoBuilder, tmp_path: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    patch_file = tmp_path / "fix.patch"
    patch_file.write_text(patch_of(shop, {"shop/pricing.py": FIXED_PRICING,
                                          "tests/test_pricing.py": TESTS + REPRO}))
    status = verify_cli(GitWorkspace(shop.path), "main", patch_file, None, True, LocalSandbox())
    printed = json.loads(capsys.readouterr().out)
    assert status == 0
    assert set(printed) == {"verified", "status", "reasons", "reproduction", "suite", "policy",
                            "seconds"}
    assert printed["verified"] is True
    assert printed["reproduction"]["reproduced"] == [REPRO_ID]
    assert printed["suite"]["counts"]["broken"] == 0
    assert printed["policy"]["passed"] is True


def test_verify_cli_exit_status_for_a_refused_and_an_unreadable_patch(
        shop: GitRepoBuilder, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    patch_file = tmp_path / "ci.patch"
    patch_file.write_text(patch_of(shop, {".github/workflows/ci.yml": "on: push\n"}))
    assert verify_cli(GitWorkspace(shop.path), "main", patch_file, None, True, LocalSandbox()) == 1
    printed = json.loads(capsys.readouterr().out)
    assert printed["verified"] is False
    assert printed["policy"]["findings"][0]["rule"] == "ci-file"
    assert verify_cli(GitWorkspace(shop.path), "main", tmp_path / "missing.patch", None, False,
                      LocalSandbox()) == 2
    assert "cannot read the patch" in capsys.readouterr().err
    assert verify_cli(GitWorkspace(shop.path), "main", patch_file, None, False, LocalSandbox()) == 1
    assert capsys.readouterr().out.startswith("NOT verified")


# --- through the real sandbox ----------------------------------------------------------------

def test_verification_through_the_bubblewrap_sandbox(shop: GitRepoBuilder) -> None:
    try:
        module = importlib.import_module("integrations.sandbox")
        sandbox_class = module.BubblewrapSandbox
    except (ImportError, AttributeError):
        pytest.skip("integrations.sandbox.BubblewrapSandbox is not available yet")
    patch = patch_of(shop, {"shop/pricing.py": FIXED_PRICING,
                            "tests/test_pricing.py": TESTS + REPRO})
    verdict = verify_patch(GitWorkspace(shop.path), "main", patch, test_command=None,
                           sandbox=sandbox_class(), policy=DiffPolicy())
    assert verdict.verified, verdict.reasons
    assert verdict.reproduction.reproduced == [REPRO_ID]
