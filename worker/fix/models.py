"""Models of the fix loop: a task for an agent, what it produced, and what verification found.

Everything an agent sees is in `FixTask` (scrubbed event data inside the prompt, the crashing
frames, the playbook's rules); everything it hands back is an `Attempt` whose patch is judged by
`Verification`, outside the model. This is where the loop's models are imported from: the
sandbox's are defined in `worker.fix.sandboxing`, the verdict's in `worker.fix.verdicts`.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from worker.fix.sandboxing import (
    HOST_NAME,
    PROXY_PORT,
    CommandResult,
    Forward,
    HostOrAddress,
    Limits,
    Mount,
    SandboxPolicy,
    Served,
    SocketRoute,
)
from worker.fix.verdicts import (
    BrokenTest,
    FailingTest,
    PolicyFinding,
    PolicyReport,
    ReproductionCounts,
    ReproductionReport,
    SuiteCounts,
    SuiteReport,
    TestOutcome,
    TestRunReport,
    VerdictStatus,
    Verification,
)
from worker.models import ErrorEvent

__all__ = [
    "HOST_NAME", "PROXY_PORT", "Attempt", "BrokenTest", "CommandResult", "FailingTest",
    "FixTask", "Forward", "HostOrAddress", "Limits", "Mount", "PolicyFinding", "PolicyReport",
    "ReproductionCounts", "ReproductionReport", "SandboxPolicy", "Served", "SocketRoute",
    "SuiteCounts", "SuiteReport", "TestOutcome", "TestRunReport", "VerdictStatus",
    "Verification",
]


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

