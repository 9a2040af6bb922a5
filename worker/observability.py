"""suture's own error reporting: its exceptions go to a Sentry project of the operator's choosing.

Off unless `error_dsn` is set. suture handles other people's stack traces and holds tokens, so the
SDK is told never to send local variables or default PII, and every event passes the scrubber
before it leaves the process.
"""

from __future__ import annotations

from typing import Any

import sentry_sdk
from sentry_sdk.integrations.dramatiq import DramatiqIntegration

from worker.scrub import scrub_text
from worker.settings import Settings


def init_error_reporting(settings: Settings, **options: Any) -> bool:
    """Start sentry-sdk for suture itself when `error_dsn` is configured; True if started."""
    if settings.error_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.error_dsn.get_secret_value(),
        integrations=[DramatiqIntegration()],
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        before_send=scrub_report,
        **options,
    )
    return True


def scrub_report(event: dict[str, Any], _hint: dict[str, Any]) -> dict[str, Any]:
    """Scrub the free text of a report: messages, exception values, breadcrumbs."""
    for exception in (event.get("exception") or {}).get("values") or []:
        if isinstance(exception.get("value"), str):
            exception["value"] = scrub_text(exception["value"])
    message = event.get("logentry") or {}
    for key in ("message", "formatted"):
        if isinstance(message.get(key), str):
            message[key] = scrub_text(message[key])
    for crumb in (event.get("breadcrumbs") or {}).get("values") or []:
        if isinstance(crumb.get("message"), str):
            crumb["message"] = scrub_text(crumb["message"])
    event.pop("request", None)
    return event
