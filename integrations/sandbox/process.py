"""Starting bubblewrap and seeing its command through: output capture, stdin, the wall clock,
and killing the whole process tree.

bubblewrap starts in a session and process group of its own and, when the host allows it, in a
fresh pids cgroup (a tiny `sh` moves itself into the group and execs bubblewrap, so no process
of the tree is ever outside it). Its options travel through a file descriptor (`--args`), so
the host's process list does not show the policy's variables, and its environment is empty, so
the sandbox's /proc/1/environ (bubblewrap's init) shows nothing of the worker's. When the
wall clock runs out the group is killed; bubblewrap's init then dies with it (--die-with-parent),
which tears down the pid namespace and every process in it, and the cgroup is emptied last.
`run_supervised` sees a command through; `launch` starts one and hands back its `Tree`, which a
served command (`serving.py`) keeps running until it is stopped.
"""

from __future__ import annotations

import contextlib
import logging
import os
import select
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
    pass_fds: tuple[int, ...] = ()  # more descriptors the sandbox inherits (a served listener)
    merge_output: bool = False  # stderr into stdout's pipe, interleaved as a terminal shows it


class Tree:
    """A started bubblewrap tree: the process, its output captures, its cgroup (if any) and the
    read end of the ready pipe. `finish` says how it ended; `release` frees what it holds (both
    may be called more than once)."""

    def __init__(self, proc: subprocess.Popen[bytes], captures: list[StreamCapture],
                 cgroup: PidsCgroup | None, ready_r: int, started: float) -> None:
        self.proc = proc
        self.captures = captures
        self.cgroup = cgroup
        self.ready_r = ready_r
        self.started = started
        self._ready: bool | None = None

    def wait_ready(self, timeout: float) -> bool:
        """Wait until the launcher says it is about to become the command (True), or the
        sandbox ends without saying so or `timeout` passes (False)."""
        readable, _, _ = select.select([self.ready_r], [], [], timeout)
        self._ready = bool(readable) and os.read(self.ready_r, 1) == b"1"
        return self._ready

    def finish(self, timed_out: bool) -> Exit:
        """Once the process has ended: empty the cgroup, drain the output and describe it."""
        if self.cgroup:
            self.cgroup.kill()
        for capture in self.captures:
            capture.join(DRAIN_SECONDS)
        assert self.proc.returncode is not None
        return Exit(returncode=_returncode(self.proc.returncode),
                    started=self._ready if self._ready is not None else _was_ready(self.ready_r),
                    timed_out=timed_out, stdout=self.captures[0].text(),
                    stderr=self.captures[1].text() if len(self.captures) > 1 else "",
                    seconds=time.monotonic() - self.started,
                    process_limit_hit=bool(self.cgroup and self.cgroup.limit_hit()))

    def exit_code(self) -> int | None:
        """How bubblewrap (and so the command) exited, or None while it runs."""
        code = self.proc.poll()
        return None if code is None else _returncode(code)

    def kill(self) -> None:
        """Kill the process group if its leader has not been reaped yet, and wait for it."""
        if self.proc.poll() is None:
            _kill_group(self.proc)

    def release(self) -> None:
        """Close the ready pipe and kill and remove the cgroup."""
        if self.ready_r >= 0:
            os.close(self.ready_r)
            self.ready_r = -1
        if self.cgroup:
            self.cgroup.kill()
            self.cgroup.remove()
            self.cgroup = None


def run_supervised(spawn: Spawn) -> Exit:
    """Run bubblewrap as described and return once its whole tree is gone."""
    tree = launch(spawn)
    try:
        timed_out = _wait(tree.proc, spawn.wall_seconds)
        return tree.finish(timed_out)
    finally:
        tree.release()


def launch(spawn: Spawn) -> Tree:
    """Start bubblewrap as described (in its cgroup when there can be one) and return at once."""
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
            proc, captures = _start(command, spawn,
                                    (args.fileno(), ready_w, *spawn.pass_fds))
    except BaseException:
        os.close(ready_r)
        if cgroup:
            cgroup.kill()
            cgroup.remove()
        raise
    finally:
        os.close(ready_w)
    return Tree(proc, captures, cgroup, ready_r, started)


def _argument_file(run_dir: Path, options: list[str]) -> BinaryIO:
    """The options as a NUL-separated file, open for bubblewrap's --args (the arguments were
    checked to hold no NUL, so none can split into an option of its own)."""
    path = run_dir / "bwrap.args"
    path.write_bytes(b"".join(option.encode() + b"\0" for option in options))
    return open(path, "rb")  # noqa: SIM115 (the caller closes it once bubblewrap has started)


def _start(command: list[str], spawn: Spawn,
           pass_fds: tuple[int, ...]) -> tuple[subprocess.Popen[bytes], list[StreamCapture]]:
    out_r, out_w = os.pipe()
    err_r, err_w = (-1, out_w) if spawn.merge_output else os.pipe()
    try:
        proc = subprocess.Popen(
            command, stdin=subprocess.PIPE if spawn.stdin is not None else subprocess.DEVNULL,
            stdout=out_w, stderr=err_w, env={}, cwd="/", start_new_session=True,
            pass_fds=pass_fds)
    except OSError:
        for fd in (out_r, err_r):
            if fd >= 0:
                os.close(fd)
        raise
    finally:
        for fd in {out_w, err_w}:
            os.close(fd)
    tee = spawn.tee
    captures = [StreamCapture(fd, spawn.output_limit, partial(tee, name) if tee else None).start()
                for fd, name in ((out_r, "stdout"), (err_r, "stderr")) if fd >= 0]
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
