"""An agent CLI in the real bubblewrap sandbox reaching its model only through the model proxy.

The "CLI" is a small Python script. It looks for the key everywhere it can (its environment,
every /proc/<pid>/environ and cmdline, every file it can read outside the system and Python
folders, the proxy's answers) and writes all of it to a dump the test searches on the host; then
it calls both APIs through the proxy, whole and streamed, and fixes the bug. The stand-ins refuse
any call without the real key, so a completed call shows the key arrived upstream.
"""

from __future__ import annotations

import json
import shutil
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from integrations.agents.cli_agent import CliAgent
from integrations.agents.model_access import PLACEHOLDER_KEY, ModelAccess
from integrations.agents.model_upstream import Upstream
from integrations.sandbox.bwrap import BubblewrapSandbox
from integrations.standins.anthropic import MessagesStandIn
from integrations.standins.chat import ChatStandIn
from tests.test_toolloop import BUGGY, GUARD_NEW, GUARD_OLD, make_task, worktree

__all__ = ["worktree"]

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")

OPENAI_KEY = "sk-proj-Sandboxed0OpenAI0Key0AbCdEfGhIjKlMnOpQrStU"
ANTHROPIC_KEY = "sk-ant-api03-Sandboxed0Anthropic0Key0AbCdEfGhIjKlMn"
DUMP = "sandbox-dump.txt"
ANSWER = "Guard the empty list."

CLI = textwrap.dedent('''
    """A stand-in agent CLI: hunts for credentials, calls its model, fixes the bug."""
    import json, os, sys, urllib.error, urllib.request
    from pathlib import Path

    dump = []
    dump.append("ENV " + json.dumps(dict(os.environ)))
    for pid in sorted(p for p in os.listdir("/proc") if p.isdigit()):
        for name in ("environ", "cmdline"):
            try:
                dump.append(f"PROC {pid} {name} " + open(f"/proc/{pid}/{name}", "rb").read()
                            .decode("latin-1"))
            except OSError:
                pass
    skip = {"/proc", "/sys", "/dev", "/usr", sys.base_prefix, sys.prefix}
    files = 0
    for top, dirs, names in os.walk("/"):
        dirs[:] = [d for d in dirs if os.path.join(top, d) not in skip]
        for name in names:
            path = os.path.join(top, name)
            try:
                if os.path.isfile(path) and os.path.getsize(path) < 2_000_000:
                    dump.append(f"FILE {path} " + open(path, "rb").read().decode("latin-1"))
                    files += 1
            except OSError:
                pass

    def call(url, body, headers, stream):
        body["stream"] = stream
        request = urllib.request.Request(url, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json", **headers})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                if not stream:
                    return response.status, response.read().decode()
                return response.status, "".join(line.decode() for line in response)
        except urllib.error.HTTPError as error:
            return error.code, error.read().decode()

    openai = os.environ["OPENAI_BASE_URL"] + "/chat/completions"
    anthropic = os.environ["ANTHROPIC_BASE_URL"] + "/v1/messages"
    bearer = {"Authorization": "Bearer " + os.environ["OPENAI_API_KEY"]}
    claude = {"x-api-key": os.environ["ANTHROPIC_API_KEY"], "anthropic-version": "2023-06-01"}
    answers = {}
    for stream in (False, True):
        answers[f"openai stream={stream}"] = call(
            openai, {"model": "gpt", "messages": [{"role": "user", "content": "fix"}]},
            bearer, stream)
        answers[f"anthropic stream={stream}"] = call(
            anthropic, {"model": "claude", "max_tokens": 50,
                        "messages": [{"role": "user", "content": "fix"}]}, claude, stream)
    dump.append("ANSWERS " + json.dumps(answers))
    Path(DUMP).write_text("\\n".join(dump), encoding="utf-8")
    for name, (status, text) in answers.items():
        print(name, status, text if status != 200 else len(text))
    if any(status != 200 for status, _ in answers.values()):
        sys.exit(4)
    print(f"read {files} files")
    path = Path("calc/stats.py")
    path.write_text(path.read_text().replace(OLD, NEW))
''')


@pytest.fixture
def cli(tmp_path: Path) -> Path:
    folder = tmp_path / "cli"  # shown read-only in the sandbox, like an installed CLI
    folder.mkdir()
    script = folder / "agent_cli.py"
    script.write_text(f"OLD = {GUARD_OLD!r}\nNEW = {GUARD_NEW!r}\nDUMP = {DUMP!r}\n{CLI}")
    return script


def reply(body: dict[str, Any], index: int) -> dict[str, Any]:
    return {"content": ANSWER, "usage": {"prompt_tokens": 30, "completion_tokens": 5,
                                         "input_tokens": 30, "output_tokens": 5}}


def access(chat: ChatStandIn, claude: MessagesStandIn) -> ModelAccess:
    return ModelAccess([
        Upstream(style="openai", base_url=chat.url + "/v1", api_key=SecretStr(OPENAI_KEY),
                 price_per_1k_tokens=1.0),
        Upstream(style="anthropic", base_url=claude.url, api_key=SecretStr(ANTHROPIC_KEY),
                 price_per_1k_tokens=2.0)])


