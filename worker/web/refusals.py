"""Refused webhooks, said once: a WARNING line with the status and the reason, and a count on
the web app's `/metrics` (when it serves one).

An operator whose Sentry integration shows 401s must find why in suture's log; the reason may
quote what the sender sent, so it is scrubbed like every other log line.
"""

from __future__ import annotations

import logging

from starlette.requests import Request

from worker.scrub import scrub_text

log = logging.getLogger("suture.web")

HOOK_SOURCES = ("sentry", "datadog", "github", "gitlab")


def hook_source(path: str) -> str:
    """Which receiver a path is (`/hooks/<source>`), or "other": a bounded label."""
    prefix, _, name = path.rstrip("/").rpartition("/")
    return name if prefix == "/hooks" and name in HOOK_SOURCES else "other"


def refused(request: Request, status: int, reason: str, delivery_id: int | None = None) -> None:
    """Log a refused request and count it on the app's refusal counter, if it has one."""
    source = hook_source(request.url.path)
    clean = scrub_text(reason)
    extra: dict[str, object] = {"source": source, "status": status, "reason": clean}
    if delivery_id is not None:
        extra["delivery_id"] = delivery_id
    log.warning("refused %s %s: %d %s", request.method, request.url.path[:200], status, clean,
                extra=extra)
    app = request.scope.get("app")  # absent when refused before the app saw the request
    counter = getattr(app.state, "refusals", None) if app is not None else None
    if counter is not None:
        counter.labels(source=source, status=str(status)).inc()
