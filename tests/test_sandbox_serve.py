"""Serving from the real bubblewrap sandbox: a small HTTP server in a git worktree is reached at
the host URL, a second port it opens inside is not, leaving the block kills its whole process
tree and closes the port, a command that exits at once is reported with its code and output, the
wall clock stops it, the repository environment applies as it does to runs, and ports that cannot
be served are refused."""

from __future__ import annotations

import shutil
import socket
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from integrations.sandbox import BubblewrapSandbox
from tests.gitrepo import GitRepoBuilder
from worker.env.models import Environment
from worker.env.use import in_environment
from worker.fix.models import CommandResult, Forward, Limits, SandboxPolicy, Served
from worker.ports import PermanentError, Sandbox

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")

APP = """
import os, subprocess, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

port, second, token = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]

class Hello(BaseHTTPRequestHandler):
    def do_GET(self):
        body = f"{self.server.server_port} {os.getcwd()} {os.environ.get('GREETING')}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        print("request", self.path, flush=True)

# A grandchild the command does not wait for: stopping must kill it too.
subprocess.Popen(["sleep", "600", token])
inner = ThreadingHTTPServer(("127.0.0.1", second), Hello)
threading.Thread(target=inner.serve_forever, daemon=True).start()
print("serving", port, "and", second, flush=True)
ThreadingHTTPServer(("127.0.0.1", port), Hello).serve_forever()
"""


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    repo = GitRepoBuilder(tmp_path / "app")
    repo.commit({"app.py": APP}, "a tiny server")
    return repo.path


@pytest.fixture
def sink() -> list[CommandResult]:
    return []


@pytest.fixture
def sandbox(sink: list[CommandResult]) -> BubblewrapSandbox:
    return BubblewrapSandbox(audit_sink=sink.append)


def free_host_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def answer(served: Served, seconds: float = 20.0) -> httpx.Response:
    """The first answer of the served URL, waiting while the server starts."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            return httpx.get(served.url + "/hello", timeout=5, trust_env=False)
        except httpx.HTTPError:
            if time.monotonic() > deadline or served.exited:
                raise
            time.sleep(0.05)


def eventually(condition: Callable[[], bool], seconds: float = 20.0) -> bool:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def host_pids_with(token: str) -> list[int]:
    """Host pids of processes whose command line holds `token`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if token.encode() in (entry / "cmdline").read_bytes():
                found.append(int(entry.name))
        except OSError:
            continue
    return found


def refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_the_served_port_is_reached_from_the_host_and_a_second_port_inside_is_not(
        sandbox, worktree):
    second = free_host_port()
    argv = ["python", "app.py", "8000", str(second), uuid.uuid4().hex]

    with sandbox.serve(worktree, argv, SandboxPolicy(), 8000) as served:
        response = answer(served)
        assert response.status_code == 200
        assert response.text == f"8000 {worktree} None"
        assert served.url.startswith("http://127.0.0.1:") and served.host_port != 8000
        # The server answers on `second` inside the sandbox; the host's port of that number is
        # nobody's.
        assert refused(second)
        assert served.exit_code() is None and not served.exited
        assert eventually(lambda: "request /hello" in served.output())
        assert f"serving 8000 and {second}" in served.output()
    assert isinstance(sandbox, Sandbox)


def test_leaving_the_block_kills_the_whole_tree_closes_the_port_and_audits(
        sandbox, worktree, sink):
    token = uuid.uuid4().hex
    argv = ["python", "app.py", "8000", str(free_host_port()), token]

    with sandbox.serve(worktree, argv, SandboxPolicy(), 8000) as served:
        answer(served)
        assert eventually(lambda: len(host_pids_with(token)) >= 2)  # the server and its sleep

    assert host_pids_with(token) == []
    assert refused(served.host_port)
    assert served.exited and served.exit_code() == 137
    [result] = sink
    assert result == sandbox.audit[-1]
    assert result.argv == argv and result.killed == "stopped" and not result.timed_out
    assert "serving 8000" in result.stdout and result.stderr == ""


def test_a_command_that_exits_at_once_is_reported_with_its_code_and_output(sandbox, worktree,
                                                                           sink):
    argv = ["sh", "-c", "echo starting; echo 'no such module' >&2; exit 3"]

    with sandbox.serve(worktree, argv, SandboxPolicy(), 8000) as served:
        assert eventually(lambda: served.exited)
        assert served.exit_code() == 3
        assert eventually(lambda: "no such module" in served.output())
        assert "starting" in served.output()
        with pytest.raises(httpx.HTTPError):  # the port closed with the sandbox
            httpx.get(served.url, timeout=5, trust_env=False)

    [result] = sink
    assert (result.exit_code, result.killed) == (3, "")
    assert result.stdout == "starting\nno such module\n"


def test_the_wall_clock_stops_a_served_command(sandbox, worktree, sink):
    policy = SandboxPolicy(limits=Limits(wall_seconds=1))

    with sandbox.serve(worktree, ["sleep", "600"], policy, 8000) as served:
        assert eventually(lambda: served.exited, seconds=15)

    [result] = sink
    assert result.timed_out and result.killed == "timeout"
    assert "killed after 1s of wall-clock time" in result.stderr


def test_the_repository_environment_applies_to_serve_as_to_run(sandbox, worktree):
    environment = Environment(key="k", workdir="/workspace", env={"GREETING": "hi"})
    argv = ["python", "app.py", "8000", str(free_host_port()), uuid.uuid4().hex]

    with in_environment(sandbox, environment).serve(worktree, argv, SandboxPolicy(),
                                                     8000) as served:
        assert answer(served).text == "8000 /workspace hi"


@pytest.mark.parametrize(("port", "policy", "why"), [
    (80, SandboxPolicy(), "1024-65535"),
    (3128, SandboxPolicy(), "egress proxy"),
    (5432, SandboxPolicy(forwards=[Forward(port=5432, target_host="127.0.0.1",
                                           target_port=5432)]), "forward"),
])
def test_a_port_that_cannot_be_served_is_refused(sandbox, worktree, port, policy, why):
    with pytest.raises(PermanentError, match=why), sandbox.serve(worktree, ["true"], policy, port):
        pass
    assert sandbox.audit == []
