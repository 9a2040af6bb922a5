"""Reading per-test outcomes out of a test run's output (pure).

Runners are recognised in order of how much they can be trusted to mean what they say: a JUnit
XML report (when the command writes one), pytest's `-rA` short summary (only after the last
`short test summary info` header, so a test printing `PASSED x` earlier is not believed), and
`go test -v` result lines. When none is found the whole run is one pseudo-test, `<suite>`,
passed exactly when the command exited 0. Test ids are pytest node ids, Go test names, or
`classname::name` from JUnit.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field

PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
XFAIL, XPASS, MISSING = "xfailed", "xpassed", "missing"
SUITE = "<suite>"
RED = frozenset({FAILED, ERROR})
# When one id is reported twice (a pass, then a teardown error) the worse outcome stands.
_RANK = {ERROR: 6, FAILED: 5, XPASS: 4, MISSING: 3, SKIPPED: 2, XFAIL: 1, PASSED: 0}
_SUMMARY = re.compile(r"^=+ short test summary info =+\s*$", re.MULTILINE)
_PYTEST_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (.+?)(?: - (.*))?$")
_PYTEST_WORDS = {"PASSED": PASSED, "FAILED": FAILED, "ERROR": ERROR, "XFAIL": XFAIL,
                 "XPASS": XPASS}
_GO_LINE = re.compile(r"^[ \t]*--- (PASS|FAIL|SKIP): (\S+) \(", re.MULTILINE)
_GO_WORDS = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED}
_MAX_XML = 20_000_000


@dataclass
class Outcomes:
    """What one run says about each test: id -> outcome, id -> failure message, and the parser."""

    results: dict[str, str] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    parser: str = "exit-code"

    def record(self, test_id: str, outcome: str, message: str = "") -> None:
        """Add one result, keeping the worse of two for the same id."""
        old = self.results.get(test_id)
        if old is None or _RANK[outcome] > _RANK[old]:
            self.results[test_id] = outcome
            if message:
                self.messages[test_id] = message

    def counts(self) -> dict[str, int]:
        """How many tests had each outcome."""
        counts: dict[str, int] = {}
        for outcome in self.results.values():
            counts[outcome] = counts.get(outcome, 0) + 1
        return counts

    def of(self, test_id: str) -> str:
        """The outcome of `test_id`: exact, or the worst over its parametrisations, subtests or
        methods, or its file's collection error; MISSING when the run never mentions it."""
        if test_id in self.results:
            return self.results[test_id]
        found = [o for k, o in self.results.items() if _covers(test_id, k)]
        if not found:
            file = test_id.split("::", 1)[0]
            found = [o for k, o in self.results.items() if k == file and o in RED]
        return max(found, key=_RANK.__getitem__) if found else MISSING

    def message(self, test_id: str) -> str:
        """The failure message recorded for `test_id` (or its variants), if any."""
        if test_id in self.messages:
            return self.messages[test_id]
        file = test_id.split("::", 1)[0]
        return next((m for k, m in self.messages.items() if _covers(test_id, k) or k == file), "")


def parse_outcomes(output: str, exit_code: int, junit_xml: str | None = None) -> Outcomes:
    """The per-test outcomes a run's output reports, best source first."""
    for parsed in (_junit(junit_xml), _pytest(output), _go(output)):
        if parsed is not None and parsed.results:
            return parsed
    fallback = Outcomes()
    fallback.record(SUITE, PASSED if exit_code == 0 else FAILED)
    return fallback


def _covers(wanted: str, reported: str) -> bool:
    """Whether `reported` is one case of `wanted` (`t[1]` of `t`, `C::t` of `C`, `T/sub` of
    `T`), or the same test reported relative to a deeper directory."""
    if reported.startswith(wanted) and reported[len(wanted):][:1] in ("[", ":", "/"):
        return True
    return "::" in reported and wanted.endswith("/" + reported)


def _pytest(output: str) -> Outcomes | None:
    headers = list(_SUMMARY.finditer(output))
    if not headers:
        return None
    found = Outcomes(parser="pytest")
    for line in output[headers[-1].end():].splitlines():
        match = _PYTEST_LINE.match(line.rstrip("\r"))
        if match:
            found.record(match.group(2), _PYTEST_WORDS[match.group(1)], match.group(3) or "")
    return found


def _go(output: str) -> Outcomes | None:
    found = Outcomes(parser="go")
    for match in _GO_LINE.finditer(output):
        found.record(match.group(2), _GO_WORDS[match.group(1)])
    return found


def _junit(text: str | None) -> Outcomes | None:
    # Reports are written by the code under test: no DTDs or entities, and a size cap.
    if not text or len(text) > _MAX_XML or "<!DOCTYPE" in text or "<!ENTITY" in text:
        return None
    try:
        root = ElementTree.fromstring(text)
    except (ElementTree.ParseError, ValueError):
        return None
    found = Outcomes(parser="junit")
    for case in root.iter("testcase"):
        name = case.get("name") or ""
        outcome, message = PASSED, ""
        for child, kind in (("error", ERROR), ("failure", FAILED), ("skipped", SKIPPED)):
            node = case.find(child)
            if node is not None:
                outcome, message = kind, node.get("message") or ""
                break
        found.record(_junit_id(case.get("classname") or "", name), outcome, message)
    return found


def _junit_id(classname: str, name: str) -> str:
    """A pytest JUnit name as a node id: `a.test_b.TestC`, `t` -> `a/test_b.py::TestC::t`."""
    parts = classname.split(".") if classname else []
    classes: list[str] = []
    while parts and parts[-1][:1].isupper():
        classes.insert(0, parts.pop())
    module = "/".join(parts) + ".py" if parts else ""
    return "::".join(p for p in (module, *classes, name) if p)
