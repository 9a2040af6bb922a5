"""ISO weeks: `2026-W48` runs from Monday 00:00 UTC to the next Monday 00:00 UTC.

A week is always passed in: the digest's computation never reads the clock, so the same store
gives the same digest for the same week whenever it is computed.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from pydantic import BaseModel, ConfigDict

_LABEL = re.compile(r"(\d{4})-W(\d{2})")


class IsoWeek(BaseModel):
    """One ISO week (year and week number, as ISO 8601 counts them)."""

    model_config = ConfigDict(frozen=True)

    year: int
    week: int

    @classmethod
    def parse(cls, text: str) -> IsoWeek:
        """The week `YYYY-Www` names; ValueError saying why when it names none."""
        match = _LABEL.fullmatch(text.strip())
        if match is None:
            raise ValueError(f"{text!r} is not an ISO week like 2026-W48")
        year, week = int(match.group(1)), int(match.group(2))
        try:
            date.fromisocalendar(year, week, 1)
        except ValueError:
            raise ValueError(f"{year} has no ISO week {week}") from None
        return cls(year=year, week=week)

    @classmethod
    def containing(cls, moment: datetime) -> IsoWeek:
        """The week `moment` (taken in UTC) falls in."""
        year, week, _ = moment.astimezone(UTC).isocalendar()
        return cls(year=year, week=week)

    @property
    def label(self) -> str:
        """`YYYY-Www`."""
        return f"{self.year}-W{self.week:02d}"

    @property
    def start(self) -> datetime:
        """Monday 00:00 UTC, the first instant of the week."""
        monday = date.fromisocalendar(self.year, self.week, 1)
        return datetime(monday.year, monday.month, monday.day, tzinfo=UTC)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 UTC, the first instant after the week."""
        return self.start + timedelta(days=7)

    def previous(self) -> IsoWeek:
        """The week before this one."""
        return IsoWeek.containing(self.start - timedelta(days=1))

    def holds(self, moment: datetime) -> bool:
        """True when `moment` is inside the week."""
        return self.start <= moment < self.end
