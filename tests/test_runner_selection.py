"""Choosing tests by each runner's rules: which runner a command calls, `{tests}` in its own
selection syntax, which files are test modules (pytest's configured `python_files`, unittest's
and Django's discovery, JS and Go names), and reproduction ids for a test added to a mixin,
named through the classes that inherit it."""

from __future__ import annotations

import difflib
from pathlib import Path

import pytest

from integrations.git import GitWorkspace
from tests.gitrepo import GitRepoBuilder
from tests.support import LocalSandbox
from worker.verify import DiffPolicy, verify_patch
from worker.verify.diffparse import parse_diff
from worker.verify.paths import is_python_test_module, is_test_path
from worker.verify.reproduce import find_reproduction_tests
from worker.verify.runners.commands import expand_tests, runner_of
from worker.verify.runners.testfiles import pytest_python_files, python_test_patterns
from worker.verify.suite import command_for


@pytest.mark.parametrize(("command", "runner"), [
    ("python -m pytest -q {tests}", "pytest"), ("pytest tests", "pytest"),
    ("python -m unittest -v {tests}", "unittest"), ("python -m unittest discover -v", "unittest"),
    ("cd tests && ./runtests.py -v 2 {tests}", "django"),
    ("python manage.py test -v 2 {tests}", "django"), ("go test -v ./... {tests}", "go"),
    ("node --test {tests}", "node"), ("npx jest --ci {tests}", "jest"),
    ("npx vitest run {tests}", "vitest"), ("make check", None),
])
def test_runner_of(command: str, runner: str | None) -> None:
    assert runner_of(command) == runner


@pytest.mark.parametrize(("command", "ids", "expected"), [
    ("python -m pytest -q {tests}", ["tests/test_a.py::test_c[x y]", "tests/test_b.py"],
     "python -m pytest -q 'tests/test_a.py::test_c[x y]' tests/test_b.py"),
    ("python -m unittest -v {tests}",
     ["simplejson/tests/test_float.py::TestFloat::test_floats[1]", "pkg.tests.T.t"],
     "python -m unittest -v simplejson.tests.test_float.TestFloat.test_floats pkg.tests.T.t"),
    ("cd tests && ./runtests.py -v 2 {tests}", ["tests/basic/tests.py::ModelTest::test_hash"],
     "cd tests && ./runtests.py -v 2 basic.tests.ModelTest.test_hash"),
    ("python tests/runtests.py -v 2 {tests}", ["tests/basic/tests.py::ModelTest::test_hash"],
     "python tests/runtests.py -v 2 basic.tests.ModelTest.test_hash"),
    ("python manage.py test {tests}", ["shop/tests.py::CartTest::test_total"],
     "python manage.py test shop.tests.CartTest.test_total"),
    ("go test -v ./... {tests}", ["TestValidate/Invalid_URN_Prefix", "TestParse"],
     "go test -v ./... -run '^(TestValidate|TestParse)$'"),
    ("node --test {tests}", ["test/a.test.js", "test/a.test.js::x > y", "a bare title"],
     "node --test test/a.test.js"),
    ("npx vitest run {tests} --reporter=junit", ["test/join.test.ts::joinURL > x"],
     "npx vitest run test/join.test.ts --reporter=junit"),
    ("npx jest {tests}", [], "npx jest"),
    ("go test -v ./... {tests}", [], "go test -v ./..."),
])
def test_tests_placeholder_in_the_runners_own_syntax(command: str, ids: list[str],
                                                     expected: str) -> None:
    assert command_for(command, ids) == expected
    assert expand_tests(command, ids) == expected


def test_commands_without_the_placeholder_keep_their_behaviour() -> None:
    assert command_for("python -m pytest -q", ["tests/a.py::t"]) == (
        "python -m pytest -q -- tests/a.py::t")
    assert command_for("go test -v ./...", ["TestA"]) == "go test -v ./..."
    assert command_for("python -m pytest -q", []) == "python -m pytest -q"


