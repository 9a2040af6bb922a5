"""Models of the fix loop: a task for an agent, what it produced, and what verification found.

Everything an agent sees is in `FixTask` (scrubbed event data inside the prompt, the crashing
frames, the playbook's rules); everything it hands back is an `Attempt` whose patch is judged by
`Verification`, outside the model.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from enum import StrEnum
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, Field, model_validator

from worker.models import ErrorEvent


class CommandResult(BaseModel):
    """One command run in the sandbox."""

    argv: list[str]
    exit_code: int
    stdout: str = ""
    stderr: str = ""
    seconds: float = 0.0
    timed_out: bool = False
    killed: str = ""  # why the sandbox stopped it (timeout, memory, ...), empty if it exited


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


class FixTask(BaseModel):
    """What an agent is asked to do."""

    run_id: int
    prompt: str
    event: ErrorEvent
    error_type: str
    crash_file: str | None = None
    crash_line: int | None = None
    crash_function: str | None = None
    playbook: str = ""
    test_command: str | None = None
    instructions: str = ""  # the repository's AGENTS.md, if any
    max_steps: int = 30
    max_tokens: int = 200_000
    max_cost_usd: float = 2.0
    timeout_seconds: float = 900.0


class Attempt(BaseModel):
    """What one agent produced: a unified diff against the base, how, and at what cost."""

    agent: str
    patch: str = ""
    transcript: list[dict[str, object]] = Field(default_factory=list)
    cost_usd: float = 0.0
    tokens: int = 0
    seconds: float = 0.0
    error: str = ""


class PolicyFinding(BaseModel):
    """One way a patch breaks the diff policy."""

    rule: str
    path: str = ""
    detail: str = ""


class TestRunReport(BaseModel):
    """One run of a test command as a verdict shows it: exit code, per-outcome counts and a
    clipped, scrubbed log."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    command: str = ""
    exit_code: int = 0
    seconds: float = 0.0
    timed_out: bool = False
    killed: str = ""
    parser: str = ""  # where the per-test outcomes were read from (junit, pytest, go, exit code)
    counts: dict[str, int] = Field(default_factory=dict)
    log: str = ""


class SuiteCounts(BaseModel):
    """The suite's verdict in numbers."""

    passed_on_base: int = 0
    failing_on_base: int = 0
    broken: int = 0  # passed on base, not on the fix
    fixed: int = 0  # failing on base, passing on the fix
    ran_on_base: int = 0  # tests that ran (passed or failed), not skipped or left uncollected
    ran_on_fix: int = 0


class BrokenTest(BaseModel):
    """A test that passed on base and did not on the fix."""

    test: str
    fix: str


class FailingTest(BaseModel):
    """A test already failing on base: reported, never blamed."""

    test: str
    base: str
    fix: str


class SuiteReport(BaseModel):
    """The repository's suite on base and on the fix (`ran` is False when it did not run)."""

    ran: bool = False
    command: str = ""
    base: TestRunReport | None = None
    fix: TestRunReport | None = None
    counts: SuiteCounts = Field(default_factory=SuiteCounts)
    broken: list[BrokenTest] = Field(default_factory=list)
    failing_on_base: list[FailingTest] = Field(default_factory=list)
    fixed: list[str] = Field(default_factory=list)
    note: str = ""  # why the suite did not run
    # Why the suite on base gives no verdict (it ran no test, could not be collected, was
    # stopped): the patch can then be neither verified nor blamed.
    unusable: str = ""


class TestOutcome(BaseModel):
    """One reproduction test's outcome on base and on the fix."""

    __test__: ClassVar[bool] = False  # not a pytest test class

    base: str
    fix: str
    base_message: str = ""


class ReproductionCounts(BaseModel):
    """The reproduction check in numbers."""

    tests: int = 0
    red_on_base: int = 0
    green_on_fix: int = 0
    reproduced: int = 0
    not_run: int = 0


class ReproductionReport(BaseModel):
    """The tests a patch adds, red on base and green on the fix (`ran` False when they did not
    run). `source` says whether the tests were read from the patch or given by the caller."""

    ran: bool = False
    tests: list[str] = Field(default_factory=list)
    command: str = ""
    source: str = ""
    outcomes: dict[str, TestOutcome] = Field(default_factory=dict)
    red_on_base: list[str] = Field(default_factory=list)
    green_on_fix: list[str] = Field(default_factory=list)
    reproduced: list[str] = Field(default_factory=list)  # red on base with the crash's error
    passed_on_base: list[str] = Field(default_factory=list)
    not_run: list[str] = Field(default_factory=list)  # "test (why)": proves nothing either way
    counts: ReproductionCounts = Field(default_factory=ReproductionCounts)
    base: TestRunReport | None = None
    fix: TestRunReport | None = None


class PolicyReport(BaseModel):
    """The diff policy's verdict on a patch and its size."""

    passed: bool = False
    files: int = 0
    changed_lines: int = 0
    findings: list[PolicyFinding] = Field(default_factory=list)


class VerdictStatus(StrEnum):
    """What verification concluded: the patch works, it does not, or nothing could show it."""

    VERIFIED = "verified"
    REJECTED = "rejected"
    UNVERIFIABLE = "could not verify"


class Verification(BaseModel):
    """The verdict on a patch, with every reason and the logs behind it. `status` tells a
    rejection (the patch is wrong) from a verdict that could not be reached (the tests did not
    run); verdicts stored before it existed read as verified or rejected."""

    verified: bool
    status: VerdictStatus | None = None
    reasons: list[str] = Field(default_factory=list)
    reproduction: ReproductionReport = Field(default_factory=ReproductionReport)
    suite: SuiteReport = Field(default_factory=SuiteReport)
    policy: PolicyReport = Field(default_factory=PolicyReport)
    seconds: float = 0.0

    @model_validator(mode="after")
    def _status_from_verified(self) -> Verification:
        if self.status is None:
            self.status = VerdictStatus.VERIFIED if self.verified else VerdictStatus.REJECTED
        return self
