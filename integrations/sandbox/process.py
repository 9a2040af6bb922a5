"""Starting bubblewrap and seeing its command through: output capture, stdin, the wall clock,
and killing the whole process tree.

bubblewrap starts in a session and process group of its own and, when the host allows it, in a
fresh pids cgroup (a tiny `sh` moves itself into the group and execs bubblewrap, so no process
of the tree is ever outside it). Its options travel through a file descriptor (`--args`), so
the host's process list does not show the policy's variables, and its environment is empty, so
the sandbox's /proc/1/environ (bubblewrap's init) shows nothing of the worker's. When the
wall clock runs out the group is killed; bubblewrap's init then dies with it (--die-with-parent),
which tears down the pid namespace and every process in it, and the cgroup is emptied last.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import IO, BinaryIO

from integrations.sandbox.capture import StreamCapture
from integrations.sandbox.cgroup import PidsCgroup

log = logging.getLogger("suture.sandbox")

CGROUP_OVERHEAD = 8  # bubblewrap, its init, the launcher and the relay's threads
DRAIN_SECONDS = 5.0  # how long output may keep arriving after the tree is gone


@dataclass
class Exit:
    """How a sandboxed process ended."""

    returncode: int
    started: bool  # the launcher reached the command (False: the sandbox itself failed)
    timed_out: bool
    stdout: str
    stderr: str
    seconds: float
    process_limit_hit: bool = False


@dataclass
class Spawn:
    """What to start: the bubblewrap binary, its options and command given the ready pipe's
    write end (the launcher writes one byte to it just before it execs the command), and how to
    treat the streams."""

    bwrap: str
    arguments: Callable[[int], tuple[list[str], list[str]]]
    run_dir: Path  # private folder for the argument file
    wall_seconds: float
    processes: int
    output_limit: int
    stdin: str | None = None
    tee: Callable[[str, bytes], None] | None = None


def run_supervised(spawn: Spawn) -> Exit:
    """Run bubblewrap as described and return once its whole tree is gone."""
    ready_r, ready_w = os.pipe()
    cgroup = PidsCgroup.create(spawn.processes + CGROUP_OVERHEAD)
    if cgroup is None and os.geteuid() == 0:
        # The sandbox user maps to root, for whom the kernel does not enforce RLIMIT_NPROC.
        log.warning("no pids cgroup available: the process limit is not enforced for root")
    started = time.monotonic()
    try:
        options, inner = spawn.arguments(ready_w)
        with _argument_file(spawn.run_dir, options) as args:
            command = [spawn.bwrap, "--args", str(args.fileno()), "--", *inner]
            if cgroup:
                command = ["/bin/sh", "-c", 'echo $$ > "$0" && exec "$@"',
                           str(cgroup.procs_file), *command]
            proc, captures = _start(command, spawn, (args.fileno(), ready_w))
            os.close(ready_w)
            ready_w = -1
        timed_out = _wait(proc, spawn.wall_seconds)
        if cgroup:
            cgroup.kill()
        for capture in captures:
            capture.join(DRAIN_SECONDS)
        return Exit(returncode=_returncode(proc.returncode), started=_was_ready(ready_r),
                    timed_out=timed_out, stdout=captures[0].buffer.text(),
                    stderr=captures[1].buffer.text(), seconds=time.monotonic() - started,
                    process_limit_hit=bool(cgroup and cgroup.limit_hit()))
    finally:
        for fd in (ready_r, ready_w):
            if fd >= 0:
                os.close(fd)
        if cgroup:
            cgroup.kill()
            cgroup.remove()


def _argument_file(run_dir: Path, options: list[str]) -> BinaryIO:
    """The options as a NUL-separated file, open for bubblewrap's --args (the arguments were
    checked to hold no NUL, so none can split into an option of its own)."""
    path = run_dir / "bwrap.args"
    path.write_bytes(b"".join(option.encode() + b"\0" for option in options))
    return open(path, "rb")  # noqa: SIM115 (the caller closes it once bubblewrap has started)


def _start(command: list[str], spawn: Spawn,
           pass_fds: tuple[int, ...]) -> tuple[subprocess.Popen[bytes], list[StreamCapture]]:
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE if spawn.stdin is not None else subprocess.DEVNULL,
            stdout=out_w, stderr=err_w, env={}, cwd="/", start_new_session=True,
            pass_fds=pass_fds)
    except OSError:
        for fd in (out_r, err_r):
            os.close(fd)
        raise
    finally:
        for fd in (out_w, err_w):
            os.close(fd)
    tee = spawn.tee
    captures = [StreamCapture(fd, spawn.output_limit, partial(tee, name) if tee else None).start()
                for fd, name in ((out_r, "stdout"), (err_r, "stderr"))]
    if proc.stdin is not None:
        threading.Thread(target=_feed, args=(proc.stdin, spawn.stdin or ""), daemon=True).start()
    return proc, captures


def _feed(pipe: IO[bytes], text: str) -> None:
    # A command that does not read its input closes the pipe early; that is its business.
    with contextlib.suppress(OSError), pipe:
        pipe.write(text.encode())


def _wait(proc: subprocess.Popen[bytes], wall_seconds: float) -> bool:
    """Wait for the process; on timeout kill its group (while the leader is unreaped, so the
    group id cannot have been reused) and return True."""
    try:
        proc.wait(timeout=wall_seconds)
        return False
    except subprocess.TimeoutExpired:
        _kill_group(proc)
        return True
    except BaseException:
        # Interrupted (a worker's time limit, Ctrl-C): the tree must not outlive the caller.
        _kill_group(proc)
        raise


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def _returncode(code: int) -> int:
    # Popen reports death by signal as -N; shells (and bubblewrap's init) report 128 + N.
    return 128 - code if code < 0 else code


def _was_ready(ready_r: int) -> bool:
    os.set_blocking(ready_r, False)
    try:
        return os.read(ready_r, 1) == b"1"
    except BlockingIOError:
        return False
