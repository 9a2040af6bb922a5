"""Reading per-test outcomes out of a test run's output (pure).

Sources are tried in order of how much they can be trusted to mean what they say, and the first
that reports any test is used: JUnit XML reports the command wrote (`runners.junit`), pytest's
`-rA` short summary (`runners.pytest_text`), `go test -json` events (`runners.gotest`),
unittest's and Django's verbose result lines (`runners.unittest_text`), node's TAP and `spec`
output (`runners.nodetest`), and `go test -v` result lines. When none is found the whole run is
one pseudo-test, `<suite>`, passed exactly when the command exited 0. Each runner's module says
how it names tests; `Outcomes.of` finds a test under any of those names.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from worker.verify.runners.gotest import parse_go_json, parse_go_verbose
from worker.verify.runners.junit import parse_junit
from worker.verify.runners.model import (
    ERROR,
    FAILED,
    MISSING,
    PASSED,
    RED,
    SKIPPED,
    SUITE,
    XFAIL,
    XPASS,
    Outcomes,
)
from worker.verify.runners.nodetest import parse_node_spec, parse_node_tap
from worker.verify.runners.pytest_text import parse_pytest
from worker.verify.runners.unittest_text import parse_unittest

__all__ = ["ERROR", "FAILED", "MISSING", "PASSED", "RED", "SKIPPED", "SUITE", "XFAIL", "XPASS",
           "Outcomes", "parse_outcomes"]

_TEXT_PARSERS: tuple[Callable[[str], Outcomes | None], ...] = (
    parse_pytest, parse_go_json, parse_unittest, parse_node_tap, parse_node_spec,
    parse_go_verbose,
)


def parse_outcomes(output: str, exit_code: int,
                   junit_xml: str | Sequence[str] | None = None) -> Outcomes:
    """The per-test outcomes a run reports, best source first. `junit_xml` is the text of the
    JUnit report the command wrote, or of each of several (one Surefire file per class)."""
    reports = [junit_xml] if isinstance(junit_xml, str) else list(junit_xml or [])
    parsed = parse_junit(reports)
    if parsed is not None and parsed.results:
        return parsed
    for parse in _TEXT_PARSERS:
        parsed = parse(output)
        if parsed is not None and parsed.results:
            return parsed
    fallback = Outcomes()
    fallback.record(SUITE, PASSED if exit_code == 0 else FAILED)
    return fallback
