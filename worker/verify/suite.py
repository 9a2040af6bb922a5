"""Running a test command in the sandbox and judging the suite on base against the fix.

Every run goes through `Sandbox.run` as `sh -c <command>` with the worktree as its only
writable place; pytest is asked for its `-rA` summary through `PYTEST_ADDOPTS`, so a project's
own command still reports each test. The suite rule: no test that passed on base may fail, error,
be skipped or vanish on the fix; tests already failing on base are reported, never blamed.
Logs are clipped and scrubbed before they go into a verdict, which may end up in a pull request.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from worker.fix.models import (
    BrokenTest,
    CommandResult,
    FailingTest,
    SandboxPolicy,
    SuiteCounts,
    SuiteReport,
    TestRunReport,
)
from worker.ports import Sandbox
from worker.scrub import scrub_text
from worker.verify.outcomes import (
    ERROR,
    FAILED,
    PASSED,
    RED,
    SUITE,
    XFAIL,
    XPASS,
    Outcomes,
    parse_outcomes,
)
from worker.verify.runners.commands import PLACEHOLDER, expand_tests
from worker.verify.runners.reports import report_texts

PYTEST_COMMAND = "python -m pytest -q -rA -p no:cacheprovider"
GO_COMMAND = "go test -v ./..."
_PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini")
_PLAIN_PYTEST = re.compile(r"^\s*(?:python3?\s+-m\s+pytest|pytest|py\.test)(?:\s|$)")
_SHELL = re.compile(r"[;&|<>`$(){}\n\\]")
_LOG_HEAD, _LOG_TAIL = 1500, 4500
_MAX_LISTED = 20
_RAISED = re.compile(r"^E\s+(\w+(?:Error|Exception)\b.*)$", re.MULTILINE)
_RAN = frozenset({PASSED, FAILED, ERROR, XFAIL, XPASS})


@dataclass
class TestRun:
    """One run of a test command: what ran, what came back, and what it says per test."""

    command: str
    result: CommandResult
    outcomes: Outcomes

    def report(self) -> TestRunReport:
        """The run as it appears in a verdict: exit code, counts and a clipped, scrubbed log."""
        result = self.result
        return TestRunReport(command=self.command, exit_code=result.exit_code,
                             seconds=round(result.seconds, 3), timed_out=result.timed_out,
                             killed=result.killed, parser=self.outcomes.parser,
                             counts=self.outcomes.counts(),
                             log=clip_log(result.stdout, result.stderr))


def default_test_command(tracked: list[str]) -> str | None:
    """The test command for a repository whose files are `tracked`, if one can be guessed."""
    names = set(tracked)
    if "go.mod" in names:
        return GO_COMMAND
    if names.intersection(_PYTHON_MARKERS) or any(p.endswith(".py") for p in tracked):
        return PYTEST_COMMAND
    return None


def command_for(command: str, test_ids: list[str]) -> str:
    """`command` narrowed to `test_ids`: where it says `{tests}`, in its runner's own syntax
    (`runners.commands`), or appended when it is a plain pytest call; otherwise the whole
    command, whose outcomes are then looked up by id."""
    if PLACEHOLDER in command:
        return expand_tests(command, test_ids)
    if not test_ids or not _PLAIN_PYTEST.match(command) or _SHELL.search(command):
        return command
    return " ".join([command, "--", *(shlex.quote(test_id) for test_id in test_ids)])


def run_tests(sandbox: Sandbox, worktree: Path, command: str,
              policy: SandboxPolicy) -> TestRun:
    """Run `command` in `worktree` through the sandbox and read its per-test outcomes."""
    command = expand_tests(command, [])  # `{tests}` left in a command means the whole suite
    env = dict(policy.env)
    env["PYTEST_ADDOPTS"] = " ".join(filter(None, [env.get("PYTEST_ADDOPTS", ""), "-rA"]))
    env.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    env.setdefault("COLUMNS", "200")  # pytest cuts summary lines to the terminal width
    result = sandbox.run(worktree, ["sh", "-c", command], policy.model_copy(update={"env": env}))
    output = result.stdout + "\n" + result.stderr
    return TestRun(command, result, parse_outcomes(output, result.exit_code,
                                                   _junit_report(worktree, command)))


def judge_suite(base: TestRun, fix: TestRun) -> tuple[list[str], SuiteReport]:
    """Failure reasons (empty when the fix breaks nothing) and the suite's part of the verdict."""
    passed_on_base = [t for t, o in base.outcomes.results.items() if o == PASSED]
    broken = [(t, fix.outcomes.of(t)) for t in passed_on_base if fix.outcomes.of(t) != PASSED]
    failing = [t for t, o in base.outcomes.results.items() if o in RED]
    fixed = [t for t in failing if fix.outcomes.of(t) == PASSED]
    reasons: list[str] = []
    if fix.result.timed_out or fix.result.killed:
        reasons.append(f"the test command was stopped on the fix: {fix.result.killed or 'timeout'}")
    if broken:
        listed = ", ".join(f"{t} ({o})" for t, o in broken[:_MAX_LISTED])
        more = f" and {len(broken) - _MAX_LISTED} more" if len(broken) > _MAX_LISTED else ""
        reasons.append(f"{len(broken)} test(s) that pass on base fail on the fix: {listed}{more}")
    report = SuiteReport(
        ran=True, command=base.command, base=base.report(), fix=fix.report(),
        counts=SuiteCounts(passed_on_base=len(passed_on_base), failing_on_base=len(failing),
                           broken=len(broken), fixed=len(fixed),
                           ran_on_base=count_ran(base.outcomes),
                           ran_on_fix=count_ran(fix.outcomes)),
        broken=[BrokenTest(test=t, fix=o) for t, o in broken],
        failing_on_base=[FailingTest(test=t, base=base.outcomes.of(t), fix=fix.outcomes.of(t))
                         for t in failing],
        fixed=fixed, unusable=unusable_on_base(base))
    return reasons, report


