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
from worker.verify.outcomes import PASSED, RED, SUITE, Outcomes, parse_outcomes

PYTEST_COMMAND = "python -m pytest -q -rA -p no:cacheprovider"
GO_COMMAND = "go test -v ./..."
_PYTHON_MARKERS = ("pyproject.toml", "setup.py", "setup.cfg", "pytest.ini", "tox.ini")
_PLAIN_PYTEST = re.compile(r"^\s*(?:python3?\s+-m\s+pytest|pytest|py\.test)(?:\s|$)")
_SHELL = re.compile(r"[;&|<>`$(){}\n\\]")
_JUNIT = re.compile(r"--junit-?xml(?:=|\s+)(\S+)")
_LOG_HEAD, _LOG_TAIL = 1500, 4500
_MAX_LISTED = 20


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
    """`command` narrowed to `test_ids` when it is a plain pytest call; otherwise the whole
    command, whose outcomes are then looked up by id."""
    if not test_ids or not _PLAIN_PYTEST.match(command) or _SHELL.search(command):
        return command
    return " ".join([command, "--", *(shlex.quote(test_id) for test_id in test_ids)])


def run_tests(sandbox: Sandbox, worktree: Path, command: str,
              policy: SandboxPolicy) -> TestRun:
    """Run `command` in `worktree` through the sandbox and read its per-test outcomes."""
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
    whole_failure = (list(base.outcomes.results) == [SUITE]
                     and base.outcomes.results[SUITE] != PASSED)
    report = SuiteReport(
        ran=True, command=base.command, base=base.report(), fix=fix.report(),
        counts=SuiteCounts(passed_on_base=len(passed_on_base), failing_on_base=len(failing),
                           broken=len(broken), fixed=len(fixed)),
        broken=[BrokenTest(test=t, fix=o) for t, o in broken],
        failing_on_base=[FailingTest(test=t, base=base.outcomes.of(t), fix=fix.outcomes.of(t))
                         for t in failing],
        fixed=fixed,
        note=("the test command fails on base as a whole, so regressions cannot be told apart "
              "from it" if whole_failure else ""))
    return reasons, report


def clip_log(stdout: str, stderr: str = "") -> str:
    """Output short enough for a verdict, head and tail kept, secrets redacted."""
    text = stdout if not stderr else f"{stdout}\n--- stderr ---\n{stderr}"
    if len(text) > _LOG_HEAD + _LOG_TAIL:
        cut = len(text) - _LOG_HEAD - _LOG_TAIL
        text = f"{text[:_LOG_HEAD]}\n[... {cut} characters cut ...]\n{text[-_LOG_TAIL:]}"
    return scrub_text(text)


def _junit_report(worktree: Path, command: str) -> str | None:
    """The JUnit XML the command wrote, if it asked for one inside the worktree."""
    match = _JUNIT.search(command)
    if match is None:
        return None
    root = worktree.resolve()
    target = root / match.group(1).strip("'\"")
    # The file was written by the code under test: refuse links and anything outside the tree.
    if target.is_symlink() or not target.is_file():
        return None
    resolved = target.resolve()
    if not resolved.is_relative_to(root):
        return None
    try:
        return resolved.read_text("utf-8", "replace")
    except OSError:
        return None
