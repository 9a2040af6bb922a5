"""`suture db scrub`: scrub what a store written before scrubbing at the door still holds raw.

Since events are scrubbed at ingestion, a new store never holds their secrets; one an older
suture wrote does: raw events, cluster titles, correlation frames, agents' patches and
transcripts, run and transition reasons, ingested webhook bodies. This rewrites each of them the
way ingestion and the stages now store them, in one transaction, and says how many rows changed.
Running it again changes nothing (scrubbing is idempotent).
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from worker.cli.output import echo
from worker.models import ErrorEvent
from worker.runs import RunRecord
from worker.scrub import scrub_event, scrub_name, scrub_text
from worker.settings import Settings
from worker.stages.scrubbing import scrubbed_attempt, scrubbed_command, scrubbed_correlation
from worker.store import SqlStore
from worker.store.retention import EMPTY, FINISHED, holds_payload
from worker.store.tables import ClusterRow, DeliveryRow, EventRow, RunRow, TransitionRow


@dataclass(frozen=True)
class ScrubReport:
    """How many rows of each table were rewritten."""

    events: int
    clusters: int
    runs: int
    transitions: int
    deliveries: int

    def __str__(self) -> str:
        return (f"scrubbed {self.events} event(s), {self.clusters} cluster(s), {self.runs} "
                f"run(s), {self.transitions} transition(s); emptied {self.deliveries} ingested "
                "webhook bod(ies)")


def scrub_stored(store: SqlStore) -> ScrubReport:
    """Rewrite every stored row that still holds what the scrubber removes."""
    with store.session() as session:
        return ScrubReport(events=_events(session), clusters=_clusters(session),
                           runs=_runs(session), transitions=_transitions(session),
                           deliveries=session.execute(
                               update(DeliveryRow)
                               .where(DeliveryRow.status.in_(FINISHED), holds_payload())
                               .values(payload=EMPTY)).rowcount)  # type: ignore[attr-defined]


def _events(session: Session) -> int:
    changed = 0
    for row in session.scalars(select(EventRow)):
        try:
            event = ErrorEvent.model_validate(row.payload)
        except ValidationError:
            continue  # not an event this suture can read: left for the sample to rotate out
        clean = scrub_event(event).model_dump(mode="json")
        if clean != row.payload:
            row.payload, changed = clean, changed + 1
    return changed


def _clusters(session: Session) -> int:
    changed = 0
    for row in session.scalars(select(ClusterRow)):
        title, culprit = scrub_text(row.title), scrub_name(row.culprit)
        if (title, culprit) != (row.title, row.culprit):
            row.title, row.culprit, changed = title, culprit, changed + 1
    return changed


def _runs(session: Session) -> int:
    changed = 0
    for row in session.scalars(select(RunRow)):
        record = RunRecord.load(row.details)
        parts: dict[str, object] = {}
        if record.correlation is not None:
            parts["correlation"] = scrubbed_correlation(record.correlation)
        if record.fix is not None:
            parts["fix"] = record.fix.model_copy(update={
                "attempts": [scrubbed_attempt(a) for a in record.fix.attempts],
                "audit": [scrubbed_command(c) for c in record.fix.audit]})
        details = {**(row.details or {}), **RunRecord.model_validate(parts).stored()}
        reason = scrub_text(row.reason)
        if details != row.details or reason != row.reason:
            row.details, row.reason, changed = details, reason, changed + 1
    return changed


def _transitions(session: Session) -> int:
    changed = 0
    for row in session.scalars(select(TransitionRow)):
        reason = scrub_text(row.reason)
        if reason != row.reason:
            row.reason, changed = reason, changed + 1
    return changed


def scrub_store_cli(settings: Settings) -> int:
    """The command: scrub the configured store and print what changed; the exit code."""
    store = SqlStore(settings.database_url)
    try:
        store.migrate()
        echo(str(scrub_stored(store)))
    finally:
        store.close()
    return 0
