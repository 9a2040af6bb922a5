"""Models of the fix loop: a task for an agent, what it produced, and what verification found.

Everything an agent sees is in `FixTask` (scrubbed event data inside the prompt, the crashing
frames, the playbook's rules); everything it hands back is an `Attempt` whose patch is judged by
`Verification`, outside the model.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

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


class Limits(BaseModel):
    """What one sandboxed command may use."""

    wall_seconds: float = 300.0
    cpu_seconds: int = 600
    memory_mb: int = 2048
    processes: int = 256
    file_mb: int = 256


class SandboxPolicy(BaseModel):
    """Where a sandboxed command may write and whom it may reach."""

    allow_hosts: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    limits: Limits = Field(default_factory=Limits)


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


class Verification(BaseModel):
    """The verdict on a patch, with every reason and the logs behind it."""

    verified: bool
    reasons: list[str] = Field(default_factory=list)
    reproduction: dict[str, object] = Field(default_factory=dict)
    suite: dict[str, object] = Field(default_factory=dict)
    policy: dict[str, object] = Field(default_factory=dict)
    seconds: float = 0.0
