"""Per-test outcomes read from real output of real projects' test runs (tests/fixtures/runners,
README there names each project, version and command): pytest, unittest on Python 3.10 and
3.11, Django's runtests.py, go test -v and -json, node's TAP and spec reporters, and JUnit XML
from pytest, go-junit-report, vitest and jest-junit; plus how an id is looked up across
runners' naming."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from worker.verify.outcomes import (
    ERROR,
    FAILED,
    MISSING,
    PASSED,
    SKIPPED,
    Outcomes,
    parse_outcomes,
)
from worker.verify.runners.reports import report_texts

FIXTURES = Path(__file__).parent / "fixtures" / "runners"


def text(name: str) -> str:
    return (FIXTURES / name).read_text("utf-8")


def red_and_skipped(found: Outcomes) -> dict[str, str]:
    return {k: o for k, o in found.results.items() if o != PASSED}


def test_pytest_summary_and_verbose_skips_from_markupsafe() -> None:
    found = parse_outcomes(text("pytest-markupsafe.txt"), 1)
    assert found.parser == "pytest"
    assert found.counts() == {PASSED: 36, FAILED: 1, SKIPPED: 37}
    failed = "tests/test_markupsafe.py::test_escaping[markupsafe._native]"
    assert found.results[failed] == FAILED
    assert found.message(failed).startswith("AssertionError: assert 'Foo & Bar \\n ' ==")
    assert found.results["tests/test_markupsafe.py::test_adding[None]"] == SKIPPED
    assert found.results["tests/test_escape.py::test_proxy[markupsafe._native]"] == PASSED
    # the parametrised test as a whole is its worst case
    assert found.of("tests/test_markupsafe.py::test_escaping") == FAILED
    assert found.of("tests/test_markupsafe.py::test_mul") == SKIPPED


@pytest.mark.parametrize("name", ["junit-pytest-markupsafe-xunit1.xml",
                                  "junit-pytest-markupsafe-xunit2.xml"])
def test_pytest_junit_gives_the_same_node_ids(name: str) -> None:
    from_text = parse_outcomes(text("pytest-markupsafe.txt"), 1)
    found = parse_outcomes("", 1, text(name))
    assert found.parser == "junit"
    assert found.results == from_text.results


@pytest.mark.parametrize("name", ["unittest-simplejson-py310.txt",
                                  "unittest-simplejson-py311.txt"])
def test_unittest_verbose_in_both_label_forms(name: str) -> None:
    found = parse_outcomes(text(name), 1)
    assert found.parser == "unittest"
    assert found.counts() == {PASSED: 5, FAILED: 1, ERROR: 2, SKIPPED: 28}
    float_tests = "simplejson.tests.test_float.TestFloat"
    assert red_and_skipped(found) == {
        **{k: SKIPPED for k in found.results if ".test_speedups." in k},
        f"{float_tests}.test_degenerates_allow": ERROR,
        f"{float_tests}.test_degenerates_deny_message": FAILED,
        "test_nope": ERROR,
    }
    assert found.results[f"{float_tests}.test_floats"] == PASSED
    assert found.results["simplejson.tests.test_speedups.TestDecode.test_make_scanner"] == SKIPPED
    assert found.message(f"{float_tests}.test_degenerates_deny_message").startswith(
        "AssertionError: 'Out of range float values are not JSON-compliant: inf' != ")
    assert found.message(f"{float_tests}.test_degenerates_allow").startswith(
        "simplejson.errors.JSONDecodeError: Expecting value")
    # the module that failed to import, named as it was asked for on the command line
    assert found.message("test_nope") == (
        "ModuleNotFoundError: No module named 'simplejson.tests.test_nope'")


def test_unittest_results_answer_for_pytest_node_ids() -> None:
    found = parse_outcomes(text("unittest-simplejson-py311.txt"), 1)
    node = "simplejson/tests/test_float.py::TestFloat::test_degenerates_deny_message"
    assert found.of(node) == FAILED
    assert found.of("simplejson/tests/test_float.py::TestFloat") == ERROR  # its worst test
    assert found.of("simplejson/tests/test_float.py::TestFloat::test_floats") == PASSED
    assert found.of("simplejson/tests/test_float.py::TestFloat::test_nothing") == MISSING
    # every test of a module that failed to import is red with it
    assert found.of("simplejson/tests/test_nope.py::TestX::test_y") == ERROR


def test_django_runtests_verbose_output() -> None:
    found = parse_outcomes(text("django-runtests-basic.txt"), 1)
    assert found.parser == "unittest"
    assert found.counts() == {PASSED: 74, FAILED: 1, ERROR: 1, SKIPPED: 3}
    assert red_and_skipped(found) == {
        "no_such_app": ERROR,
        "basic.tests.ModelRefreshTests.test_refresh_for_update": SKIPPED,
        # printed as its docstring's first line, the word after it
        "basic.tests.ConcurrentSaveTests.test_concurrent_delete_with_save": SKIPPED,
        "basic.tests.ModelTest.test_emptyqs_distinct": SKIPPED,
        "basic.tests.ModelTest.test_hash": FAILED,
    }
    assert found.results["basic.tests.ModelLookupTest.test_all_lookup"] == PASSED
    # runtests.py runs inside tests/: the repository path maps onto its label
    assert found.of("tests/basic/tests.py::ModelTest::test_hash") == FAILED
    assert found.of("tests/basic/tests.py::ModelLookupTest::test_all_lookup") == PASSED
    assert found.of("tests/no_such_app/tests.py::T::test_x") == ERROR


@pytest.mark.parametrize(("name", "parser", "passed"), [
    ("go-uuid-v.txt", "go", 210), ("go-uuid-json.txt", "go-json", 12)])
def test_go_test_verbose_and_json(name: str, parser: str, passed: int) -> None:
    found = parse_outcomes(text(name), 1)
    assert found.parser == parser
    assert red_and_skipped(found) == {"TestClockSeqRace": SKIPPED, "TestValidate": FAILED,
                                      "TestValidate/Invalid_URN_Prefix": FAILED}
    assert found.counts()[PASSED] == passed
    assert found.results["TestGetTime/it_should_return_the_current_time"] == PASSED
    assert found.of("TestValidate") == FAILED


def test_go_json_keeps_what_the_failing_test_logged() -> None:
    found = parse_outcomes(text("go-uuid-json.txt"), 1)
    assert found.message("TestValidate/Invalid_URN_Prefix").startswith(
        'uuid_test.go:631: Validate("urn:test:123e4567-e89b-12d3-a456-426655440000") = '
        'invalid URN prefix: "urn:test:"')


def test_go_junit_report_uses_go_test_names() -> None:
    found = parse_outcomes("", 1, text("junit-go-junit-report-uuid.xml"))
    assert found.results == parse_outcomes(text("go-uuid-v.txt"), 1).results


@pytest.mark.parametrize(("name", "parser"), [("node-tap-fastify-error.txt", "node-tap"),
                                              ("node-spec-fastify-error.txt", "node-spec")])
def test_node_test_runner_tap_and_spec(name: str, parser: str) -> None:
    found = parse_outcomes(text(name), 1)
    assert found.parser == parser
    assert found.counts() == {PASSED: 16, FAILED: 1, SKIPPED: 12}
    assert found.results["FastifyError.toString returns code"] == FAILED
    assert found.results["Create error with zero parameter"] == PASSED
    assert found.results["Should throw when error code has no message"] == SKIPPED


def test_node_tap_failure_message() -> None:
    found = parse_outcomes(text("node-tap-fastify-error.txt"), 1)
    assert found.message("FastifyError.toString returns code") == (
        "'FastifyError [CODE] foo' == 'FastifyError [CODE]: foo'")


def test_vitest_junit_names_the_file() -> None:
    found = parse_outcomes("", 1, text("junit-vitest-ufo.xml"))
    assert found.counts() == {PASSED: 43, FAILED: 2, SKIPPED: 45}
    file = "test/trailing-slash.test.ts"
    assert {k: o for k, o in found.results.items() if o == FAILED} == {
        f"{file}::withTrailingSlash, queryParams: false > falsy value": FAILED,
        f"{file}::withTrailingSlash, queryParams: true > falsy value": FAILED}
    assert found.results[f"{file}::withTrailingSlash, queryParams: false > bar"] == PASSED
    assert found.results['test/join.test.ts::joinURL > joinURL("/a") === "/a"'] == SKIPPED
    # a test file as a whole: its worst test
    assert found.of(file) == FAILED
    assert found.of("test/join.test.ts") == SKIPPED


def test_jest_junit_with_and_without_the_file_attribute() -> None:
    plain = parse_outcomes("", 1, text("junit-jest-junit.xml"))
    with_file = parse_outcomes("", 1, text("junit-jest-junit-file-attribute.xml"))
    failed = "getUniqueOutputName should return default junit value if given no preferred prefix"
    assert plain.counts() == with_file.counts() == {PASSED: 3, FAILED: 1, SKIPPED: 4}
    assert plain.results[failed] == FAILED
    assert plain.results["replace <rootDir> should not replace when rootDir is null"] == SKIPPED
    assert with_file.results[f"__tests__/getOptions.test.js::{failed}"] == FAILED
    assert with_file.of("__tests__/getOptions.test.js") == FAILED
    assert with_file.of("__tests__/getTestSuitePropertiesPath.test.js") == SKIPPED


def test_surefire_style_report_gives_class_and_method() -> None:
    xml = ('<testsuite name="com.x.FooTest" tests="3"><properties>'
           '<property name="java.version" value="17"/></properties>'
           '<testcase name="works()" classname="com.x.FooTest"/>'
           '<testcase name="fails" classname="com.x.FooTest"><failure message="boom"/></testcase>'
           '<testcase name="later" classname="com.x.FooTest"><skipped/></testcase></testsuite>')
    found = parse_outcomes("", 1, [xml])
    assert found.results == {"com.x.FooTest.works": PASSED, "com.x.FooTest.fails": FAILED,
                             "com.x.FooTest.later": SKIPPED}
    assert found.of("com.x.FooTest") == FAILED


def test_reports_are_tried_before_text_and_text_parsers_in_order() -> None:
    go = text("go-uuid-v.txt")
    assert parse_outcomes(go, 1, text("junit-vitest-ufo.xml")).parser == "junit"
    assert parse_outcomes(go, 1, "<not-xml").parser == "go"
    assert parse_outcomes(text("pytest-markupsafe.txt") + go, 1).parser == "pytest"


def test_reports_named_by_the_command_are_found(tmp_path: Path) -> None:
    for name in ("out.xml", "reports/vitest.xml", "jj/junit.xml", "jj/custom.xml", "go.xml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(f"<{name.replace('/', '-')}/>")
    (tmp_path / "link.xml").symlink_to(tmp_path / "out.xml")
    assert report_texts(tmp_path, "pytest --junitxml=out.xml") == ["<out.xml/>"]
    assert report_texts(tmp_path, "npx vitest run --reporter=junit "
                                  "--outputFile.junit=reports/vitest.xml") == [
        "<reports-vitest.xml/>"]
    assert report_texts(tmp_path, "JEST_JUNIT_OUTPUT_DIR=jj npx jest --reporters=jest-junit") \
        == ["<jj-junit.xml/>"]
    assert report_texts(tmp_path, "JEST_JUNIT_OUTPUT_DIR=jj JEST_JUNIT_OUTPUT_NAME=custom.xml "
                                  "npx jest") == ["<jj-custom.xml/>"]
    assert report_texts(tmp_path, "go test -v ./... 2>&1 | go-junit-report > go.xml") == [
        "<go.xml/>"]
    assert report_texts(tmp_path, "pytest --junitxml=link.xml") == []
    assert report_texts(tmp_path, "pytest --junitxml=../out.xml") == []


def test_only_surefire_reports_written_after_the_checkout_are_read(tmp_path: Path) -> None:
    reports = tmp_path / "core" / "target" / "surefire-reports"
    reports.mkdir(parents=True)
    (tmp_path / "core" / "pom.xml").write_text("<project/>")
    checked_out = (tmp_path / "core" / "pom.xml").stat().st_mtime
    (reports / "TEST-a.ATest.xml").write_text("<fresh/>")
    (reports / "TEST-a.BTest.xml").write_text("<stale/>")
    os.utime(reports / "TEST-a.ATest.xml", (checked_out + 5, checked_out + 5))
    os.utime(reports / "TEST-a.BTest.xml", (checked_out, checked_out))
    assert report_texts(tmp_path, "mvn -q test") == ["<fresh/>"]
    assert report_texts(tmp_path, "gradle test") == []
