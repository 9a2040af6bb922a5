"""Building a week's digest from the store and sending it once per week to each outlet.

Each outlet's send claims the slot (`digest:<outlet>`, `<week>`) in the `slots` table first,
so two ticks, two schedulers or a redelivered message send a week's digest once. A send that
fails for now (`TransientError`: Slack's 429, an SMTP 4xx) gives its claim back and is raised,
so the actor's retry or the next tick sends it; one refused for good (`PermanentError`) keeps
its claim and is logged: retrying would be refused again. A worker that dies between the claim
and the send loses that week's digest on that outlet rather than sending it twice.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

from pydantic import BaseModel, Field

from worker.digest.ledger import compute_ledger
from worker.digest.models import Digest, WeekLedger
from worker.digest.outlets import DigestOutlet
from worker.digest.render import DigestRenderer
from worker.digest.week import IsoWeek
from worker.ports import PermanentError, TransientError
from worker.scrub import scrub_text
from worker.settings import Settings
from worker.store import SqlStore
from worker.store.reports import release_slot, slot_taken, week_rows

log = logging.getLogger("suture.digest")


class SendReport(BaseModel):
    """What one send of a week's digest did on each outlet."""

    week: str
    sent: dict[str, str] = Field(default_factory=dict)  # outlet → what it sent
    already: list[str] = Field(default_factory=list)  # outlets that had this week's digest
    refused: dict[str, str] = Field(default_factory=dict)  # outlet → why, for good


def ledger_for(store: SqlStore, settings: Settings, week: IsoWeek) -> WeekLedger:
    """The week's ledger from the store."""
    rows = week_rows(store, week.start, week.end)
    return compute_ledger(rows, week, stale_days=settings.follow.stale_days,
                          top=settings.digest.top)


def build_digest(store: SqlStore, settings: Settings, week: IsoWeek) -> Digest:
    """The week's digest, rendered with the configured playbooks' templates."""
    return DigestRenderer(settings.playbooks_dir).render(ledger_for(store, settings, week))


def slot_job(outlet: DigestOutlet) -> str:
    """The `slots` job an outlet's weekly claim is recorded under."""
    return f"digest:{outlet.name}"


def pending(store: SqlStore, outlets: Sequence[DigestOutlet], week: IsoWeek) -> list[str]:
    """The outlets that have not had `week`'s digest yet."""
    return [o.name for o in outlets if not slot_taken(store, slot_job(o), week.label)]


def send_week(store: SqlStore, settings: Settings, outlets: Sequence[DigestOutlet],
              week: IsoWeek) -> SendReport:
    """Send `week`'s digest to every outlet that has not had it; built only when one has not."""
    report = SendReport(week=week.label)
    if not pending(store, outlets, week):
        report.already = [outlet.name for outlet in outlets]
        return report
    digest = build_digest(store, settings, week)
    for outlet in outlets:
        job = slot_job(outlet)
        if not store.claim_slot(job, week.label):
            report.already.append(outlet.name)
            continue
        try:
            report.sent[outlet.name] = outlet.send(digest)
        except TransientError:
            release_slot(store, job, week.label)
            raise
        except PermanentError as exc:
            why = scrub_text(str(exc))[:300]
            log.warning("digest %s not sent on %s: %s", week.label, outlet.name, why)
            report.refused[outlet.name] = why
    return report


def send_last_week(store: SqlStore, settings: Settings, outlets: Sequence[DigestOutlet],
                   now: datetime) -> SendReport:
    """The scheduled send: the digest of the ISO week before the one `now` is in."""
    return send_week(store, settings, outlets, IsoWeek.containing(now).previous())
