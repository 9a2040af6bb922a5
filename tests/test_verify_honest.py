"""Honest verdicts: tests that did not run can neither verify a patch nor blame it.

A real small repository whose tests import a package the sandbox does not have (as a real
application's tests do before its environment is built), a test command that reports no test,
and a repository with no tests at all, each verified for real in the sandbox.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from integrations.git import GitWorkspace
from tests.gitrepo import GitRepoBuilder, lines
from tests.support import LocalSandbox
from tests.test_verify import FIXED_PRICING, PRICING, REPRO, TESTS, patch_of
from worker.cli.verify import CANNOT_VERIFY, verify_cli
from worker.fix.models import VerdictStatus, Verification
from worker.verify import DiffPolicy, verify_patch
from worker.verify.outcomes import parse_outcomes
from worker.verify.suite import count_ran

# A dependency the application declares and the sandbox has not installed.
NEEDS_PENDULUM = "import pendulum  # noqa: F401\n" + TESTS


def verify(repo: GitRepoBuilder, patch: str, **options: object) -> Verification:
    options.setdefault("test_command", None)
    return verify_patch(GitWorkspace(repo.path), "main", patch, sandbox=LocalSandbox(),
                        policy=DiffPolicy(), expected_error="ZeroDivisionError",
                        **options)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> GitRepoBuilder:
    repo = GitRepoBuilder(tmp_path_factory.mktemp("app") / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": PRICING,
                 "tests/test_pricing.py": NEEDS_PENDULUM}, "Prices, tests need pendulum")
    return repo


def test_a_suite_that_cannot_import_its_dependencies_could_not_verify(app) -> None:
    patch = patch_of(app, {"shop/pricing.py": FIXED_PRICING,
                           "tests/test_pricing.py": NEEDS_PENDULUM + REPRO})
    verdict = verify(app, patch)
    assert not verdict.verified and verdict.status == VerdictStatus.UNVERIFIABLE
    assert verdict.suite.counts.ran_on_base == 0
    assert any("could not be loaded" in r and "pendulum" in r for r in verdict.reasons), \
        verdict.reasons
    assert any(r.startswith("reproduction test did not run: tests/test_pricing.py::")
               for r in verdict.reasons), verdict.reasons


def test_a_reproduction_that_runs_does_not_make_up_for_a_suite_that_did_not(app) -> None:
    own_module = "from shop.pricing import average\n" + REPRO
    patch = patch_of(app, {"shop/pricing.py": FIXED_PRICING,
                           "tests/test_empty_cart.py": own_module})
    verdict = verify(app, patch)
    assert verdict.reproduction.reproduced == [
        "tests/test_empty_cart.py::test_average_of_an_empty_cart"]
    assert verdict.status == VerdictStatus.UNVERIFIABLE and not verdict.verified
    assert verdict.suite.unusable.startswith("no test ran on base: 1 test module(s) could not")


def test_a_test_command_that_reports_no_test_could_not_verify(tmp_path: Path) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": PRICING,
                 "tests/test_pricing.py": TESTS}, "Prices")
    patch = patch_of(repo, {"shop/pricing.py": FIXED_PRICING,
                            "tests/test_pricing.py": TESTS + REPRO})
    verdict = verify(repo, patch, test_command="true")
    assert verdict.status == VerdictStatus.UNVERIFIABLE
    assert verdict.reproduction.not_run and "not reported" in verdict.reproduction.not_run[0]
    patch_file = tmp_path / "fix.patch"
    patch_file.write_text(patch)
    assert verify_cli(GitWorkspace(repo.path), "main", patch_file, "true", True,
                      LocalSandbox()) == CANNOT_VERIFY


def test_a_repository_without_tests_is_verified_by_its_reproduction_alone(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": PRICING}, "Prices, no tests")
    first_test = lines("from shop.pricing import average") + REPRO
    patch = patch_of(repo, {"shop/pricing.py": FIXED_PRICING, "tests/test_pricing.py": first_test})
    verdict = verify(repo, patch)
    assert verdict.status == VerdictStatus.VERIFIED, verdict.reasons
    assert verdict.suite.note.startswith("the repository has no tests on base")
    patch_file = tmp_path / "fix.patch"
    patch_file.write_text(patch)
    assert verify_cli(GitWorkspace(repo.path), "main", patch_file, None, True,
                      LocalSandbox()) == 0
    assert json.loads(capsys.readouterr().out)["status"] == "verified"


def test_a_module_unittest_could_not_import_is_a_load_error_not_a_test_that_ran() -> None:
    output = (Path(__file__).parent / "fixtures" / "runners" / "django-runtests-basic.txt")
    outcomes = parse_outcomes(output.read_text(), 1)
    assert outcomes.parser == "unittest"
    assert "no_such_app" in outcomes.load_errors
    assert outcomes.did_not_load("no_such_app.tests.Check.test_x")
    assert not outcomes.did_not_load(next(t for t in outcomes.results if t.startswith("basic.")))
    assert count_ran(outcomes) == len(outcomes.results) - 1 - outcomes.counts().get("skipped", 0)