CONFIGS = {
    "pytest.ini": "[pytest]\npython_files = check_*.py *_spec.py\n",
    "pyproject.toml": '[tool.pytest.ini_options]\npython_files = ["tests.py", "test_*.py"]\n',
    "tox.ini": "[tox]\nenvlist = py311\n[pytest]\npython_files = t_*.py\n",
    "setup.cfg": "[tool:pytest]\npython_files = suite_*.py\n",
}


@pytest.mark.parametrize(("present", "expected"), [
    (["pytest.ini", "pyproject.toml"], ["check_*.py", "*_spec.py"]),
    (["pyproject.toml", "tox.ini"], ["tests.py", "test_*.py"]),
    (["tox.ini", "setup.cfg"], ["t_*.py"]),
    (["setup.cfg"], ["suite_*.py"]),
    ([], None),
])
def test_python_files_from_the_first_pytest_configuration(present: list[str],
                                                          expected: list[str] | None) -> None:
    assert pytest_python_files(lambda path: CONFIGS[path] if path in present else None) \
        == expected


def test_a_pytest_ini_without_python_files_means_the_defaults() -> None:
    configs = {"pytest.ini": "[pytest]\naddopts = -q\n", "setup.cfg": CONFIGS["setup.cfg"]}
    assert pytest_python_files(configs.get) is None
    assert python_test_patterns("pytest", configs.get) == ["test_*.py", "*_test.py"]


@pytest.mark.parametrize(("path", "patterns", "expected"), [
    ("shop/tests.py", None, True), ("shop/testing.py", None, False),
    ("shop/testing.py", ["test*.py"], True), ("app/check_cart.py", ["check_*.py"], True),
    ("app/test_cart.py", ["check_*.py"], False), ("pkg/a_test.py", None, True),
])
def test_python_test_modules_by_the_runners_globs(path: str, patterns: list[str] | None,
                                                  expected: bool) -> None:
    assert is_python_test_module(path, patterns) is expected


@pytest.mark.parametrize(("path", "expected"), [
    ("shop/tests.py", True), ("web/__tests__/cart.js", True), ("web/cart.spec.tsx", True),
    ("pkg/cart_test.go", True), ("shop/cart.py", False),
])
def test_test_paths_of_every_runner(path: str, expected: bool) -> None:
    assert is_test_path(path) is expected


def diff_of(before: dict[str, str], after: dict[str, str]) -> str:
    chunks = []
    for path in sorted(set(before) | set(after)):
        old, new = before.get(path), after.get(path)
        if old == new:
            continue
        lines = difflib.unified_diff((old or "").splitlines(True), (new or "").splitlines(True),
                                     "/dev/null" if old is None else f"a/{path}",
                                     "/dev/null" if new is None else f"b/{path}")
        header = f"diff --git a/{path} b/{path}\n" + ("new file mode 100644\n" if old is None
                                                      else "")
        chunks.append(header + "".join(lines))
    return "".join(chunks)


MIXINS = "class CheckMixin:\n    def helper(self):\n        return 1\n"
MIXINS_AFTER = MIXINS + "\n    def test_empty_cart(self):\n        assert self.total([]) == 0\n"
TESTS = ("from unittest import TestCase\n\nfrom shop.tests.mixins import CheckMixin\n\n\n"
         "class TestCart(CheckMixin, TestCase):\n    def total(self, items):\n"
         "        return sum(items)\n\n\nclass TestOwn(CheckMixin, TestCase):\n"
         "    def test_empty_cart(self):\n        pass\n\n\nclass Unrelated(TestCase):\n"
         "    def test_x(self):\n        pass\n")
LOCAL = ("import unittest\n\n\nclass Base:\n    def test_a(self):\n        pass\n\n\n"
         "class Deeper(Base):\n    pass\n\n\nclass TestLocal(Deeper, unittest.TestCase):\n"
         "    pass\n")


