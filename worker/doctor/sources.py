"""Checks of the error sources' settings: a source that is configured at all must have the
credentials for what it is meant to do, polling (Sentry: org and token; Datadog: API and
application keys) or webhooks (their secrets). Half a pair is an error: that source then does
nothing and says nothing about it.
"""

from __future__ import annotations

from worker.doctor.model import Check, Status
from worker.settings import Settings


def check_sentry(settings: Settings) -> Check:
    """Sentry's polling pair (org, token) is whole, and something receives its events."""
    sentry = settings.sentry
    if not (sentry.org or sentry.token or sentry.client_secret or sentry.projects):
        return Check("sentry", Status.OK, "not configured")
    if sentry.org and not sentry.token:
        return Check("sentry", Status.ERROR, "sentry.org is set but sentry.token is not: "
                     "nothing is polled",
                     "set SUTURE_SENTRY__TOKEN to an internal integration's token (event:read)")
    if sentry.token and not sentry.org:
        return Check("sentry", Status.ERROR, "sentry.token is set but sentry.org is not: "
                     "nothing is polled",
                     "set SUTURE_SENTRY__ORG to the organisation's slug")
    if not sentry.pollable and not sentry.client_secret:
        return Check("sentry", Status.ERROR, "sentry.projects is set but neither polling "
                     "(org and token) nor webhooks (client_secret) are configured",
                     "set SUTURE_SENTRY__CLIENT_SECRET, or SUTURE_SENTRY__ORG and "
                     "SUTURE_SENTRY__TOKEN")
    ways = [f"polls {sentry.org} at {sentry.base_url}" if sentry.pollable else "no polling",
            "webhooks signed" if sentry.client_secret else "webhooks refused (no client_secret)"]
    return Check("sentry", Status.OK, "; ".join(ways))


def check_datadog(settings: Settings) -> Check:
    """Datadog's key pair (API, application) is whole, and something receives its events."""
    datadog = settings.datadog
    if not (datadog.api_key or datadog.app_key or datadog.webhook_secret or datadog.services):
        return Check("datadog", Status.OK, "not configured")
    if bool(datadog.api_key) != bool(datadog.app_key):
        missing = "app_key" if datadog.api_key else "api_key"
        return Check("datadog", Status.ERROR, f"datadog.{missing} is not set: polling needs "
                     "both the API and the application key",
                     f"set SUTURE_DATADOG__{missing.upper()}")
    if not datadog.pollable and not datadog.webhook_secret:
        return Check("datadog", Status.ERROR, "datadog.services is set but neither polling "
                     "(api_key and app_key) nor the monitor webhook (webhook_secret) is "
                     "configured",
                     "set SUTURE_DATADOG__API_KEY and SUTURE_DATADOG__APP_KEY, or "
                     "SUTURE_DATADOG__WEBHOOK_SECRET")
    ways = [f"polls {datadog.host or datadog.site}" if datadog.pollable else "no polling",
            "monitor webhook on" if datadog.webhook_secret else "monitor webhook off"]
    return Check("datadog", Status.OK, "; ".join(ways))
