"""The CLI agent with a fake agent program: prompt file handling, placeholders, the sandbox policy
it asks for, the patch it reads back, and how failures are reported."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest

from integrations.agents.cli_agent import PROMPT_FILE, CliAgent
from tests.support import LocalSandbox
from tests.test_toolloop import BUGGY, GUARD_NEW, GUARD_OLD, make_task, worktree
from worker.fix.models import CommandResult, Limits, SandboxPolicy
from worker.ports import PermanentError

__all__ = ["worktree"]  # the repository fixture, shared with the tool-loop tests

FAKE_CLI = textwrap.dedent('''
    """A stand-in for an agent CLI: reads the prompt, finds the crash location, guards it."""
    import os
    import re
    import sys
    from pathlib import Path

    prompt = Path(sys.argv[1]).read_text(encoding="utf-8")
    if len(sys.argv) > 2 and sys.argv[2] != prompt:
        sys.exit("the {prompt} argument differs from the prompt file")
    if os.environ.get("FAKE_FAIL"):
        print("model said: token ghp_" + "a" * 36, file=sys.stderr)
        sys.exit(3)
    path = Path(re.search(r"Crash location in this repository: ([^:\\s]+)", prompt).group(1))
    path.write_text(path.read_text().replace(OLD, NEW))
    Path("tests/test_regression.py").write_text("def test_empty():\\n    pass\\n")
    print(f"applied fix to {path}; mode={os.environ.get('AGENT_MODE')}")
''')


@pytest.fixture
def fake_cli(tmp_path: Path) -> Path:
    script = tmp_path / "fake_agent.py"
    script.write_text(f"OLD = {GUARD_OLD!r}\nNEW = {GUARD_NEW!r}\n{FAKE_CLI}")
    return script


def test_the_cli_fixes_the_bug_and_its_prompt_file_is_not_in_the_patch(
        worktree: Path, fake_cli: Path) -> None:
    sandbox = LocalSandbox()
    agent = CliAgent([sys.executable, str(fake_cli), "{prompt_file}", "{prompt}"],
                     name="fake", allow_hosts=["llm-proxy.internal"], env={"AGENT_MODE": "test"})
    task = make_task(timeout_seconds=120.0)
    attempt = agent.attempt(task, worktree, sandbox)
    assert attempt.error == "", attempt.transcript
    assert attempt.agent == "fake"
    assert (worktree / "calc/stats.py").read_text() == BUGGY.replace(GUARD_OLD, GUARD_NEW)
    assert "+    if not values:" in attempt.patch and "tests/test_regression.py" in attempt.patch
    assert ".suture" not in attempt.patch and "prompt.md" not in attempt.patch
    assert not (worktree / ".suture").exists()

    [ran] = sandbox.audit
    assert ran.argv == [sys.executable, str(fake_cli), PROMPT_FILE, task.prompt]
    assert sandbox.policies == [SandboxPolicy(allow_hosts=["llm-proxy.internal"],
                                              env={"AGENT_MODE": "test"},
                                              limits=Limits(wall_seconds=120.0))]
    [entry] = attempt.transcript
    assert entry["exit_code"] == 0
    assert entry["stdout"] == "applied fix to calc/stats.py; mode=test\n"
    assert entry["argv"] == [sys.executable, str(fake_cli), PROMPT_FILE, "{prompt}"]


def test_placeholders_are_filled_once() -> None:
    agent = CliAgent(["aider", "--message-file", "{prompt_file}", "--say={prompt}!"])
    assert agent.argv("fix {prompt_file} in {x}") == [
        "aider", "--message-file", PROMPT_FILE, "--say=fix {prompt_file} in {x}!"]
    with pytest.raises(ValueError, match="command_template"):
        CliAgent([])


def test_a_failing_command_is_reported_with_scrubbed_output(worktree: Path,
                                                            fake_cli: Path) -> None:
    agent = CliAgent([sys.executable, str(fake_cli), "{prompt_file}"], env={"FAKE_FAIL": "1"})
    attempt = agent.attempt(make_task(), worktree, LocalSandbox())
    assert attempt.error == "agent command exited with code 3"
    stderr = str(attempt.transcript[0]["stderr"])
    assert "model said: token [REDACTED" in stderr and "ghp_" not in stderr
    assert attempt.patch == "" and not (worktree / ".suture").exists()


class StubSandbox:
    """A sandbox that answers every command with a fixed result, or raises."""

    def __init__(self, result: CommandResult | None = None) -> None:
        self.result = result
        self.audit: list[CommandResult] = []

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        if self.result is None:
            raise PermanentError("bwrap: setting up uid map: Permission denied")
        self.audit.append(self.result)
        return self.result


def test_a_timed_out_command_is_reported(worktree: Path) -> None:
    stopped = CommandResult(argv=["agent"], exit_code=-9, timed_out=True, killed="timeout",
                            seconds=900.0)
    attempt = CliAgent(["agent"]).attempt(make_task(), worktree, StubSandbox(stopped))
    assert attempt.error == "agent command stopped: timeout after 900s"
    assert attempt.transcript[0]["timed_out"] is True


def test_a_broken_sandbox_is_reported(worktree: Path) -> None:
    attempt = CliAgent(["agent"]).attempt(make_task(), worktree, StubSandbox())
    assert attempt.error.startswith("could not run the agent command: bwrap")
    assert not (worktree / ".suture").exists()


def test_a_planted_private_area_link_is_refused(worktree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (worktree / ".suture").symlink_to(outside)
    sandbox = StubSandbox(CommandResult(argv=["agent"], exit_code=0))
    attempt = CliAgent(["agent"]).attempt(make_task(), worktree, sandbox)
    assert "not a plain directory" in attempt.error
    assert sandbox.audit == [] and list(outside.iterdir()) == []
    assert (worktree / ".suture").is_symlink()