def test_a_test_added_to_a_mixin_is_named_through_the_classes_that_run_it() -> None:
    before = {"shop/tests/mixins.py": MIXINS, "shop/tests/test_cart.py": TESTS}
    after = {**before, "shop/tests/mixins.py": MIXINS_AFTER}
    files = parse_diff(diff_of(before, after))
    ids = find_reproduction_tests(files, after.get, candidates=["shop/tests/test_cart.py"])
    # TestOwn overrides the method, so the added one never runs there
    assert ids == ["shop/tests/test_cart.py::TestCart::test_empty_cart"]
    # without the subclass's module in view there is nothing to name
    assert find_reproduction_tests(files, after.get) == []


def test_a_new_mixin_and_its_subclass_in_the_same_patch_and_module() -> None:
    after = {"tests/test_local.py": LOCAL}
    ids = find_reproduction_tests(parse_diff(diff_of({}, after)), after.get)
    assert ids == ["tests/test_local.py::TestLocal::test_a"]


def test_relative_imports_and_the_repositorys_python_files() -> None:
    mixins = {"app/tests/mixins.py": MIXINS}
    tests = {"app/tests/check_cart.py": TESTS.replace("from shop.tests.mixins", "from .mixins")}
    before = {**mixins, **tests, "pytest.ini": "[pytest]\npython_files = check_*.py\n"}
    after = {**before, "app/tests/mixins.py": MIXINS_AFTER}
    ids = find_reproduction_tests(parse_diff(diff_of(before, after)), after.get,
                                  candidates=list(tests))
    assert ids == ["app/tests/check_cart.py::TestCart::test_empty_cart"]


def test_a_js_test_added_to_an_existing_file_names_the_file() -> None:
    before = {"web/cart.test.js": "test('sums', () => {});\n"}
    after = {"web/cart.test.js": before["web/cart.test.js"] + "test('empty', () => {});\n"}
    assert find_reproduction_tests(parse_diff(diff_of(before, after)), after.get) == [
        "web/cart.test.js"]


PRICING = "def average(prices):\n    return sum(prices) // len(prices)\n"
FIXED = "def average(prices):\n    return sum(prices) // len(prices) if prices else 0\n"
UNIT_MIXINS = ("class AverageChecks:\n    def test_two(self):\n"
               "        self.assertEqual(self.average([2, 4]), 3)\n")
UNIT_MIXINS_AFTER = UNIT_MIXINS + ("\n    def test_empty_cart(self):\n"
                                   "        self.assertEqual(self.average([]), 0)\n")
UNIT_TESTS = ("import unittest\n\nfrom shop.pricing import average\n"
              "from tests.checks import AverageChecks\n\n\n"
              "class TestAverage(AverageChecks, unittest.TestCase):\n"
              "    def average(self, prices):\n        return average(prices)\n")


def test_a_unittest_project_is_verified_through_a_mixin_with_tests_placeholder(
        tmp_path: Path) -> None:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"shop/__init__.py": "", "shop/pricing.py": PRICING, "tests/__init__.py": "",
                 "tests/checks.py": UNIT_MIXINS, "tests/test_average.py": UNIT_TESTS}, "Prices")
    patch = diff_of({"shop/pricing.py": PRICING, "tests/checks.py": UNIT_MIXINS},
                    {"shop/pricing.py": FIXED, "tests/checks.py": UNIT_MIXINS_AFTER})
    sandbox = LocalSandbox()
    verdict = verify_patch(GitWorkspace(repo.path), "main", patch, sandbox=sandbox,
                           policy=DiffPolicy(), test_command="python -m unittest -v {tests}",
                           expected_error="ZeroDivisionError")
    repro = "tests/test_average.py::TestAverage::test_empty_cart"
    assert verdict.verified, verdict.reasons
    assert verdict.reproduction.reproduced == [repro]
    assert verdict.suite.base is not None and verdict.suite.base.parser == "unittest"
    assert verdict.suite.counts.passed_on_base == 1
    commands = [run.command for run in (verdict.reproduction.base, verdict.suite.base) if run]
    assert commands == ["python -m unittest -v tests.test_average.TestAverage.test_empty_cart",
                        "python -m unittest -v"]
