"""The tool-loop agent against the scripted chat-completions stand-in, over real HTTP, on a real
git repository with a division-by-zero bug: tool calls, results, budgets, refusals and retries."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from integrations.agents.toolloop import SYSTEM_PROMPT, ToolLoopAgent
from integrations.agents.tools import TOOL_SCHEMAS, WorktreeTools, truncate
from integrations.git import worktree_patch
from integrations.standins.chat import ChatStandIn, tool_call
from tests.gitrepo import GitRepoBuilder
from tests.support import LocalSandbox
from worker.fix.models import CommandResult, FixTask, SandboxPolicy
from worker.models import ErrorEvent, ExceptionInfo, Frame, Source
from worker.playbooks import PromptContext, load_playbooks, render_prompt
from worker.playbooks.prompt import SHIPPED_PLAYBOOKS
from worker.ports import PermanentError

KEY = "sk-test-key-0123456789"
BUGGY = "def mean(values):\n    return sum(values) / len(values)\n"
GUARD_OLD = "    return sum(values) / len(values)\n"
GUARD_NEW = "    if not values:\n        return 0.0\n    return sum(values) / len(values)\n"
REGRESSION = ("from calc.stats import mean\n\n\n"
              "def test_mean_of_nothing_is_zero():\n    assert mean([]) == 0.0\n")
PYTEST = f"{shlex.quote(sys.executable)} -m pytest -q -p no:cacheprovider"
TOOL_NAMES = {"list_files", "read_file", "search", "edit_file", "write_file", "run"}


def _event() -> ErrorEvent:
    frame = Frame(filename="calc/stats.py", function="mean", lineno=2,
                  context_line="    return sum(values) / len(values)")
    return ErrorEvent(source=Source.SENTRY, event_id="e" * 32, platform="python",
                      timestamp=datetime(2026, 1, 2, tzinfo=UTC),
                      exceptions=[ExceptionInfo(type="ZeroDivisionError",
                                                value="division by zero", frames=[frame])])


def make_task(**budgets: Any) -> FixTask:
    """A task whose prompt the shipped zero-division playbook renders."""
    event = _event()
    playbook = next(p for p in load_playbooks(SHIPPED_PLAYBOOKS) if p.name == "zero-division")
    prompt = render_prompt(playbook, PromptContext(event=event, crash_file="calc/stats.py",
                                                   crash_line=2, test_command="pytest -q"))
    return FixTask(run_id=7, prompt=prompt, event=event, error_type="ZeroDivisionError",
                   crash_file="calc/stats.py", crash_line=2, playbook="zero-division",
                   **budgets)


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    repo = GitRepoBuilder(tmp_path / "repo")
    repo.commit({"calc/__init__.py": "", "calc/stats.py": BUGGY,
                 "tests/test_stats.py": "from calc.stats import mean\n\n\n"
                                        "def test_mean():\n    assert mean([1, 2, 3]) == 2\n"},
                "Add mean")
    return repo.path


@contextmanager
def serve(script: Any) -> Iterator[ChatStandIn]:
    standin = ChatStandIn(script)
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()


def agent_for(standin: ChatStandIn, **options: Any) -> ToolLoopAgent:
    options.setdefault("sleep", lambda seconds: None)
    return ToolLoopAgent(standin.url + "/v1", SecretStr(KEY), "stand-in-model", **options)


def usage(total: int) -> dict[str, int]:
    return {"prompt_tokens": total - 10, "completion_tokens": 10, "total_tokens": total}


FIX_SCRIPT = [
    {"tool_calls": [tool_call("list_files", {"path": "."}, "call_1")], "usage": usage(100)},
    {"tool_calls": [tool_call("read_file", {"path": "calc/stats.py"}, "call_2")],
     "usage": usage(100)},
    {"content": "Guarding the empty case and adding a test.",
     "tool_calls": [tool_call("edit_file", {"path": "calc/stats.py", "old": GUARD_OLD,
                                            "new": GUARD_NEW}, "call_3"),
                    tool_call("write_file", {"path": "tests/test_regression.py",
                                             "content": REGRESSION}, "call_4")],
     "usage": usage(100)},
    {"tool_calls": [tool_call("run", {"command": PYTEST}, "call_5")], "usage": usage(100)},
    {"content": "mean() now returns 0.0 for an empty list; regression test added.",
     "usage": usage(100)},
]


def tool_messages(request: Any) -> list[dict[str, Any]]:
    """The tool results at the end of a request's conversation."""
    messages = request.json()["messages"]
    tail: list[dict[str, Any]] = []
    while messages and messages[-1]["role"] == "tool":
        tail.insert(0, messages.pop())
    return tail