def count_ran(outcomes: Outcomes) -> int:
    """How many tests a run ran: passed or failed, not skipped, and not a file, module or class
    that failed to load."""
    return sum(1 for test, outcome in outcomes.results.items()
               if outcome in _RAN and test not in outcomes.load_errors)


def unusable_on_base(base: TestRun) -> str:
    """Why the suite's run on base gives no verdict, or "" when it does: stopped, no test run
    (every module failed to load, or the command reported none), or a command that failed as a
    whole without reporting any test."""
    if base.result.timed_out or base.result.killed:
        return f"the test command was stopped on base: {base.result.killed or 'timeout'}"
    results = base.outcomes.results
    if list(results) == [SUITE]:
        if results[SUITE] == PASSED:
            return ""
        raised = _RAISED.search(base.result.stdout + "\n" + base.result.stderr)
        why = f": {scrub_text(raised.group(1).strip())[:200]}" if raised else ""
        return (f"the test command fails on base as a whole (exit {base.result.exit_code}) "
                f"without reporting any test{why}")
    if count_ran(base.outcomes):
        return ""
    broken = sorted(outcomes_failed_to_load(base.outcomes))
    if broken:
        shown = "; ".join(f"{test}: {scrub_text(load_error(base, test))[:160]}"
                          for test in broken[:5])
        return f"no test ran on base: {len(broken)} test module(s) could not be loaded ({shown})"
    return "no test ran on base: the test command reported none"


def load_error(run: TestRun, test_id: str) -> str:
    """Why a test, or the module holding it, could not be loaded: the runner's message, else
    the first exception line pytest prints under `ERROR collecting <file>`."""
    message = run.outcomes.message(test_id)
    if message:
        return message
    output = run.result.stdout + "\n" + run.result.stderr
    start = output.find(f"ERROR collecting {test_id.split('::', 1)[0]}")
    found = _RAISED.search(output, start) if start >= 0 else None
    return found.group(1).strip() if found else "it failed to load"


def outcomes_failed_to_load(outcomes: Outcomes) -> set[str]:
    """The files, modules or classes of a run whose tests never ran because they failed."""
    return {test for test in outcomes.load_errors if outcomes.results.get(test) in RED}


def clip_log(stdout: str, stderr: str = "") -> str:
    """Output short enough for a verdict, head and tail kept, secrets redacted."""
    text = stdout if not stderr else f"{stdout}\n--- stderr ---\n{stderr}"
    if len(text) > _LOG_HEAD + _LOG_TAIL:
        cut = len(text) - _LOG_HEAD - _LOG_TAIL
        text = f"{text[:_LOG_HEAD]}\n[... {cut} characters cut ...]\n{text[-_LOG_TAIL:]}"
    return scrub_text(text)


def _junit_report(worktree: Path, command: str) -> list[str]:
    """The JUnit XML reports the command wrote inside the worktree (`runners.reports`)."""
    return report_texts(worktree, command)
