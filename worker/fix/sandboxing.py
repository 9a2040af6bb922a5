"""What a sandboxed command is allowed and what comes back: its limits, mounts, port forwards
and socket routes (together the `SandboxPolicy`), its `CommandResult`, and `Served` for a command
kept running in the background. The `Sandbox` port speaks these; `worker.fix.models` re-exports
them with the rest of the fix loop's models."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from typing import Annotated

from pydantic import AfterValidator, BaseModel, Field


class CommandResult(BaseModel):
    """One command run in the sandbox."""

    argv: list[str]
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    timed_out: bool = False
    killed: str = ""  # why the sandbox stopped it (timeout, memory, ...), empty if it exited
    # Where it connected (`host:port`, first seen first) and where it was turned away (with why).
    reached: list[str] = Field(default_factory=list)
    refused: list[str] = Field(default_factory=list)


class Served:
    """A command the sandbox keeps running in the background while one of its ports is reached
    from the host at `url` (`http://127.0.0.1:<host_port>`; nothing else inside is reachable).

    The sandbox that started it supplies how to read its output so far (stdout and stderr
    interleaved, clipped like a result's) and its exit code (None while it runs)."""

    def __init__(self, argv: list[str], host_port: int, output: Callable[[], str],
                 exit_code: Callable[[], int | None]) -> None:
        self.argv = list(argv)
        self.host_port = host_port
        self._output = output
        self._exit_code = exit_code

    @property
    def url(self) -> str:
        """Where the host reaches the served port."""
        return f"http://127.0.0.1:{self.host_port}"

    def output(self) -> str:
        """Everything the command has printed so far (head and tail when it was long)."""
        return self._output()

    def exit_code(self) -> int | None:
        """The command's exit code once it has ended (by itself or stopped), else None."""
        return self._exit_code()

    @property
    def exited(self) -> bool:
        """Whether the command has ended."""
        return self.exit_code() is not None


class Limits(BaseModel):
    """What one sandboxed command may use."""

    wall_seconds: float = 300.0
    cpu_seconds: int = 600
    memory_mb: int = 2048
    processes: int = 256
    file_mb: int = 256


class Mount(BaseModel):
    """A host path shown inside the sandbox at `target` (an absolute sandbox path), read-only
    unless `writable`."""

    source: str
    target: str
    writable: bool = False


PROXY_PORT = 3128  # the egress proxy's port inside the sandbox: no forward may take it
HOST_NAME = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]*"
                       r"[A-Za-z0-9])?)*\.?")


def _host_or_address(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if not HOST_NAME.fullmatch(value):
            raise ValueError("must be a host name or an IP address") from None
    return value


HostOrAddress = Annotated[str, AfterValidator(_host_or_address)]


class Forward(BaseModel):
    """A TCP port inside the sandbox relayed to one host:port outside it (a test database).

    `127.0.0.1:port` in the sandbox's own network namespace accepts connections; each is carried
    to `target_host:target_port`, connected from the worker, and nowhere else. When the target
    is a host name, that name resolves to 127.0.0.1 inside the sandbox, so a URL naming it works
    on both sides. Ports below 1024 cannot be bound by the sandbox's unprivileged user."""

    port: int = Field(ge=1024, le=65535)
    target_host: HostOrAddress
    target_port: int = Field(ge=1, le=65535)

    @property
    def host_name(self) -> str | None:
        """The target's host name (lower case, no trailing dot), or None for an address."""
        try:
            ipaddress.ip_address(self.target_host)
        except ValueError:
            return self.target_host.rstrip(".").lower()
        return None


class SocketRoute(BaseModel):
    """A TCP port inside the sandbox relayed to a unix socket the worker itself serves (the
    model proxy): `127.0.0.1:port` in the sandbox reaches the server listening on `socket`, a
    host path, and nothing else. Only the worker's own code makes them, never a playbook."""

    port: int = Field(ge=1024, le=65535)
    socket: str


class SandboxPolicy(BaseModel):
    """Where a sandboxed command may write and whom it may reach.

    `workdir`, when set, is where the worktree appears inside the sandbox (and the command's
    working directory) instead of its host path: a repository environment embeds that path.
    `mounts` are shown after the worktree, so they may sit inside it (`node_modules`).
    `forwards` relay sandbox ports to fixed host:port pairs (test services); only the operator's
    settings make them. `routes` relay sandbox ports to unix sockets the worker serves."""

    allow_hosts: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)
    workdir: str | None = None
    mounts: list[Mount] = Field(default_factory=list)
    forwards: list[Forward] = Field(default_factory=list)
    routes: list[SocketRoute] = Field(default_factory=list)
