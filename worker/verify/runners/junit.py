"""JUnit XML reports in the dialects common runners write (pure).

Every dialect is `testsuites/testsuite/testcase` with a `failure`, `error` or `skipped` child;
what differs is what `classname`, `name` and `file` hold, so the id of a test case is chosen
to be the id the same runner's other output (and the patch) would give it:

- pytest (`--junitxml`): `classname="tests.test_a.TestC" name="t[x]"`, with `file` under
  `junit_family=xunit1`: the pytest node id `tests/test_a.py::TestC::t[x]`.
- Go (go-junit-report): `classname` is the package path and `name` the test: the bare test name
  (`TestParse/empty`), as `go test -v` and `-json` give it, so reproduction ids from
  `func TestX` lines match every Go source alike.
- vitest (`--reporter=junit`): `classname` is the test file: `test/a.test.ts::describe > test`.
- jest-junit: `file` (with `addFileAttribute`) gives `file::name`; by default `classname` and
  `name` are both the title path, which is the id.
- Maven Surefire (`TEST-*.xml`, one class per file) and other Java reports: the class and
  method, `com.x.FooTest.testBar`, as `-Dtest=` takes them; JUnit 5's trailing `()` is dropped.
A file path is the id's file part whenever the report gives one, because the patch names tests
by file: `of("test/a.test.ts")` then covers every test in it.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Iterable

from worker.verify.runners.model import ERROR, FAILED, PASSED, SKIPPED, Outcomes

_MAX_XML = 20_000_000
_GO_NAME = re.compile(r"^(?:Test|Example|Fuzz|Benchmark)(?![a-z])")
_GO_PACKAGE = re.compile(r"^[a-z0-9_.\-~]+(?:/[\w.\-~]+)*$")
_JS_FILE = re.compile(r"\.[cm]?[jt]sx?$")
_DOTTED = re.compile(r"^[A-Za-z_][\w]*(?:\.[A-Za-z_$][\w$]*)*$")
_PY_NAME = re.compile(r"^[A-Za-z_]\w*(?:\[.*\])?$")


def parse_junit(texts: Iterable[str | None]) -> Outcomes | None:
    """Outcomes from JUnit XML reports (several, e.g. one Surefire file per class), or None
    when none of them is a readable report."""
    found = Outcomes(parser="junit")
    read = False
    for text in texts:
        root = _root(text)
        if root is None:
            continue
        read = True
        suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite")) or [root]
        for suite in suites:
            java = any((p.get("name") or "").startswith("java.") for p in suite.iter("property"))
            for case in suite.findall("testcase"):
                outcome, message = _outcome(case)
                found.record(case_id(case.get("classname") or "", case.get("name") or "",
                                     case.get("file") or "", suite.get("name") or "", java),
                             outcome, message)
    return found if read else None


def case_id(classname: str, name: str, file: str = "", suite: str = "",
            java: bool = False) -> str:
    """The id of one test case, by the dialect its attributes show (see the module doc)."""
    if _GO_NAME.match(name) and _GO_PACKAGE.match(classname) and not file:
        return name
    if file and not file.endswith(".py"):
        return f"{file}::{name}"
    if _JS_FILE.search(classname):
        return f"{classname}::{name}"
    if classname == name or not classname:
        return name
    if java or (suite == classname and suite != "pytest" and _DOTTED.match(classname)):
        return f"{classname}.{name.removesuffix('()')}"
    if _DOTTED.match(classname) and _PY_NAME.match(name):
        return _python_id(classname, name, file)
    return f"{classname}::{name}"


def _python_id(classname: str, name: str, file: str) -> str:
    """A pytest JUnit name as a node id: `a.test_b.TestC`, `t` -> `a/test_b.py::TestC::t`."""
    parts = classname.split(".")
    if file.endswith(".py"):
        module = file[:-3].replace("/", ".").split(".")
        inner = parts[len(module):] if parts[:len(module)] == module else []
        return "::".join([file, *inner, name])
    classes: list[str] = []
    while parts and parts[-1][:1].isupper():
        classes.insert(0, parts.pop())
    module_path = "/".join(parts) + ".py" if parts else ""
    return "::".join(p for p in (module_path, *classes, name) if p)


def _outcome(case: ElementTree.Element) -> tuple[str, str]:
    for child, kind in (("error", ERROR), ("failure", FAILED), ("skipped", SKIPPED)):
        node = case.find(child)
        if node is not None:
            message = node.get("message") or next(iter((node.text or "").strip().splitlines()), "")
            return kind, message[:500]
    return PASSED, ""


def _root(text: str | None) -> ElementTree.Element | None:
    # Reports are written by the code under test: no DTDs or entities, and a size cap.
    if not text or len(text) > _MAX_XML or "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None
    try:
        return ElementTree.fromstring(text)
    except (ElementTree.ParseError, ValueError):
        return None
