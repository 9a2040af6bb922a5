"""The weekly digest's typed records: what the store says about a week (`WeekLedger`) and the
digest rendered from it (`Digest`).

Every text in a ledger (cluster titles, skip reasons) is already scrubbed (`worker.scrub`) when
the ledger is made; the renderers escape it again for Markdown and HTML.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class Spread(BaseModel):
    """The median and the largest of some measurements, and how many there were."""

    model_config = ConfigDict(frozen=True)

    count: int
    median: float
    largest: float


class ReasonCount(BaseModel):
    """How many runs were skipped for one reason."""

    model_config = ConfigDict(frozen=True)

    reason: str
    runs: int


class NoisyCluster(BaseModel):
    """A cluster and its events in the week."""

    model_config = ConfigDict(frozen=True)

    cluster_id: int
    title: str
    project: str = ""
    events: int
    new: bool = False  # first seen this week


class WeekLedger(BaseModel):
    """What happened in one ISO week, from the store only.

    Events are counted from the kept sample of each cluster (`events`, newest few per cluster)
    and from each cluster's first and last sighting, so a very noisy cluster's count is a lower
    bound. Run outcomes are counted from the `transitions` table: a run counts once per outcome
    whatever number of times it entered it.
    """

    week: str
    start: datetime
    end: datetime
    stale_days: float
    clusters_seen: int = 0
    new_clusters: int = 0
    events: int = 0
    events_by_day: list[int] = Field(default_factory=lambda: [0] * 7)  # Monday first
    skipped: list[ReasonCount] = Field(default_factory=list)
    attempted: int = 0  # runs that reached the fix stage
    pull_requests: int = 0  # draft pull requests opened
    tickets: int = 0
    merged: int = 0
    closed: int = 0
    stale: int = 0  # open at the week's end, and for longer than `stale_days`
    held: int = 0
    recurred: int = 0
    time_to_pr_seconds: Spread | None = None  # run created → its pull request opened
    pr_size_lines: Spread | None = None  # changed lines of the chosen patch
    acceptance_rate: float | None = None  # merged / (merged + closed)
    reworked: int = 0  # merged or closed pull requests that needed a retry or repair
    rework_rate: float | None = None  # reworked / (merged + closed)
    model_cost_usd: float = 0.0  # of the runs attempted this week
    model_tokens: int = 0
    merged_cost_usd: float = 0.0  # of the runs merged this week
    cost_per_merged_fix_usd: float | None = None
    noisiest: list[NoisyCluster] = Field(default_factory=list)

    @property
    def skipped_runs(self) -> int:
        """Runs skipped, whatever the reason."""
        return sum(item.runs for item in self.skipped)

    @property
    def quiet(self) -> bool:
        """Nothing to report: no error seen and no run moved."""
        counts = (self.clusters_seen, self.skipped_runs, self.attempted, self.pull_requests,
                  self.tickets, self.merged, self.closed, self.stale, self.held, self.recurred)
        return not any(counts)


class Digest(BaseModel):
    """A week's digest in every form a channel takes."""

    model_config = ConfigDict(frozen=True)

    week: str
    title: str
    markdown: str
    html: str
    text: str  # plain text, for chat and the plain part of an email
    quiet: bool = False
