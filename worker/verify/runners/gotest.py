"""`go test -v` result lines and `go test -json` events (pure).

Ids are test names as `go test` prints them, subtests included (`TestParse`,
`TestParse/empty_input`), the same from both forms and from go-junit-report, so a reproduction
id taken from a `func TestX` line matches whichever the command produced. Two packages with a
test of the same name share one id; the worse outcome stands. A failed test's message is the
last lines it logged (`x_test.go:12: got 1, want 2`).
"""

from __future__ import annotations

import json
import re

from worker.verify.runners.model import FAILED, PASSED, SKIPPED, Outcomes

_LINE = re.compile(r"^[ \t]*--- (PASS|FAIL|SKIP): (\S+) \(", re.MULTILINE)
_WORDS = {"PASS": PASSED, "FAIL": FAILED, "SKIP": SKIPPED}
_ACTIONS = {"pass": PASSED, "fail": FAILED, "skip": SKIPPED}
_LOGGED = re.compile(r"^\s+\S+\.go:\d+: ")
_MESSAGE_LINES = 5


def parse_go_verbose(output: str) -> Outcomes | None:
    """Outcomes from `go test -v` `--- PASS/FAIL/SKIP:` lines (empty when there are none)."""
    found = Outcomes(parser="go")
    for match in _LINE.finditer(output):
        found.record(match.group(2), _WORDS[match.group(1)])
    return found


def parse_go_json(output: str) -> Outcomes | None:
    """Outcomes from `go test -json` events, or None when the output has no test event."""
    found = Outcomes(parser="go-json")
    logged: dict[str, list[str]] = {}
    seen = False
    for line in output.splitlines():
        if not line.startswith("{"):
            continue
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if not isinstance(event, dict) or not isinstance(event.get("Action"), str):
            continue
        seen = True
        test = event.get("Test")
        if not isinstance(test, str) or not test:
            continue
        action = event["Action"]
        if action == "output" and _LOGGED.match(str(event.get("Output", ""))):
            logged.setdefault(test, []).append(str(event["Output"]).strip())
        elif action in _ACTIONS:
            outcome = _ACTIONS[action]
            message = "\n".join(logged.get(test, [])[-_MESSAGE_LINES:]) if outcome == FAILED else ""
            found.record(test, outcome, message)
    return found if seen else None
