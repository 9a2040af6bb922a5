"""suture's own error reporting: its exceptions go to a Sentry project of the operator's choosing.

Off unless `error_dsn` is set. suture handles other people's stack traces and holds tokens, so the
SDK is told never to send local variables or default PII, and every event passes the scrubber
before it leaves the process.
"""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from sentry_sdk.integrations.dramatiq import DramatiqIntegration
from sentry_sdk.integrations.logging import LoggingIntegration
from sentry_sdk.types import Event, Hint
from sentry_sdk.utils import AnnotatedValue

from worker.egress import Channel, outbound
from worker.settings import Settings


def init_error_reporting(settings: Settings, **options: Any) -> bool:
    """Start sentry-sdk for suture itself when `error_dsn` is configured; True if started."""
    if settings.error_dsn is None:
        return False
    sentry_sdk.init(
        dsn=settings.error_dsn.get_secret_value(),
        # Said outright: an error logged is a report (sentry-sdk 3 stopped doing so by default).
        integrations=[DramatiqIntegration(), LoggingIntegration(event_level=logging.ERROR)],
        data_collection={"user_info": False, "http_bodies": [], "stack_frame_variables": False},
        before_send=scrub_report,
        **options,
    )
    return True


def scrub_report(event: Event, _hint: Hint) -> Event | None:
    """Scrub the free text of a report: messages (and a log record's arguments), exception
    values, the source lines shown around each frame, breadcrumbs."""
    exceptions = (event.get("exception") or {}).get("values") or []
    for exception in exceptions:
        if isinstance(exception.get("value"), str):
            exception["value"] = outbound(exception["value"], Channel.ERROR_REPORT)
    threads = (event.get("threads") or {}).get("values") or []
    for holder in [event, *exceptions, *threads]:
        for frame in (holder.get("stacktrace") or {}).get("frames") or []:
            _scrub_source(frame)
    if isinstance(event.get("message"), str):
        event["message"] = outbound(event["message"], Channel.ERROR_REPORT)
    logentry = event.get("logentry")
    if logentry:
        # A new mapping rather than an edit: the SDK types `logentry` as read-only.
        event["logentry"] = {key: _scrub_value(value) for key, value in logentry.items()}
    crumbs = event.get("breadcrumbs")
    # Typed as possibly wrapped (when the SDK dropped some); it unwraps before `before_send`
    # today, but a wrapped list must not slip through unscrubbed.
    if isinstance(crumbs, AnnotatedValue):
        crumbs = crumbs.value
    for crumb in (crumbs or {}).get("values") or []:
        if isinstance(crumb.get("message"), str):
            crumb["message"] = outbound(crumb["message"], Channel.ERROR_REPORT)
    event.pop("request", None)
    return event


def _scrub_source(frame: dict[str, Any]) -> None:
    """The source lines around a frame: a line may hold a literal as sensitive as a message."""
    for key in ("pre_context", "context_line", "post_context"):
        if key in frame:
            frame[key] = _scrub_value(frame[key])


def _scrub_value(value: object) -> object:
    """A string scrubbed, and the strings of a list (a log record's arguments); else as is."""
    if isinstance(value, str):
        return outbound(value, Channel.ERROR_REPORT)
    if isinstance(value, list | tuple):
        return [_scrub_value(item) for item in value]
    return value
