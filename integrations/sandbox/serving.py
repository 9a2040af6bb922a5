"""Serving from the bubblewrap sandbox: a command kept running in the background whose one TCP
port inside is reachable from the host, and nothing else inside is.

The host listens on `127.0.0.1:0` and passes that listening socket down to the sandbox's relay
by descriptor (`forwarder.start_detached`); the relay carries each connection it accepts to the
command's port on the sandbox's own loopback (`127.0.0.1`: the command must listen there or on
all addresses, not on `::1` alone), and nowhere else. No path leads in: the sandbox's
network namespace has no other interface, and the host never connects to a socket file in a
folder the command could write (where a symlink could point it at a socket of the host's). Once
the relay holds the listener the host closes its own copy, so the port closes as soon as the
sandbox is gone, whether the command exited or was stopped. Output (stdout and stderr
interleaved) is read as it comes; a timer kills the tree at the policy's wall-clock limit;
`stop` kills it (the process group, then the cgroup) and says how it ended.
"""

from __future__ import annotations

import socket
import threading

from integrations.sandbox.process import Exit, Spawn, Tree, launch
from worker.fix.models import PROXY_PORT, SandboxPolicy
from worker.ports import PermanentError

START_SECONDS = 30.0  # how long bubblewrap may take to reach the command


class ServedTree:
    """A serving sandbox from its start until `stop` (see the module docstring)."""

    def __init__(self, tree: Tree, wall_seconds: float) -> None:
        self._tree = tree
        self._lock = threading.Lock()
        self.timed_out = False
        self.stopped = False  # stopped while still running (not by the wall clock)
        self._timer = threading.Timer(wall_seconds, self._expire)
        self._timer.daemon = True
        self._timer.start()

    def output(self) -> str:
        """What the command has printed so far."""
        return self._tree.captures[0].text()

    def exit_code(self) -> int | None:
        """The exit code once the tree has ended, else None."""
        return self._tree.exit_code()

    def stop(self) -> Exit:
        """Kill whatever still runs, wait for the output to drain and describe the end."""
        self._timer.cancel()
        with self._lock:
            if self._tree.exit_code() is None:
                self.stopped = not self.timed_out
                self._tree.kill()
        try:
            return self._tree.finish(self.timed_out)
        finally:
            self._tree.release()

    def _expire(self) -> None:
        with self._lock:
            if self._tree.exit_code() is None:
                self.timed_out = True
                self._tree.kill()


def start_served(spawn: Spawn, listener: socket.socket) -> ServedTree:
    """Start the sandbox and wait until its launcher is about to become the command (the relay
    then holds the listener, and the host's copy is closed); PermanentError if it never gets
    there."""
    try:
        tree = launch(spawn)
        ready = tree.wait_ready(START_SECONDS)
    finally:
        listener.close()
    if ready:
        return ServedTree(tree, spawn.wall_seconds)
    try:
        tree.kill()
        exit_ = tree.finish(timed_out=False)
    finally:
        tree.release()
    raise PermanentError(f"the sandbox failed to start (bubblewrap exit {exit_.returncode}): "
                         f"{exit_.stdout.strip()[-2000:]}")


def host_listener() -> socket.socket:
    """A listening TCP socket on the host's loopback, on a port the system picks."""
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
    except OSError as error:
        listener.close()
        raise PermanentError(f"cannot listen on the host's loopback to serve: {error}") from error
    return listener


def invalid_port(port: int, policy: SandboxPolicy) -> str:
    """Why `port` cannot be the served port under `policy`, or ""."""
    if not 1024 <= port <= 65535:
        return f"port {port} cannot be served: the sandbox's user can bind 1024-65535 only"
    if port == PROXY_PORT:
        return f"port {port} is the egress proxy's"
    if port in {forward.port for forward in policy.forwards}:
        return f"port {port} is a test service's forward"
    if port in {route.port for route in policy.routes}:
        return f"port {port} is routed to a server of the worker"
    return ""

