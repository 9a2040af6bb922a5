"""The retention purge: raw webhook bodies in `deliveries` are kept no longer than needed.

A delivery's payload is the body as it arrived, before any scrubbing, so it is never rendered
and it is emptied (`{}`) as soon as it is no longer needed: right after ingestion
(`forget_payload`, called by the ingest stage), and by `purge`, which the scheduler runs, for
deliveries finished elsewhere (code-host follow-ups) and for those that failed or stayed pending
longer than `retention.raw_hours`. A pending delivery that old is marked failed, since nothing
can ingest it any more. The row itself stays: its digest still dedupes a redelivered body, and
its status and reason still say what happened.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, Text, cast, update

from worker.retention_settings import RetentionSettings
from worker.store.sql import SqlStore
from worker.store.tables import DeliveryRow

log = logging.getLogger(__name__)

EMPTY: dict[str, object] = {}
FINISHED = ("processed", "ignored")


@dataclass(frozen=True)
class PurgeReport:
    """What one purge did: payloads emptied after processing, failed ones past retention,
    and pending ones past retention (now failed)."""

    finished: int
    failed: int
    expired: int

    @property
    def total(self) -> int:
        """How many payloads were emptied."""
        return self.finished + self.failed + self.expired


def holds_payload() -> ColumnElement[bool]:
    """True for a delivery whose payload has not been emptied yet."""
    # JSON has no equality operator on PostgreSQL; its text form does, on both databases.
    return cast(DeliveryRow.payload, Text) != "{}"


def forget_payload(store: SqlStore, delivery_id: int) -> None:
    """Empty one delivery's raw payload (it has been ingested or ignored)."""
    with store.session() as session:
        session.execute(update(DeliveryRow).where(DeliveryRow.id == delivery_id)
                        .values(payload=EMPTY))


def purge(store: SqlStore, settings: RetentionSettings, now: datetime) -> PurgeReport:
    """Empty every raw payload that is no longer needed or is older than `raw_hours`."""
    cutoff = now - timedelta(hours=settings.raw_hours)
    with store.session() as session:
        finished = session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.status.in_(FINISHED), holds_payload())
            .values(payload=EMPTY)
        ).rowcount  # type: ignore[attr-defined]
        failed = session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.status == "failed", DeliveryRow.received_at < cutoff,
                   holds_payload())
            .values(payload=EMPTY)
        ).rowcount  # type: ignore[attr-defined]
        expired = session.execute(
            update(DeliveryRow)
            .where(DeliveryRow.status == "pending", DeliveryRow.received_at < cutoff)
            .values(payload=EMPTY, status="failed", updated_at=now,
                    reason=f"not ingested within {settings.raw_hours:g} h; its raw body was "
                           "discarded")
        ).rowcount  # type: ignore[attr-defined]
    report = PurgeReport(finished=finished, failed=failed, expired=expired)
    if report.total:
        log.info("retention purge emptied %d payload(s): %d finished, %d failed, %d expired",
                 report.total, finished, failed, expired)
    return report
