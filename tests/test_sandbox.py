"""The bubblewrap sandbox doing its job for a well-behaved command: output, exit status,
environment, stdin, Python and pytest inside, limits, the audit, broken-sandbox errors, the egress
proxy's parsing and allowlist on their own, and the operator command."""

from __future__ import annotations

import logging
import shutil
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integrations.sandbox import BubblewrapSandbox, EgressProxy, EgressRefusal, egress
from integrations.sandbox.capture import BoundedText, clip
from integrations.sandbox.egress import Allowlist
from integrations.sandbox.request import RequestError, parse_request
from worker.cli.sandbox import sandbox_exec
from worker.fix.models import CommandResult, Limits, SandboxPolicy
from worker.ports import PermanentError, Sandbox

needs_bwrap = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = tmp_path / "worktree"
    path.mkdir()
    return path


@pytest.fixture
def sink() -> list[CommandResult]:
    return []


@pytest.fixture
def sandbox(sink: list[CommandResult]) -> BubblewrapSandbox:
    return BubblewrapSandbox(audit_sink=sink.append)


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        body = f"hello {self.path}".encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def web_server() -> Iterator[int]:
    """A plain HTTP server on the host's loopback; its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hello)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    thread.join()


@needs_bwrap
def test_runs_in_the_worktree_and_reports_output_and_status(sandbox, worktree):
    result = sandbox.run(worktree, ["sh", "-c", "pwd; echo out; echo err >&2; "
                                                "echo made > made.txt; exit 3"], SandboxPolicy())

    assert result.exit_code == 3
    assert result.stdout.split() == [str(worktree), "out"]
    assert result.stderr == "err\n"
    assert (worktree / "made.txt").read_text() == "made\n"
    assert not result.timed_out and result.killed == ""
    assert isinstance(sandbox, Sandbox)


@needs_bwrap
def test_environment_holds_only_the_allowed_variables(sandbox, worktree, monkeypatch):
    monkeypatch.setenv("SUTURE_DATABASE_URL", "postgresql://secret")
    result = sandbox.run(worktree, ["env"], SandboxPolicy(env={"FOO": "bar"}))

    names = {line.split("=", 1)[0] for line in result.stdout.splitlines()}
    # PWD comes from bubblewrap's --chdir.
    assert names == {"PATH", "HOME", "LANG", "TMPDIR", "FOO", "PWD"}
    assert "FOO=bar" in result.stdout.splitlines()


@needs_bwrap
def test_stdin_reaches_the_command(sandbox, worktree):
    result = sandbox.run(worktree, ["cat"], SandboxPolicy(), stdin="fed through stdin\n")

    assert result.stdout == "fed through stdin\n"


@needs_bwrap
def test_python_and_pytest_run_inside(sandbox, worktree):
    (worktree / "test_inside.py").write_text("def test_ok():\n    assert 1 + 1 == 2\n")
    result = sandbox.run(worktree, ["python", "-m", "pytest", "-q", "-p", "no:cacheprovider",
                                    "test_inside.py"], SandboxPolicy())

    assert result.exit_code == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout


@needs_bwrap
def test_extra_read_only_paths_are_readable_but_not_writable(sink, worktree, tmp_path):
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "tool.txt").write_text("a tool\n")
    sandbox = BubblewrapSandbox(extra_ro_paths=[tools], audit_sink=sink.append)

    read = sandbox.run(worktree, ["cat", str(tools / "tool.txt")], SandboxPolicy())
    write = sandbox.run(worktree, ["sh", "-c", f"echo changed > {tools / 'tool.txt'}"],
                        SandboxPolicy())

    assert read.stdout == "a tool\n"
    assert write.exit_code != 0 and "Read-only file system" in write.stderr
    assert (tools / "tool.txt").read_text() == "a tool\n"


@needs_bwrap
def test_every_command_is_audited_in_order_with_output_clipped(worktree, sink):
    sandbox = BubblewrapSandbox(audit_sink=sink.append, audit_limit=100)
    sandbox.run(worktree, ["true"], SandboxPolicy())
    loud = sandbox.run(worktree, ["python", "-c", "print('x' * 5000 + 'END')"], SandboxPolicy())
    sandbox.run(worktree, ["sh", "-c", "exit 4"], SandboxPolicy())

    assert [r.argv[0] for r in sandbox.audit] == ["true", "python", "sh"]
    assert [r.exit_code for r in sandbox.audit] == [0, 0, 4]
    assert sink == sandbox.audit
    assert loud.stdout == "x" * 5000 + "END\n"
    assert len(sandbox.audit[1].stdout) < 200
    assert "omitted" in sandbox.audit[1].stdout and sandbox.audit[1].stdout.endswith("END\n")


@needs_bwrap
def test_endless_output_is_bounded(worktree):
    sandbox = BubblewrapSandbox(output_limit=4096)
    result = sandbox.run(worktree, ["python", "-c", "print('y' * 3_000_000 + 'LAST')"],
                         SandboxPolicy())

    assert result.exit_code == 0
    assert len(result.stdout) < 4200
    assert result.stdout.endswith("LAST\n") and "omitted" in result.stdout


@needs_bwrap
def test_cpu_limit_stops_a_busy_command(sandbox, worktree):
    result = sandbox.run(worktree, ["python", "-c", "while True: pass"],
                         SandboxPolicy(limits=Limits(cpu_seconds=1, wall_seconds=20)))

    assert result.killed == "cpu"
    assert result.exit_code != 0 and not result.timed_out


@needs_bwrap
def test_file_size_limit_stops_a_big_write(sandbox, worktree):
    result = sandbox.run(worktree, ["head", "-c", "3000000", "/dev/zero"],
                         SandboxPolicy(limits=Limits(file_mb=1)))
    redirected = sandbox.run(worktree, ["sh", "-c", "exec head -c 3000000 /dev/zero > big"],
                             SandboxPolicy(limits=Limits(file_mb=1)))

    assert result.exit_code == 0  # to a pipe: not a file, not limited
    assert redirected.killed == "file-size"
    assert (worktree / "big").stat().st_size <= 1024 * 1024


@needs_bwrap
def test_unknown_command_is_an_exit_code_not_an_error(sandbox, worktree):
    result = sandbox.run(worktree, ["no-such-command-here"], SandboxPolicy())

    assert result.exit_code == 127
    assert "command not found" in result.stderr


@needs_bwrap
def test_nul_bytes_cannot_smuggle_bubblewrap_options(sandbox, worktree):
    result = sandbox.run(worktree, ["echo", "x\0--bind\0/\0/"], SandboxPolicy())
    env = sandbox.run(worktree, ["true"], SandboxPolicy(env={"A": "1\0--bind\0/\0/"}))

    assert result.exit_code == 126 and "NUL" in result.stderr
    assert env.exit_code == 126
    assert len(sandbox.audit) == 2


def test_missing_bubblewrap_is_a_permanent_error(worktree):
    sandbox = BubblewrapSandbox(bwrap="no-such-bwrap-binary")

    with pytest.raises(PermanentError, match="bubblewrap"):
        sandbox.run(worktree, ["true"], SandboxPolicy())


def test_sandbox_that_cannot_start_is_a_permanent_error(worktree, tmp_path):
    broken = tmp_path / "bwrap"
    broken.write_text("#!/bin/sh\necho 'bwrap: setting up uid map: Permission denied' >&2\n"
                      "exit 1\n")
    broken.chmod(0o755)
    sandbox = BubblewrapSandbox(bwrap=str(broken))

    with pytest.raises(PermanentError, match="uid map: Permission denied"):
        sandbox.run(worktree, ["true"], SandboxPolicy())
    assert sandbox.audit == []


@needs_bwrap
def test_missing_read_only_path_is_a_permanent_error(worktree, tmp_path):
    sandbox = BubblewrapSandbox(extra_ro_paths=[tmp_path / "absent"])

    with pytest.raises(PermanentError, match="does not exist"):
        sandbox.run(worktree, ["true"], SandboxPolicy())


@needs_bwrap
def test_operator_command_streams_output_and_returns_the_status(worktree, capsys):
    status = sandbox_exec(worktree, [], ["sh", "-c", "echo to-out; echo to-err >&2; exit 7"])

    captured = capsys.readouterr()
    assert status == 7
    assert captured.out == "to-out\n"
    assert "to-err" in captured.err
    assert sandbox_exec(worktree, [], ["true"]) == 0


@needs_bwrap
def test_operator_command_lists_the_egress_it_refused(worktree, capsys):
    code = ("import urllib.request\n"
            "try:\n    urllib.request.urlopen('http://localhost:6379/', timeout=5)\n"
            "except OSError as error:\n    print('blocked', error)\n")

    assert sandbox_exec(worktree, ["localhost:1"], ["python", "-c", code]) == 0
    captured = capsys.readouterr()
    assert "blocked" in captured.out
    assert "refused egress to localhost:6379" in captured.err


def test_operator_command_reports_a_broken_sandbox(worktree, capsys, monkeypatch):
    monkeypatch.setenv("PATH", "")

    assert sandbox_exec(worktree, [], ["true"]) == 125
    assert "bubblewrap" in capsys.readouterr().err


@pytest.mark.parametrize(("entries", "host", "port", "allowed"), [
    (["api.example.com"], "api.example.com", 443, True),
    (["api.example.com"], "API.Example.COM.", 443, True),
    (["api.example.com"], "api.example.com", 80, True),
    (["api.example.com"], "api.example.com", 22, False),
    (["api.example.com"], "example.com", 443, False),
    (["api.example.com"], "api.example.com.evil.test", 443, False),
    (["localhost:8080"], "localhost", 8080, True),
    (["localhost:8080"], "localhost", 443, False),
    (["[::1]:8080"], "::1", 8080, True),
    (["::1"], "::1", 443, True),
    ([], "localhost", 443, False),
])
def test_allowlist_matches_hosts_exactly(entries, host, port, allowed):
    assert Allowlist(entries).allows(host, port) is allowed


def test_proxy_requests_are_parsed_and_rewritten():
    connect = parse_request(b"CONNECT Api.Example.com:443 HTTP/1.1\r\nHost: x")
    plain = parse_request(b"GET http://svc.test:8080/a?b=1 HTTP/1.1\r\nHost: svc.test\r\n"
                          b"Proxy-Authorization: secret\r\nConnection: keep-alive")

    assert (connect.method, connect.host, connect.port, connect.upstream_head) == (
        "CONNECT", "api.example.com", 443, b"")
    assert (plain.host, plain.port) == ("svc.test", 8080)
    assert plain.upstream_head == (b"GET /a?b=1 HTTP/1.1\r\nHost: svc.test\r\n"
                                   b"Connection: close\r\n\r\n")


@pytest.mark.parametrize("head", [
    b"GET /relative HTTP/1.1", b"CONNECT nohostport HTTP/1.1", b"CONNECT host:99999 HTTP/1.1",
    b"GET https://api.example.com/ HTTP/1.1", b"garbage", b"GET http://h:x/ HTTP/1.1",
    b"CONNECT user@host:443 HTTP/1.1",
])
def test_proxy_rejects_odd_requests(head):
    with pytest.raises(RequestError):
        parse_request(head)


def _ask(socket_path: Path, request: bytes) -> bytes:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.connect(str(socket_path))
        client.sendall(request)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        return answer


def test_egress_proxy_relays_allowed_and_refuses_and_logs_the_rest(tmp_path, web_server,
                                                                   caplog):
    caplog.set_level(logging.WARNING, logger="suture.sandbox.egress")
    seen: list[EgressRefusal] = []
    path = tmp_path / "egress.sock"
    with EgressProxy(path, [f"localhost:{web_server}"], on_refused=seen.append) as proxy:
        allowed = _ask(path, f"GET http://localhost:{web_server}/ok HTTP/1.1\r\n"
                             f"Host: localhost\r\n\r\n".encode())
        refused = _ask(path, b"CONNECT elsewhere.test:443 HTTP/1.1\r\n\r\n")
        malformed = _ask(path, b"GET /nope HTTP/1.1\r\n\r\n")

    assert allowed.startswith(b"HTTP/1.0 200") and allowed.endswith(b"hello /ok")
    assert refused.startswith(b"HTTP/1.1 403")
    assert malformed.startswith(b"HTTP/1.1 400")
    assert [(r.host, r.port) for r in seen] == [("elsewhere.test", 443), ("", None)]
    assert proxy.refused == seen
    assert "elsewhere.test" in caplog.text


def test_egress_proxy_caps_open_connections(tmp_path, monkeypatch):
    monkeypatch.setattr(egress, "MAX_CONNECTIONS", 2)
    path = tmp_path / "egress.sock"
    with EgressProxy(path, []) as proxy:
        idle = [socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) for _ in range(2)]
        for sock in idle:
            sock.connect(str(path))
        third = _ask(path, b"")
        for sock in idle:
            sock.close()

    assert third.startswith(b"HTTP/1.1 503")
    assert [r.reason for r in proxy.refused] == ["too many open connections"]


def test_bounded_text_keeps_head_and_tail():
    text = BoundedText(40)
    for index in range(100):
        text.add(f"{index:03d}".encode())

    kept = text.text()
    assert kept.startswith("000") and kept.endswith("099")
    assert "omitted" in kept
    assert clip("a" * 10, 20) == "a" * 10
    assert clip("abcdefghij" * 10, 20).endswith("ghij")
