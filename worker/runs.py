"""A run and the typed record its stages leave on it.

Each stage hands the next one a pydantic part of the run's record: correlation (suspects and
owners), the fix outcome (every attempt, its verdict, the bisection, the chosen patch), and the
publication (where the ticket went). The record is stored as JSON and read back validated.
Rows written before a part's model gained or lost a field still load: every field has a
default and unknown keys are ignored; a part that still cannot be read is left out, named in
`unreadable`, and logged, so one bad part never hides the rest of the run.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from worker.correlate.models import Correlation
from worker.env.models import Environment, EnvironmentFailure
from worker.fix.models import Attempt, CommandResult, Verification
from worker.models import RunState
from worker.preview.outcome import PreviewOutcome
from worker.verify.bisection import Bisection

log = logging.getLogger("suture.runs")


class CommandSummary(BaseModel):
    """One sandboxed command, in short, for the run's audit trail."""

    argv: list[str]
    exit_code: int
    seconds: float = 0.0
    killed: str = ""
    reached: list[str] = Field(default_factory=list)  # host:port it connected to
    refused: list[str] = Field(default_factory=list)  # host:port: why it was turned away

    @classmethod
    def of(cls, result: CommandResult) -> CommandSummary:
        """The summary of a command's full result (its first 20 arguments)."""
        return cls(argv=result.argv[:20], exit_code=result.exit_code,
                   seconds=round(result.seconds, 3), killed=result.killed,
                   reached=list(result.reached), refused=list(result.refused))


class AttemptVerdict(Verification):
    """The verdict on one agent's patch."""

    agent: str


class ChosenPatch(BaseModel):
    """The verified patch a run publishes: the smallest that passed everything."""

    agent: str
    patch: str
    changed_lines: int
    verification: Verification


class FixOutcome(BaseModel):
    """What the fix and verify stages found: written by fix, completed by verify."""

    playbook: str = ""
    base: str = ""  # the commit every attempt started from
    attempts: list[Attempt] = Field(default_factory=list)
    audit: list[CommandSummary] = Field(default_factory=list)  # the fix stage's commands
    verifications: list[AttemptVerdict] = Field(default_factory=list)
    verify_audit: list[CommandSummary] = Field(default_factory=list)
    bisection: Bisection | None = None
    chosen: ChosenPatch | None = None
    # The repository's environment the attempts and tests ran in, or why it could not be built.
    environment: Environment | None = None
    environment_failure: EnvironmentFailure | None = None
    # The chosen patch checked on running previews of the base and the fix.
    preview: PreviewOutcome | None = None

    @property
    def patched(self) -> list[Attempt]:
        """The attempts that produced a patch."""
        return [attempt for attempt in self.attempts if attempt.patch]


class StepTiming(BaseModel):
    """How long one publishing step took."""

    step: str
    seconds: float


class PullRequestRecord(BaseModel):
    """How the run's draft pull (merge) request came about: its branch and commits, whether it
    was carried onto the default branch, who was asked to review, where the evidence went, and
    the time each step took."""

    branch: str
    base_branch: str = ""
    release: str = ""  # the commit the fix was made and verified on
    default_head: str = ""  # the default branch's head when the branch was made
    head: str = ""
    rebased: bool = False  # carried onto the default branch's head
    conflicts_with_default: bool = False  # could not be carried: left on the release commit
    pushed_earlier: bool = False  # the branch was already on the remote (an earlier attempt)
    adopted: bool = False  # the change existed already and was adopted
    number: int = 0
    reviewers: list[str] = Field(default_factory=list)
    reviewers_skipped: dict[str, str] = Field(default_factory=dict)
    check: str = ""  # "check_run" or "status"
    check_url: str = ""
    upstream_note: str = ""  # the note on the Sentry issue pointing at the change
    timings: list[StepTiming] = Field(default_factory=list)


class Publication(BaseModel):
    """Where a run's result was published, under which idempotency key. A ticket filed after
    a pull request could not be opened says why in `fallback_reason`."""

    kind: str = "ticket"
    key: str
    url: str
    pull_request: PullRequestRecord | None = None
    fallback_reason: str = ""


class Recurrence(BaseModel):
    """A new event of the cluster after its fix was merged, on a release containing the fix."""

    event_id: str
    release: str = ""
    at: datetime


class FollowRecord(BaseModel):
    """What happened to the run's pull request after it was opened: merged or closed (by
    whom, why), the upstream issue resolved, held or recurred, and the comments already
    acted on (so a redelivered webhook or a second poll acts once)."""

    merged_at: datetime | None = None
    merge_sha: str = ""
    merged_by: str = ""
    upstream_resolved: bool = False
    closed_at: datetime | None = None
    closed_by: str = ""
    close_reason: str = ""
    held_at: datetime | None = None
    recurrences: list[Recurrence] = Field(default_factory=list)
    handled: list[str] = Field(default_factory=list)  # comment ids acted on or ignored
    ignored: dict[str, str] = Field(default_factory=dict)  # comment id → why it was ignored
    reminded_at: datetime | None = None
    retries: int = 0  # new attempts asked for in review (or for a failing check)
    repairs: int = 0  # of which started by a failing check on the pull request (at most one)
    retry_pending: bool = False  # one is being made: its result goes to the same change
    review: list[str] = Field(default_factory=list)  # its feedback, then the thread (scrubbed)


class RunRecord(BaseModel):
    """Everything the stages left on a run, each part None until its stage has run."""

    model_config = ConfigDict(extra="ignore")

    correlation: Correlation | None = None
    fix: FixOutcome | None = None
    publication: Publication | None = None
    follow: FollowRecord | None = None
    unreadable: list[str] = Field(default_factory=list, exclude=True)

    @classmethod
    def load(cls, stored: dict[str, Any] | None) -> RunRecord:
        """The record from its stored JSON, part by part: an unreadable part is left out and
        named in `unreadable` rather than failing the whole run."""
        parts: dict[str, BaseModel] = {}
        unreadable: list[str] = []
        for name, model in _PARTS.items():
            value = (stored or {}).get(name)
            if value is None:
                continue
            try:
                parts[name] = model.model_validate(value)
            except ValidationError as exc:
                log.warning("run record part %r cannot be read (%d errors)", name,
                            exc.error_count())
                unreadable.append(name)
        return cls.model_validate({**parts, "unreadable": unreadable})

    def stored(self) -> dict[str, Any]:
        """The record as JSON for the store (parts not yet written are left out)."""
        return self.model_dump(mode="json", exclude_none=False,
                               exclude={n for n in type(self).model_fields
                                        if getattr(self, n) is None})


_PARTS: dict[str, type[BaseModel]] = {"correlation": Correlation, "fix": FixOutcome,
                                      "publication": Publication, "follow": FollowRecord}


class Run(BaseModel):
    """suture's work on one episode of a cluster, with the record its stages left."""

    id: int
    cluster_id: int
    episode: int
    state: RunState
    reason: str = ""
    attempts: int = 0
    ticket_url: str = ""
    record: RunRecord = Field(default_factory=RunRecord)
    dispatched: str = ""  # the state whose next message has been sent
    created_at: datetime
    updated_at: datetime
