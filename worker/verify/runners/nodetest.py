"""Node's built-in test runner (`node --test`): its TAP output (the default on Node 20 when
the output is not a terminal) and its `spec` reporter (pure).

Ids are title paths: the titles of the enclosing `describe`/`test` blocks and the test's own,
joined by ` > ` (`outer > deeper > bad`), the way vitest names tests. Node prints no file for a
passing test, so the id has no file part; a file that fails to load is reported under its path
as node prints it (absolute), which `Outcomes.of` matches by its tail. `# SKIP` and `# TODO`
count as skipped. The spec reporter repeats failures under `failing tests:` without their
suites; reading stops there.
"""

from __future__ import annotations

import re

from worker.verify.runners.model import FAILED, PASSED, SKIPPED, Outcomes

_TAP = re.compile(r"^TAP version \d+\s*$", re.MULTILINE)
_SUBTEST = re.compile(r"^(?P<indent> *)# Subtest: (?P<name>.*)$")
_RESULT = re.compile(r"^(?P<indent> *)(?P<ok>not ok|ok) \d+ - (?P<name>.*?)"
                     r"(?: # (?P<directive>SKIP|TODO)\b.*)?$")
_ERROR = re.compile(r"^ +error: (?P<text>.*)$")
_SPEC_SUMMARY = re.compile(r"^ℹ tests \d+\s*$", re.MULTILINE)
_SPEC_SUITE = re.compile(r"^(?P<indent> *)▶ (?P<name>.*?)\s*$")
_SPEC_RESULT = re.compile(r"^(?P<indent> *)(?P<mark>[✔✖﹣]) (?P<name>.*?) \([\d.]+m?s\)"
                          r"(?: # (?P<directive>.*))?\s*$")
_SPEC_END = "✖ failing tests:"
_TAP_INDENT, _SPEC_INDENT = 4, 2


def parse_node_tap(output: str) -> Outcomes | None:
    """Outcomes from node's TAP output, or None when there is no `TAP version` line."""
    if not _TAP.search(output):
        return None
    found = Outcomes(parser="node-tap")
    stack: list[str] = []
    last: str | None = None
    for line in output.splitlines():
        line = line.rstrip("\r")
        subtest = _SUBTEST.match(line)
        result = _RESULT.match(line) if subtest is None else None
        if subtest:
            level = len(subtest.group("indent")) // _TAP_INDENT
            stack = [*stack[:level], subtest.group("name")]
        elif result:
            level = len(result.group("indent")) // _TAP_INDENT
            last = " > ".join([*stack[:level], result.group("name")])
            stack = stack[:level]
            directive = result.group("directive")
            outcome = SKIPPED if directive else FAILED if result.group("ok") == "not ok" \
                else PASSED
            found.record(last, outcome)
        elif last is not None and found.results.get(last) == FAILED:
            error = _ERROR.match(line)
            if error and last not in found.messages:
                found.messages[last] = _unquoted(error.group("text"))[:500]
    return found


def parse_node_spec(output: str) -> Outcomes | None:
    """Outcomes from node's `spec` reporter, or None without its `ℹ tests N` summary."""
    if not _SPEC_SUMMARY.search(output):
        return None
    found = Outcomes(parser="node-spec")
    stack: list[str] = []
    for line in output.splitlines():
        line = line.rstrip("\r")
        if line.strip() == _SPEC_END:
            break
        suite = _SPEC_SUITE.match(line)
        result = _SPEC_RESULT.match(line) if suite is None else None
        if suite:
            level = len(suite.group("indent")) // _SPEC_INDENT
            stack = [*stack[:level], suite.group("name")]
        elif result:
            level = len(result.group("indent")) // _SPEC_INDENT
            mark, directive = result.group("mark"), result.group("directive") or ""
            outcome = SKIPPED if mark == "﹣" or directive.startswith(("SKIP", "TODO")) \
                else FAILED if mark == "✖" else PASSED
            found.record(" > ".join([*stack[:level], result.group("name")]), outcome)
            stack = stack[:level]
    return found


def _unquoted(text: str) -> str:
    """A YAML scalar as TAP diagnostics print it, without its one pair of quotes."""
    text = text.strip()
    if len(text) > 1 and text[0] == text[-1] and text[0] in "'\"":
        return text[1:-1]
    return text
