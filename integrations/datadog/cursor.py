"""Datadog poll cursors and the millisecond arithmetic of a poll window.

A cursor is the ISO 8601 UTC timestamp (`2025-06-27T06:48:32.867000Z`) of the newest event a
poll returned. Datadog stamps logs to the millisecond and takes window bounds in epoch
milliseconds, so `ms` converts in integer arithmetic and `horizon` decides how far an unfinished
window may move the cursor.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from worker.models import ErrorEvent

log = logging.getLogger(__name__)

ONE_MS = timedelta(milliseconds=1)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def parse_cursor(cursor: str | None) -> datetime | None:
    """The instant a cursor stands for; None (with a warning) when it is not a timestamp."""
    if not cursor:
        return None
    try:
        return utc(datetime.fromisoformat(cursor))
    except ValueError:
        log.warning("ignoring a Datadog cursor that is not an ISO timestamp: %r", cursor[:80])
        return None


def format_cursor(moment: datetime) -> str:
    """A cursor for `moment`: ISO 8601, UTC, microseconds, `Z`."""
    return utc(moment).isoformat(timespec="microseconds").replace("+00:00", "Z")


def horizon(log_events: list[ErrorEvent], since: datetime) -> datetime:
    """Where an unfinished log window stops: before the newest timestamp read, whose logs may go
    on past the last page, unless that is the only new one (then progress wins over ties)."""
    stamps = sorted({utc(e.timestamp) for e in log_events if utc(e.timestamp) > since})
    if not stamps:
        return since
    return stamps[-2] if len(stamps) > 1 else stamps[-1]


def utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive one is taken to be UTC already."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def ms(moment: datetime) -> int:
    """Epoch milliseconds, rounded down, in integer arithmetic (floats drift by a millisecond)."""
    return (utc(moment) - EPOCH) // ONE_MS
