"""Starting suture's processes for tests and benchmarks, and waiting for them.

The chaos suite (`tests/reliability/stack.py`), the end-to-end process tests
(`tests/test_processes.py`) and the scale-out harness (`bench/scaleout/harness.py`) all run
`python -m ...` children in sessions of their own, each logging to a file, wait for them to come
up, and stop them at the end. This module is that part, once.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import httpx

ROOT = Path(__file__).resolve().parents[1]
# Short enough that a condition met is seen within a fraction of a second, long enough that a
# check reading the database or a log file does not load the machine.
POLL_SECONDS = 0.1


def free_port() -> int:
    """A TCP port nobody listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll `check` until true; AssertionError naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(POLL_SECONDS)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


def healthy(url: str) -> bool:
    """True once `url`/healthz answers 200."""
    try:
        return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


class Processes:
    """Children started with `python -m`, each in its own session (so a kill reaches whatever
    it started too) and logging to `<logs>/<name>-<n>.log`."""

    def __init__(self, logs: Path, env: Mapping[str, str]) -> None:
        self.logs = logs
        self.env = dict(env)
        self.procs: list[subprocess.Popen[bytes]] = []
        self.paths: list[Path] = []
        self._files: list[IO[bytes]] = []

    def start(self, *argv: str, name: str = "") -> subprocess.Popen[bytes]:
        """Start `python -m <argv>`; its log is `paths[-1]` afterwards."""
        if not name:  # `worker.cli web` logs as "web"
            name = argv[1] if argv[0] == "worker.cli" and len(argv) > 1 else argv[0]
        path = self.logs / f"{name}-{len(self.procs)}.log"
        log = path.open("wb")
        self._files.append(log)
        proc = subprocess.Popen([sys.executable, "-m", *argv], cwd=ROOT, env=self.env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.procs.append(proc)
        self.paths.append(path)
        return proc

    def start_web(self, url: str, timeout: float, *options: str) -> subprocess.Popen[bytes]:
        """`suture web`, returned once `url` answers its health check."""
        proc = self.start("worker.cli", "web", *options)
        wait_until(lambda: healthy(url) or proc.poll() is not None, timeout, "the web process")
        assert proc.poll() is None, f"suture web exited with {proc.returncode}\n{self.tail()}"
        return proc

    @staticmethod
    def kill(proc: subprocess.Popen[bytes]) -> None:
        """`kill -9` a process's session from outside and reap it."""
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    def stop(self, grace: float = 15) -> None:
        """SIGTERM every child's session, SIGKILL whichever has not stopped after `grace`
        seconds, and close the logs."""
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in self.procs:
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
        for log in self._files:
            log.close()

    def tail(self, chars: int = 4000) -> str:
        """The end of every child's log, for a failing test's message."""
        return "\n".join(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}"
                         for path in self.paths if path.exists())
