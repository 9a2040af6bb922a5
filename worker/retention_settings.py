"""How long raw payloads may be kept (`Settings.retention`).

A webhook body is stored as it arrived until it is ingested: it holds whatever the failing
request carried (credentials, personal data). Once ingested only its scrubbed, normalised event
is kept; a delivery that could not be ingested keeps its raw body at most `raw_hours` so an
operator can look into it, then the purge (`worker.store.retention`) empties it.
"""

from __future__ import annotations

from pydantic import Field

from worker.settings_base import Section


class RetentionSettings(Section):
    """Retention of raw webhook bodies."""

    raw_hours: float = Field(default=24, gt=0,
                             description="a delivery's raw body is kept at most this long")
    purge_seconds: int = Field(default=900, ge=10,
                               description="how often the retention purge runs")
