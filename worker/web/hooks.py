"""The HTTP face of suture: webhook receivers and health checks (FastAPI).

A webhook is verified over its raw bytes, checked for shape, stored as a delivery and enqueued;
the answer (202) comes back in milliseconds because no vendor call happens here. Bad input gets a
4xx with the reason in the body (and in `Sentry-Hook-Error` for Sentry's delivery log), never a
500; anything accepted is in the store before the answer, so a lost message is re-sent by the
reconciler.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.datastructures import Headers
from starlette.requests import ClientDisconnect

from worker.actors import Actors
from worker.normalise import (
    SENTRY_ERROR_RESOURCES,
    PayloadError,
    from_datadog_monitor,
    from_sentry_webhook,
)
from worker.ports import ArtifactStore
from worker.settings import Settings
from worker.store import SqlStore
from worker.store.batch import NewDelivery
from worker.web.artifacts import artifact_routes
from worker.web.fastpath import WebhookPaths
from worker.web.intake import Intake, intake_for
from worker.web.loop_intake import LoopIntake, loop_intake_for
from worker.web.pages import install_pages
from worker.web.rejection import Rejection, install_refusals
from worker.web.signatures import verify_secret_header, verify_sentry
from worker.web.strict import check_content_type, parse_body

__all__ = ["Rejection", "WebDeps", "create_web"]

log = logging.getLogger("suture.web")



@dataclass
class WebDeps:
    """What the web process needs."""

    settings: Settings
    store: SqlStore
    actors: Actors
    clock: Callable[[], datetime]
    artifacts: ArtifactStore | None = None  # None: evidence files are not served
    intake: Intake | LoopIntake | None = None  # None: its own, stopped with the application


def create_web(deps: WebDeps) -> FastAPI:
    """The FastAPI application."""
    if deps.intake is None:
        # PostgreSQL: on the event loop; SQLite (one writer at a time anyway): in threads
        deps.intake = (loop_intake_for(deps.store.url, deps.settings.intake, deps.clock,
                                       deps.settings.broker_url)
                       or intake_for(deps.store.url, deps.store.engine, deps.settings.intake,
                                     deps.clock))
    intake = deps.intake
    ingest: Any = intake.sender_for(deps.actors.ingest_delivery)

    @asynccontextmanager
    async def lifespan(_web: FastAPI) -> AsyncIterator[None]:
        yield
        await intake.aclose()

    web = FastAPI(title="suture", version="0.1.0", docs_url=None, redoc_url=None,
                  lifespan=lifespan)
    install_refusals(web)

    @web.get("/healthz")
    def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @web.get("/readyz")
    def readyz() -> JSONResponse:
        try:
            with deps.store.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
        except Exception as exc:  # any database failure means "not ready", with the reason
            return JSONResponse({"status": "unavailable", "database": str(exc)[:200]}, 503)
        return JSONResponse({"status": "ready"})

    async def sentry_hook(headers: Headers, body: bytes) -> JSONResponse:
        secret = deps.settings.sentry.client_secret
        if secret is None:
            raise Rejection(503, "the Sentry webhook is not configured (no client secret)")
        decision = verify_sentry(body, headers.get("sentry-hook-signature"),
                                 secret.get_secret_value(),
                                 headers.get("sentry-hook-timestamp"), deps.clock(),
                                 deps.settings.webhook_max_age_seconds)
        if not decision.allowed:
            raise Rejection(401, decision.reason)
        resource = headers.get("sentry-hook-resource", "")
        if not resource:
            raise Rejection(400, "missing Sentry-Hook-Resource header")
        payload = _parse_json(body, deps.settings.intake.max_depth)
        if resource == "installation":
            return JSONResponse({"acknowledged": "installation"}, status_code=200)
        if resource not in SENTRY_ERROR_RESOURCES:
            return JSONResponse({"ignored": f"resource {resource!r} carries no error"}, 200)
        _check(lambda: from_sentry_webhook(resource, payload))
        return await _accept(intake, ingest, "sentry", resource, body)

    async def datadog_hook(headers: Headers, body: bytes) -> JSONResponse:
        settings = deps.settings.datadog
        if settings.webhook_secret is None:
            raise Rejection(503, "the Datadog webhook is not configured (no secret)")
        decision = verify_secret_header(headers.get(settings.webhook_header),
                                        settings.webhook_secret.get_secret_value())
        if not decision.allowed:
            raise Rejection(401, decision.reason)
        payload = _parse_json(body, deps.settings.intake.max_depth)
        transition = str(payload.get("alert_transition", ""))
        if transition.lower().startswith("recovered"):
            return JSONResponse({"ignored": "a recovery carries no new error"}, status_code=200)
        _check(lambda: from_datadog_monitor(payload))
        return await _accept(intake, ingest, "datadog", "monitor", body)

    web.add_middleware(WebhookPaths, hooks={"/hooks/sentry": sentry_hook,  # type: ignore[arg-type]
                                            "/hooks/datadog": datadog_hook},
                       gate=lambda headers: _gate(headers, deps),
                       limit=deps.settings.webhook_max_bytes)

    from worker.web.codehost_hooks import codehost_routes  # here: that module imports this one

    web.include_router(codehost_routes(deps))
    if deps.artifacts is not None:
        web.include_router(artifact_routes(deps.artifacts))
    install_pages(web, deps.settings, deps.store, deps.actors, deps.clock,
                  artifacts_served=deps.artifacts is not None)
    return web


def _gate(headers: Headers, deps: WebDeps) -> None:
    """The refusals made before a body is read: too much waiting (429), a content type other
    than JSON (415), a declared length over the limit (413)."""
    assert deps.intake is not None
    deps.intake.admit()
    check_content_type(headers.get("content-type"))
    limit = deps.settings.webhook_max_bytes
    declared = headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise Rejection(413, f"body larger than {limit} bytes")


async def _read_body(request: Request, deps: WebDeps) -> bytes:
    """A routed webhook's body (the code hosts'), after the same refusals as the others."""
    _gate(request.headers, deps)
    # Through the request's own stream, not the raw `receive`: a middleware that read the body
    # before us (sentry-sdk's, when suture reports its own errors) left it cached there.
    limit = deps.settings.webhook_max_bytes
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise Rejection(413, f"body larger than {limit} bytes")
            chunks.append(chunk)
    except ClientDisconnect:
        raise Rejection(400, "the client went away before sending the whole body") from None
    return b"".join(chunks)


def _parse_json(body: bytes, max_depth: int) -> dict[str, Any]:
    return parse_body(body, max_depth)


def _check(normalise: Callable[[], object]) -> None:
    try:
        normalise()
    except PayloadError as exc:
        raise Rejection(422, f"unexpected payload shape: {exc}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Rejection(422, f"unexpected payload shape: {type(exc).__name__}: {exc}") from None


async def _accept(intake: Intake | LoopIntake, send: Any, source: str, kind: str,
                  body: bytes) -> JSONResponse:
    stored = await intake.submit(NewDelivery.of_body(source, kind, body), send)
    if not stored.created:
        return JSONResponse({"duplicate": True, "delivery": stored.id}, status_code=200)
    return JSONResponse({"accepted": True, "delivery": stored.id}, status_code=202)
