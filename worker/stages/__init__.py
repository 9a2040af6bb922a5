"""The pipeline's stages: plain functions over ids and a `Deps` bundle, callable from a test.

Each stage loads what it needs from the store, checks the state, does its work, saves, and says
what should happen next; it never sends messages itself (the actors do). Every stage is safe to run
twice: events are deduplicated, run transitions are conditional, and a ticket is claimed in the
store before it is filed and looked up on the forge before it is created.
"""

from __future__ import annotations

from worker.stages.correlate import correlate
from worker.stages.deps import Deferred, Deps, service_of
from worker.stages.fix import fix
from worker.stages.ingest import IngestResult, ingest_delivery, ingest_events, poll
from worker.stages.publish import draft_ticket, publish
from worker.stages.triage import triage
from worker.stages.verify import verify

__all__ = ["Deferred", "Deps", "IngestResult", "correlate", "draft_ticket", "fix",
           "ingest_delivery", "ingest_events", "poll", "publish", "service_of", "triage",
           "verify"]