def test_fixes_the_bug_end_to_end(worktree: Path) -> None:
    sandbox = LocalSandbox()
    task = make_task()
    with serve(FIX_SCRIPT) as standin:
        attempt = agent_for(standin, price_per_1k_tokens=0.5).attempt(task, worktree, sandbox)
        requests = standin.chat_requests
    assert attempt.error == "", attempt.transcript
    assert (worktree / "calc/stats.py").read_text() == BUGGY.replace(GUARD_OLD, GUARD_NEW)
    assert (worktree / "tests/test_regression.py").read_text() == REGRESSION
    assert "+    if not values:" in attempt.patch
    assert "+++ b/tests/test_regression.py" in attempt.patch
    assert (attempt.agent, attempt.tokens, attempt.cost_usd) == ("toolloop", 500, 0.25)

    first = requests[0].json()
    assert requests[0].path == "/v1/chat/completions"
    assert requests[0].headers["authorization"] == f"Bearer {KEY}"
    assert (first["model"], first["tool_choice"]) == ("stand-in-model", "auto")
    assert {tool["function"]["name"] for tool in first["tools"]} == TOOL_NAMES
    assert all(tool["type"] == "function" and tool["function"]["parameters"]["type"] == "object"
               for tool in first["tools"])
    assert first["messages"] == [{"role": "system", "content": SYSTEM_PROMPT},
                                 {"role": "user", "content": task.prompt}]

    listing = tool_messages(requests[1])
    assert [m["tool_call_id"] for m in listing] == ["call_1"]
    assert "calc/stats.py" in listing[0]["content"] and ".git" not in listing[0]["content"]
    assert tool_messages(requests[2])[0]["content"] == BUGGY
    assert [m["tool_call_id"] for m in tool_messages(requests[3])] == ["call_3", "call_4"]
    ran = tool_messages(requests[4])
    assert ran[0]["tool_call_id"] == "call_5"
    assert ran[0]["content"].startswith("exit code 0") and "2 passed" in ran[0]["content"]
    # the assistant turn that made the calls is sent back before their results
    assistant = requests[4].json()["messages"][-2]
    assert assistant["role"] == "assistant" and assistant["tool_calls"][0]["id"] == "call_5"

    assert [result.argv for result in sandbox.audit] == [["sh", "-c", PYTEST]]
    assert sandbox.policies[0].allow_hosts == [] and sandbox.policies[0].env == {}
    kinds = [entry["kind"] for entry in attempt.transcript]
    assert kinds.count("request") == 5 and kinds.count("tool") == 5 and kinds[-1] == "final"
    assert KEY not in json.dumps(attempt.transcript)


def looping(body: dict[str, Any], index: int) -> dict[str, Any]:
    """A model that never stops listing files, at 1000 tokens a turn."""
    return {"tool_calls": [tool_call("list_files", {"path": "."}, f"loop_{index}")],
            "usage": usage(1000)}


def test_max_steps_stops_a_looping_model(worktree: Path) -> None:
    with serve(looping) as standin:
        attempt = agent_for(standin).attempt(make_task(max_steps=3), worktree, LocalSandbox())
        assert len(standin.chat_requests) == 3
    assert attempt.error.startswith("budget: max_steps (3)")
    assert attempt.transcript[-1] == {"kind": "stop", "reason": attempt.error}
    assert attempt.patch == ""


@pytest.mark.parametrize(("budgets", "price", "reason"), [
    ({"max_cost_usd": 2.5}, 1.0, "budget: max_cost_usd (2.5) exceeded"),
    ({"max_tokens": 2500}, 0.0, "budget: max_tokens (2500) exceeded"),
])
def test_cost_and_token_budgets_stop_an_expensive_model(
        worktree: Path, budgets: dict[str, float], price: float, reason: str) -> None:
    with serve(looping) as standin:
        attempt = agent_for(standin, price_per_1k_tokens=price).attempt(
            make_task(max_steps=30, **budgets), worktree, LocalSandbox())
        assert len(standin.chat_requests) == 3
    assert attempt.error.startswith(reason)
    assert attempt.tokens == 3000 and attempt.cost_usd == pytest.approx(3 * price)
    # the calls of the turn that broke the budget are not run
    assert [entry["kind"] for entry in attempt.transcript].count("tool") == 2


