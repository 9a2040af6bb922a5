"""No credential crosses into an agent's sandbox: names and values that look like one are kept
out, a playbook naming one is refused, and a route to the worker's own server is checked like
the other ways out of the sandbox."""

from __future__ import annotations

import shutil
import socket
import sys
import threading
from pathlib import Path

import pytest

from integrations.sandbox.bwrap import BubblewrapSandbox
from worker.fix.models import Forward, SandboxPolicy, SocketRoute
from worker.fix.sandbox_env import secret_name, split_env
from worker.playbooks import PlaybookError, load_playbooks
from worker.ports import PermanentError


@pytest.mark.parametrize("name", [
    "OPENAI_API_KEY", "ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN", "GITHUB_TOKEN", "GH_TOKEN",
    "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "DB_PASSWORD", "SENTRY_DSN", "APIKEY",
    "GOOGLE_APPLICATION_CREDENTIALS", "NPM_AUTH", "openai_api_key", "MYSERVICEKEY", "GIT_PAT"])
def test_credential_names_are_recognised(name: str) -> None:
    assert secret_name(name)


@pytest.mark.parametrize("name", ["AGENT_MODE", "PATH", "LANG", "PYTHONPATH", "KEYBOARD_LAYOUT",
                                  "MODEL", "OPENAI_BASE_URL", "TOKENIZERS_PARALLELISM"])
def test_ordinary_names_pass(name: str) -> None:
    assert not secret_name(name)


def test_split_env_keeps_ordinary_values_and_says_why_others_go() -> None:
    kept, dropped = split_env({"MODE": "fast", "GITHUB_TOKEN": "x",
                               "NOTE": "ghp_" + "A1b2C3d4E5" * 4})
    assert kept == {"MODE": "fast"}
    assert dropped == {"GITHUB_TOKEN": "GITHUB_TOKEN is named like a credential",
                       "NOTE": "the value of NOTE looks like a credential (github-token)"}


def test_a_playbook_that_passes_a_key_into_the_sandbox_is_refused(tmp_path: Path) -> None:
    (tmp_path / "default.yaml").write_text(
        "name: default\ndescription: d\nagents:\n  - kind: cli\n    command: [claude, -p]\n"
        "sandbox:\n  env: [AGENT_MODE, ANTHROPIC_API_KEY]\n")
    with pytest.raises(PlaybookError) as raised:
        load_playbooks(tmp_path)
    assert "'ANTHROPIC_API_KEY' is named like a credential" in str(raised.value)
    assert "model proxy" in str(raised.value)


needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")


@needs_bwrap
def test_a_route_reaches_the_workers_socket_and_nothing_else(tmp_path: Path) -> None:
    path = tmp_path / "server.sock"
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(str(path))
    server.listen(1)
    answered: list[bytes] = []

    def answer() -> None:
        client, _ = server.accept()
        with client:
            answered.append(client.recv(100))
            client.sendall(b"pong")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    code = ("import socket; s = socket.create_connection(('127.0.0.1', 4100)); "
            "s.sendall(b'ping'); print(s.recv(100).decode())")
    policy = SandboxPolicy(routes=[SocketRoute(port=4100, socket=str(path))])
    result = BubblewrapSandbox().run(tmp_path, [sys.executable, "-c", code], policy)
    thread.join(timeout=10)
    server.close()
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "pong\n" and answered == [b"ping"]


@needs_bwrap
def test_routes_are_checked_like_forwards(tmp_path: Path) -> None:
    sandbox = BubblewrapSandbox()
    clash = SandboxPolicy(routes=[SocketRoute(port=5432, socket=str(tmp_path / "s.sock"))],
                          forwards=[Forward(port=5432, target_host="db", target_port=5432)])
    result = sandbox.run(tmp_path, ["true"], clash)
    assert result.exit_code == 126 and "same sandbox port" in result.stderr
    relative = SandboxPolicy(routes=[SocketRoute(port=4100, socket="model.sock")])
    assert "not an absolute path" in sandbox.run(tmp_path, ["true"], relative).stderr
    missing = SandboxPolicy(routes=[SocketRoute(port=4100, socket=str(tmp_path / "gone"))])
    with pytest.raises(PermanentError, match="is not listening"):
        sandbox.run(tmp_path, ["true"], missing)
