"""suture's own domain models: what every source is normalised into and what stages pass around.

Everything here is a plain pydantic value. Vendors' shapes (Sentry's stored and REST events,
Datadog logs and issues, webhook envelopes) are turned into these by `worker.normalise`; nothing
downstream of normalisation ever sees a vendor dictionary.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Source(StrEnum):
    """Where an event came from."""

    SENTRY = "sentry"
    DATADOG = "datadog"


class Frame(BaseModel):
    """One stack frame. `filename` is the path as reported, `abs_path` the runtime path."""

    model_config = ConfigDict(frozen=True)

    filename: str | None = None
    abs_path: str | None = None
    module: str | None = None
    function: str | None = None
    lineno: int | None = None
    colno: int | None = None
    in_app: bool = True
    context_line: str | None = None


class ExceptionInfo(BaseModel):
    """One exception of a (possibly chained) error; frames run oldest to newest (crash last)."""

    type: str
    value: str = ""
    module: str | None = None
    frames: list[Frame] = Field(default_factory=list)


class RequestData(BaseModel):
    """The HTTP request that failed, kept so a later stage can replay it."""

    method: str | None = None
    url: str | None = None
    query: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    body: str | None = None


class ErrorEvent(BaseModel):
    """One occurrence of an error, from any source, in one shape.

    `exceptions` follows Sentry's order: chained causes first, the exception that was finally
    raised last. `issue_id` is the upstream grouping id (Sentry issue, Datadog issue) when known.
    """

    source: Source
    event_id: str
    issue_id: str | None = None
    short_id: str | None = None  # the upstream issue's readable id (Sentry's `SHOP-1A`)
    project: str | None = None
    platform: str | None = None
    level: str = "error"
    title: str = ""
    message: str = ""
    exceptions: list[ExceptionInfo] = Field(default_factory=list)
    timestamp: datetime
    release: str | None = None
    environment: str | None = None
    user: str | None = None
    tags: dict[str, str] = Field(default_factory=dict)
    request: RequestData | None = None
    link: str | None = None
    # A notification the vendor sent to try the integration ("[TEST]" monitor), not an error.
    test_notification: bool = False

    @property
    def primary(self) -> ExceptionInfo | None:
        """The exception that was finally raised (the last one), if any."""
        return self.exceptions[-1] if self.exceptions else None

    @property
    def frames(self) -> list[Frame]:
        """Frames of the primary exception, oldest to newest."""
        primary = self.primary
        return list(primary.frames) if primary else []


class ClusterStatus(StrEnum):
    """Lifecycle of a cluster of events that are the same bug."""

    OPEN = "open"
    RESOLVED = "resolved"
    IGNORED = "ignored"


class RunState(StrEnum):
    """States of a run: one attempt by suture to act on a cluster's episode."""

    NEW = "new"
    TRIAGED = "triaged"
    CORRELATED = "correlated"
    FIXING = "fixing"
    PATCHED = "patched"
    VERIFYING = "verifying"
    VERIFIED = "verified"
    UNVERIFIED = "unverified"
    PUBLISHING = "publishing"
    PROPOSED = "proposed"  # a draft pull (merge) request is open
    MERGED = "merged"  # its pull request was merged; watched until it held or recurred
    HELD = "held"  # merged, released, and the error did not come back in the watch period
    RECURRED = "recurred"  # the error came back on a release containing the fix
    CLOSED = "closed"  # its pull request was closed without merging
    TICKETED = "ticketed"
    SKIPPED = "skipped"
    FAILED = "failed"

    @property
    def terminal(self) -> bool:
        """True when nothing more will happen to a run in this state."""
        return self in TERMINAL_STATES


# Terminal for the pipeline: what happens to a proposed fix afterwards comes from the code host
# and the watch (`stages.follow`), not from the reconciler.
TERMINAL_STATES = frozenset({RunState.PROPOSED, RunState.MERGED, RunState.HELD,
                             RunState.RECURRED, RunState.CLOSED, RunState.TICKETED,
                             RunState.SKIPPED, RunState.FAILED})


class Decision(BaseModel):
    """A yes/no with the reason, so every skip can be reported."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    reason: str


class Ticket(BaseModel):
    """A ticket filed on a forge (GitHub issue, Markdown file, ...)."""

    ref: str
    url: str


class Cluster(BaseModel):
    """A group of events that are the same bug, as the store holds it."""

    id: int
    fingerprint: str
    title: str
    exception_type: str = ""
    culprit: str = ""
    project: str = ""
    platform: str = ""
    status: ClusterStatus = ClusterStatus.OPEN
    episode: int = 1
    event_count: int = 0
    user_count: int = 0
    regressions: int = 0
    first_seen: datetime
    last_seen: datetime
    links: dict[str, str] = Field(default_factory=dict)
    upstream: dict[str, str] = Field(default_factory=dict)


class Transition(BaseModel):
    """One recorded state change of a run."""

    from_state: str
    to_state: RunState
    reason: str
    at: datetime


class Delivery(BaseModel):
    """A payload accepted from outside (webhook, file), waiting to be or already processed."""

    id: int
    source: str
    kind: str
    payload: dict[str, object]
    status: str
    reason: str = ""
    attempts: int = 0
    received_at: datetime


class IngestOutcome(BaseModel):
    """What recording one event did: which cluster, whether it opened a run, and why."""

    cluster_id: int | None = None
    run_id: int | None = None
    new_cluster: bool = False
    regression: bool = False
    duplicate: bool = False


class Lease(BaseModel):
    """A publication's record: its status, where it lives, and whether the caller holds it."""

    status: str
    url: str = ""
    owned: bool = False
    until: datetime | None = None