def test_wall_clock_budget_is_checked_before_calling(worktree: Path) -> None:
    with serve(looping) as standin:
        attempt = agent_for(standin).attempt(make_task(timeout_seconds=0.0), worktree,
                                             LocalSandbox())
        assert standin.calls == []
    assert attempt.error.startswith("budget: timeout_seconds")


def test_path_escapes_are_refused_and_reported(worktree: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("outside secret\n")
    (worktree / "escape").symlink_to(outside)
    (worktree / "linked.txt").symlink_to(outside / "secret.txt")
    attempts = [
        ("read_file", {"path": "../../etc/passwd"}),
        ("read_file", {"path": "/etc/passwd"}),
        ("read_file", {"path": "escape/secret.txt"}),
        ("list_files", {"path": "escape"}),
        ("write_file", {"path": "escape/planted.txt", "content": "x"}),
        ("edit_file", {"path": "linked.txt", "old": "outside", "new": "inside"}),
        ("write_file", {"path": ".git/hooks/pre-commit", "content": "#!/bin/sh\n"}),
        ("search", {"pattern": "secret", "path": "../outside"}),
    ]
    script = [{"tool_calls": [tool_call(name, args, f"bad_{i}")
                              for i, (name, args) in enumerate(attempts)]},
              {"content": "I cannot reach those files."}]
    with serve(script) as standin:
        attempt = agent_for(standin).attempt(make_task(), worktree, LocalSandbox())
        results = tool_messages(standin.chat_requests[1])
        sent = b"".join(call.body for call in standin.calls)
    assert attempt.error == ""
    assert [m["tool_call_id"] for m in results] == [f"bad_{i}" for i in range(len(attempts))]
    assert all(m["content"].startswith("error: refused") for m in results), results
    assert b"outside secret" not in sent
    assert sorted(p.name for p in outside.iterdir()) == ["secret.txt"]
    assert (outside / "secret.txt").read_text() == "outside secret\n"
    assert not (worktree / ".git/hooks/pre-commit").exists()


def test_malformed_arguments_and_unknown_tools_go_back_to_the_model(worktree: Path) -> None:
    script = [{"tool_calls": [tool_call("read_file", "{not json", "c1"),
                              tool_call("rm_rf", {"path": "."}, "c2"),
                              tool_call("read_file", {"file": "calc/stats.py"}, "c3"),
                              tool_call("edit_file", {"path": "calc/stats.py", "old": "zzz",
                                                      "new": "y"}, "c4")]},
              {"content": "Giving up."}]
    with serve(script) as standin:
        attempt = agent_for(standin).attempt(make_task(), worktree, LocalSandbox())
        results = [m["content"] for m in tool_messages(standin.chat_requests[1])]
    assert attempt.error == ""
    assert results[0].startswith("error: arguments are not valid JSON")
    assert results[1].startswith("error: unknown tool 'rm_rf'")
    assert results[2].startswith("error: bad arguments for read_file")
    assert results[3] == "error: `old` must match exactly once in calc/stats.py; it was not found"


class BrokenSandbox(LocalSandbox):
    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        raise PermanentError("bwrap: creating new namespace failed")


def test_a_broken_sandbox_ends_the_attempt_with_the_reason(worktree: Path) -> None:
    script = [{"tool_calls": [tool_call("run", {"command": "true"}, "r1")]}, {"content": "?"}]
    with serve(script) as standin:
        attempt = agent_for(standin).attempt(make_task(), worktree, BrokenSandbox())
        assert len(standin.chat_requests) == 1
    assert attempt.error == "sandbox failed: bwrap: creating new namespace failed"


def test_a_429_is_retried_then_succeeds(worktree: Path) -> None:
    sleeps: list[float] = []
    with serve([{"content": "Nothing to change."}]) as standin:
        standin.fail_with(429, retry_after=0.25)
        agent = ToolLoopAgent(standin.url, SecretStr(KEY), "m", sleep=sleeps.append)
        attempt = agent.attempt(make_task(), worktree, LocalSandbox())
        assert [call.path for call in standin.calls] == ["/chat/completions"] * 2
    assert attempt.error == ""
    assert sleeps == [0.25]
    retry = next(entry for entry in attempt.transcript if entry["kind"] == "retry")
    assert str(retry["reason"]).startswith("HTTP 429")


def test_persistent_5xx_gives_up_with_the_reason(worktree: Path) -> None:
    sleeps: list[float] = []
    with serve([{"content": "never reached"}]) as standin:
        standin.fail_with(500, times=3)
        attempt = agent_for(standin, sleep=sleeps.append, backoff_seconds=0.5).attempt(
            make_task(), worktree, LocalSandbox())
        assert len(standin.calls) == 3
    assert attempt.error.startswith("model call failed: HTTP 500")
    assert attempt.error.endswith("(gave up after 3 tries)")
    assert sleeps == [0.5, 1.0]


def test_a_script_that_runs_out_ends_the_attempt(worktree: Path) -> None:
    with serve([]) as standin:
        attempt = agent_for(standin).attempt(make_task(), worktree, LocalSandbox())
    assert attempt.error.startswith("model call failed: HTTP 409")
    assert "script has no turn 0" in attempt.error


def test_a_4xx_is_not_retried(worktree: Path) -> None:
    with serve([{"content": "never reached"}]) as standin:
        standin.fail_with(401)
        attempt = agent_for(standin).attempt(make_task(), worktree, LocalSandbox())
        assert len(standin.calls) == 1
    assert attempt.error.startswith("model call failed: HTTP 401")


def test_an_unreachable_endpoint_is_retried_then_reported(worktree: Path) -> None:
    standin = ChatStandIn([])
    url = standin.url
    standin.stop()  # nothing listens there any more
    agent = ToolLoopAgent(url, None, "m", sleep=lambda seconds: None, retries=1)
    attempt = agent.attempt(make_task(), worktree, LocalSandbox())
    assert attempt.error.startswith("model call failed: ConnectError")
    assert attempt.error.endswith("(gave up after 2 tries)")


def test_tools_read_ranges_search_and_truncate(worktree: Path) -> None:
    tools = WorktreeTools(worktree, LocalSandbox())
    (worktree / "big.txt").write_text("x" * 20_000)
    assert tools.call("read_file", json.dumps({"path": "calc/stats.py", "start": 2,
                                               "end": 2})) == (GUARD_OLD, True)
    assert tools.call("search", json.dumps({"pattern": r"len\("})) == (
        "calc/stats.py:2:     return sum(values) / len(values)", True)
    text, ok = tools.call("read_file", json.dumps({"path": "big.txt"}))
    assert ok and len(text) < 8_100 and "characters truncated" in text
    assert truncate("short") == "short"
    assert {schema["function"]["name"] for schema in TOOL_SCHEMAS} == TOOL_NAMES


def test_the_patch_leaves_out_the_private_area_and_caches(worktree: Path) -> None:
    (worktree / ".suture").mkdir()
    (worktree / ".suture/prompt.md").write_text("prompt")
    (worktree / "calc/__pycache__").mkdir()
    (worktree / "calc/__pycache__/stats.cpython-311.pyc").write_bytes(b"\x00\x01")
    (worktree / "calc/new.py").write_text("X = 1\n")
    patch = worktree_patch(worktree)
    assert "+++ b/calc/new.py" in patch
    assert ".suture" not in patch and "__pycache__" not in patch


def test_the_loop_runs_commands_in_the_bubblewrap_sandbox(worktree: Path) -> None:
    sandbox_module = pytest.importorskip("integrations.sandbox")
    sandbox = sandbox_module.BubblewrapSandbox()
    script = [*FIX_SCRIPT[:3],
              {"tool_calls": [tool_call("run", {"command": PYTEST}, "call_5"),
                              tool_call("run", {"command": "env"}, "call_6")]},
              FIX_SCRIPT[-1]]
    with serve(script) as standin:
        attempt = agent_for(standin).attempt(make_task(), worktree, sandbox)
        pytest_run, env_run = tool_messages(standin.chat_requests[4])
    assert attempt.error == "", attempt.transcript
    assert pytest_run["content"].startswith("exit code 0") and "2 passed" in pytest_run["content"]
    assert env_run["content"].startswith("exit code 0") and KEY not in env_run["content"]
    assert [result.argv for result in sandbox.audit] == [["sh", "-c", PYTEST], ["sh", "-c", "env"]]
    assert "+    if not values:" in attempt.patch and "__pycache__" not in attempt.patch
