"""How the web process takes in webhooks (`Settings.intake`): the group-commit writer that makes
each delivery durable before its answer, the limits that refuse work the service cannot keep up
with (429 with `Retry-After`), and the shape limits checked before a body is parsed.
"""

from __future__ import annotations

from pydantic import Field

from worker.settings_base import Section


class IntakeSettings(Section):
    """The webhook intake: batching, back-pressure and body limits."""

    max_batch: int = Field(default=256, ge=1, le=5000,
                           description="most deliveries written in one transaction")
    writers: int = Field(default=1, ge=1, le=32,
                         description="writers per web process (tasks on PostgreSQL, threads "
                                     "on SQLite), each with its own connection: batches "
                                     "commit side by side; more than one helps only when "
                                     "commits are slow")
    switch_interval_ms: float = Field(
        default=0.5, gt=0, le=5,
        description="the web process's GIL switch interval with the threaded intake (SQLite; "
                    "Python's default is 5 ms)")
    linger_ms: float = Field(default=1.0, ge=0, le=100,
                             description="how long a batch waits for more deliveries to join it")
    max_waiting: int = Field(default=2000, ge=1,
                             description="deliveries waiting for the writer in one process "
                                         "before new ones get 429")
    max_pending: int = Field(default=100_000, ge=1,
                             description="deliveries stored but not yet processed before new "
                                         "ones get 429")
    pending_check_seconds: float = Field(default=2.0, gt=0,
                                         description="how often the pending count is re-read")
    retry_after_seconds: int = Field(default=5, ge=1, description="the 429's Retry-After")
    max_depth: int = Field(default=64, ge=2, le=512,
                           description="deepest nesting of arrays and objects a body may have")
    access_log: bool = Field(default=False,
                             description="uvicorn's line per request in `suture web --workers`; "
                                         "costs about a tenth of the throughput")
    workers: int = Field(default=0, ge=0, le=64,
                         description="uvicorn worker processes of `suture web`; 0: one per CPU")
