"""Normalisation: every vendor shape suture accepts, turned into `worker.models.ErrorEvent`.

Sentry arrives as stored events (webhooks, legacy plugin), REST API events (polling) and issue
webhooks; Datadog as log items with text stacks, Error Tracking issues and monitor webhooks. Each
has one function here; `detect_and_normalise` picks the right one for a document of unknown
shape. Malformed input raises `PayloadError` (a `ValueError`) whose text says what is wrong.
Normalisation is pure: the same document always gives the same event (missing ids become content
digests and missing times `MISSING_TIMESTAMP`), and vendor text is only ever kept as data.
"""

from __future__ import annotations

from worker.normalise.datadog import from_datadog_issue, from_datadog_log
from worker.normalise.datadog_monitor import from_datadog_monitor
from worker.normalise.detect import detect_and_normalise
from worker.normalise.fields import MISSING_TIMESTAMP, PayloadError
from worker.normalise.sentry import from_sentry_api, from_sentry_stored
from worker.normalise.sentry_webhook import (
    SENTRY_ERROR_RESOURCES,
    from_sentry_issue,
    from_sentry_webhook,
    resource_of,
)

__all__ = [
    "MISSING_TIMESTAMP",
    "SENTRY_ERROR_RESOURCES",
    "PayloadError",
    "detect_and_normalise",
    "from_datadog_issue",
    "from_datadog_log",
    "from_datadog_monitor",
    "from_sentry_api",
    "from_sentry_issue",
    "from_sentry_stored",
    "from_sentry_webhook",
    "resource_of",
]
