"""What verification found about a patch: the diff policy's findings, the reproduction tests
and the suite on base and on the fix, and the `Verification` verdict that gathers them.
`worker.fix.models` re-exports them with the rest of the fix loop's models."""

from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import BaseModel, Field, model_validator


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