def test_the_cli_finds_no_key_yet_reaches_both_apis_streamed_and_not(
        worktree: Path, cli: Path) -> None:
    with ChatStandIn(reply, api_key=OPENAI_KEY) as chat, \
            MessagesStandIn(reply, api_key=ANTHROPIC_KEY) as claude:
        # As if an operator tried to hand the CLI its keys directly: they never get in.
        agent = CliAgent([sys.executable, str(cli)], name="proxied",
                         env={"OPENAI_API_KEY": OPENAI_KEY, "ANTHROPIC_AUTH_TOKEN": ANTHROPIC_KEY,
                              "HELPER_SETTING": OPENAI_KEY, "AGENT_MODE": "test"},
                         model=access(chat, claude))
        sandbox = BubblewrapSandbox([cli.parent])
        attempt = agent.attempt(make_task(timeout_seconds=120.0), worktree, sandbox)
        command = next(e for e in attempt.transcript if e["kind"] == "command")
        assert attempt.error == "", command
        dump = (worktree / DUMP).read_text(encoding="utf-8")

    # (a) nowhere in the sandbox: not in its environment, /proc, any readable file, or an answer
    for key in (OPENAI_KEY, ANTHROPIC_KEY):
        assert key not in dump
        assert key not in json.dumps(attempt.transcript) and key not in attempt.patch
        for ran in sandbox.audit:
            assert key not in ran.stdout + ran.stderr
    assert "ENV " in dump and "PROC 1 environ" in dump and "FILE /run/suture/launcher.py" in dump
    environment = json.loads(dump.split("\n", 1)[0][4:])
    assert environment["OPENAI_API_KEY"] == PLACEHOLDER_KEY
    assert environment["AGENT_MODE"] == "test" and "HELPER_SETTING" not in environment
    assert environment["OPENAI_BASE_URL"] == "http://127.0.0.1:4100/v1"
    [dropped] = [e for e in attempt.transcript if e["kind"] == "env"]
    assert dropped["dropped"] == {
        "OPENAI_API_KEY": "OPENAI_API_KEY is named like a credential",
        "ANTHROPIC_AUTH_TOKEN": "ANTHROPIC_AUTH_TOKEN is named like a credential",
        "HELPER_SETTING": "the value of HELPER_SETTING looks like a credential (openai-key)"}

    # (b) yet every call completed, and the real key is what reached the APIs
    assert "openai stream=True 200" in str(command["stdout"])
    assert len(chat.chat_requests) == 2 and len(claude.message_requests) == 2
    assert {c.headers["authorization"] for c in chat.calls} == {f"Bearer {OPENAI_KEY}"}
    assert {c.headers["x-api-key"] for c in claude.calls} == {ANTHROPIC_KEY}
    assert (worktree / "calc/stats.py").read_text() == BUGGY.replace(GUARD_OLD, GUARD_NEW)

    # the attempt records the calls, tokens and cost
    [proxied] = [e for e in attempt.transcript if e["kind"] == "model_proxy"]
    assert (proxied["calls"], proxied["refused"]) == (4, 0)
    assert proxied["usage"] == {"input": 120, "output": 20, "total": 140, "limit": 200_000}
    assert [(c["path"], c["stream"], c["status"]) for c in proxied["calls_log"]] == [
        ("/v1/chat/completions", False, 200), ("/v1/messages", False, 200),
        ("/v1/chat/completions", True, 200), ("/v1/messages", True, 200)]
    assert attempt.tokens == 140
    assert attempt.cost_usd == pytest.approx(70 * 1.0 / 1000 + 70 * 2.0 / 1000)


def test_the_budget_is_charged_and_enforced_in_the_sandbox(worktree: Path, cli: Path) -> None:
    with ChatStandIn(reply, api_key=OPENAI_KEY) as chat, \
            MessagesStandIn(reply, api_key=ANTHROPIC_KEY) as claude:
        agent = CliAgent([sys.executable, str(cli)], model=access(chat, claude))
        attempt = agent.attempt(make_task(timeout_seconds=120.0, max_tokens=60), worktree,
                                BubblewrapSandbox([cli.parent]))
    assert attempt.error == "agent command exited with code 4"
    command = next(e for e in attempt.transcript if e["kind"] == "command")
    stdout = str(command["stdout"])
    assert "openai stream=False 200" in stdout and "anthropic stream=False 200" in stdout
    assert ("openai stream=True 402 {\"error\": {\"message\": \"the attempt's token budget is "
            "spent: 70 of 60 tokens used\"") in stdout
    assert "anthropic stream=True 402" in stdout
    assert len(chat.chat_requests) == 1 and len(claude.message_requests) == 1
    [proxied] = [e for e in attempt.transcript if e["kind"] == "model_proxy"]
    assert (proxied["calls"], proxied["refused"], proxied["usage"]["total"]) == (4, 2, 70)
    assert proxied["budget"] == "the attempt's token budget is spent: 70 of 60 tokens used"
    assert attempt.tokens == 70
