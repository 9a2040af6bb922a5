"""unittest's verbose output, as `python -m unittest -v` and Django's test runner
(`runtests.py -v 2`, `manage.py test -v 2`) print it (pure).

A result line is `test_x (pkg.module.Class) ... ok` before Python 3.11 and
`test_x (pkg.module.Class.test_x) ... ok` from 3.11; a test with a docstring puts its first
line between the two (`test_x (label)` then `Does a thing ... ok`), and output a test prints
can push the word onto a later line. Failures are confirmed by the `FAIL: ...`/`ERROR: ...`
headers of the report, whose last exception line becomes the message. Ids are dotted labels,
`pkg.module.Class.test_x`, as `python -m unittest` accepts them back. A module that fails to
import is reported as `unittest.loader._FailedTest`, named by what was asked for (`app.tests`
when discovered, the last part of a dotted name given on the command line); it is recorded
under that name, so it counts as the failure of every test below it. `setUpClass` and
`setUpModule` errors are recorded under their class or module the same way. The output is
only read when it has unittest's closing `Ran N tests` line.
"""

from __future__ import annotations

import re

from worker.verify.runners.model import (
    ERROR,
    FAILED,
    PASSED,
    SKIPPED,
    XFAIL,
    XPASS,
    Outcomes,
)

_RAN = re.compile(r"^Ran \d+ tests? in ", re.MULTILINE)
_HEAD = re.compile(r"^(?P<name>\w+) \((?P<label>[\w.]+)\)(?: \((?P<sub>[^)]*)\))?"
                   r"(?P<rest>.*)$")
_WORD = re.compile(r"(?:^|\s\.\.\. )(?P<word>ok|FAIL|ERROR|skipped\b.*|expected failure"
                   r"|unexpected success)\s*$")
_REPORT = re.compile(r"^(?P<kind>FAIL|ERROR|UNEXPECTED SUCCESS): (?P<name>\w+) "
                     r"\((?P<label>[\w.]+)\)")
_EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(?:Error|Exception|Failure|Exit|Interrupt|Warning)\b")
_WORDS = {"ok": PASSED, "FAIL": FAILED, "ERROR": ERROR, "expected failure": XFAIL,
          "unexpected success": XPASS}
_FIXTURES = frozenset({"setUpClass", "tearDownClass", "setUpModule", "tearDownModule"})
_FAILED_IMPORT = ("unittest.loader._FailedTest", "unittest.loader.ModuleImportFailure")
_LOOKAHEAD = 3


def parse_unittest(output: str) -> Outcomes | None:
    """Outcomes from unittest's verbose output, or None when it is not there."""
    if not _RAN.search(output):
        return None
    found = Outcomes(parser="unittest")
    lines = [line.rstrip("\r") for line in output.splitlines()]
    messages = _report_messages(lines)
    for index, line in enumerate(lines):
        head = _HEAD.match(line)
        if head is None or line.startswith(("FAIL: ", "ERROR: ")):
            continue
        word = _word_after(head.group("rest"), lines[index + 1:index + 1 + _LOOKAHEAD])
        if word is None:
            continue
        name, label = head.group("name"), head.group("label")
        test_id = test_label(name, label)
        outcome = SKIPPED if word.startswith("skipped") else _WORDS[word]
        found.record(test_id, outcome, messages.get(test_id, (outcome, ""))[1],
                     load_error=label.startswith(_FAILED_IMPORT) or name in _FIXTURES)
    for test_id, (kind, message) in messages.items():
        found.record(test_id, kind, message)
    return found


def test_label(name: str, label: str) -> str:
    """The dotted id of the test `name (label)` as unittest prints it, any Python version."""
    if label.startswith(_FAILED_IMPORT):
        return name
    if name in _FIXTURES:
        return label
    return label if label.endswith("." + name) else f"{label}.{name}"


def _word_after(rest: str, following: list[str]) -> str | None:
    """The result word on the head line, or on the docstring or output lines after it."""
    if " ... " in rest or rest.endswith(" ..."):
        match = _WORD.search(rest)
        if match:
            return match.group("word")
        # The test printed something after `...`: the word comes alone on a later line.
        return next((line.strip() for line in following if line.strip() in _WORDS), None)
    for line in following:
        if _HEAD.match(line):
            return None
        match = _WORD.search(line)
        if match and (" ... " in line or line.strip() in _WORDS):
            return match.group("word")
    return None


def _report_messages(lines: list[str]) -> dict[str, tuple[str, str]]:
    """id -> (outcome, message) from the `FAIL:`/`ERROR:` blocks after the run."""
    found: dict[str, tuple[str, str]] = {}
    current: str | None = None
    kind = ERROR
    for line in lines:
        match = _REPORT.match(line)
        if match:
            current = test_label(match.group("name"), match.group("label"))
            kind = {"FAIL": FAILED, "ERROR": ERROR}.get(match.group("kind"), XPASS)
            found[current] = (kind, found.get(current, (kind, ""))[1])
        elif line.startswith(("=" * 20, "Ran ")):
            current = None
        elif current is not None and _EXCEPTION.match(line):
            found[current] = (kind, line.strip()[:500])
    return found
