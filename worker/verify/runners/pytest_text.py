"""pytest's text output: the `-rA` short summary, and skips from `-v` progress lines (pure).

The summary is read only after the last `short test summary info` header, so a test printing
`PASSED x` earlier is not believed. It names every passed, failed, erroring, xfailed and
xpassed test by node id, but folds skips into `SKIPPED [n] file:line: reason`; the node ids of
skipped tests come from the verbose progress lines (`tests/a.py::t[x] SKIPPED (reason) [ 5%]`)
when the command ran with `-v`. Those lines only ever add a skip (the worse outcome wins), so a
forged one cannot hide a failure. Ids are pytest node ids (`tests/test_x.py::Class::test[p]`).
"""

from __future__ import annotations

import re

from worker.verify.runners.model import ERROR, FAILED, PASSED, SKIPPED, XFAIL, XPASS, Outcomes

_SUMMARY = re.compile(r"^=+ short test summary info =+\s*$", re.MULTILINE)
_LINE = re.compile(r"^(PASSED|FAILED|ERROR|XFAIL|XPASS) (.+?)(?: - (.*))?$")
_WORDS = {"PASSED": PASSED, "FAILED": FAILED, "ERROR": ERROR, "XFAIL": XFAIL, "XPASS": XPASS}
_PROGRESS_SKIP = re.compile(
    r"^(?P<id>[^\s\[]+?\.py::\S.*?) SKIPPED(?: \((?P<why>.*)\))?\s*(?:\[\s*\d+%\])?\s*$")


def parse_pytest(output: str) -> Outcomes | None:
    """Outcomes from pytest's `-rA` summary (and `-v` skips), or None without a summary."""
    headers = list(_SUMMARY.finditer(output))
    if not headers:
        return None
    found = Outcomes(parser="pytest")
    cut = headers[-1].end()
    for line in output[cut:].splitlines():
        match = _LINE.match(line.rstrip("\r"))
        if match:
            test_id, outcome = match.group(2), _WORDS[match.group(1)]
            # An ERROR naming a file, not a test, is a module pytest could not collect.
            found.record(test_id, outcome, match.group(3) or "",
                         load_error=outcome == ERROR and "::" not in test_id)
    for line in output[:headers[-1].start()].splitlines():
        skip = _PROGRESS_SKIP.match(line.rstrip("\r"))
        if skip:
            found.record(skip.group("id"), SKIPPED, skip.group("why") or "")
    return found
