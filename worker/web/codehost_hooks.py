"""Webhook receivers for the code hosts: what happens on the pull and merge requests suture opened.

`POST /hooks/github` and `POST /hooks/gitlab` work as the error-source receivers do: the body is
read up to `webhook_max_bytes`, authenticated over its raw bytes, parsed, normalised into a
`ChangeActivity`, stored as a delivery (source "github" or "gitlab") and only then enqueued for
`follow_activity`; a lost message is re-sent by the reconciler. Bad input gets a 4xx with the
reason, an unconfigured secret refuses everything, and an event suture does not follow is
acknowledged without being stored.

A delivery is a duplicate (409, nothing stored or enqueued) when its body was received before
(`add_delivery` keeps one delivery per source and body hash) or when its host's delivery id was:
GitHub's `X-GitHub-Delivery` is kept by a redelivery, GitLab's `Idempotency-Key` by a retry
(older GitLab sends only `X-Gitlab-Event-UUID`, which need not survive a resend; the body hash
still matches). Ids are claimed in the store's once-only slots after the body is stored, so a
crash between the two never loses a delivery: at worst its id goes unclaimed.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import SecretStr
from starlette.concurrency import run_in_threadpool

from worker.codehost import ChangeActivity
from worker.normalise.codehost_events import (
    GITHUB,
    GITHUB_EVENTS,
    GITLAB,
    GITLAB_EVENTS,
    delivery_payload,
    from_github_webhook,
    from_gitlab_webhook,
)
from worker.normalise.fields import PayloadError
from worker.store.batch import NewDelivery
from worker.web.codehost_signatures import verify_github, verify_gitlab
from worker.web.hooks import Rejection, WebDeps, _parse_json, _read_body
from worker.web.refusals import refused

log = logging.getLogger("suture.web")

# Refusing for want of a secret is the deployment's fault, not the sender's: answered as the
# Sentry and Datadog receivers answer it (503), so a sender's log tells the two apart.
UNCONFIGURED = 503
_DELIVERY_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,127}")


def codehost_routes(deps: WebDeps) -> APIRouter:
    """The `/hooks/github` and `/hooks/gitlab` routes."""
    router = APIRouter()

    @router.post("/hooks/github", status_code=202)
    async def github_hook(request: Request) -> JSONResponse:
        body = await _read_body(request, deps)
        settings = deps.settings.github
        secrets = _secrets(settings.webhook_secret, settings.webhook_secret_previous)
        if not secrets:
            raise Rejection(UNCONFIGURED, "the GitHub webhook is not configured (no "
                                          "github.webhook_secret)")
        decision = verify_github(body, request.headers.get("x-hub-signature-256"), secrets)
        if not decision.allowed:
            raise Rejection(401, decision.reason)
        event = request.headers.get("x-github-event", "").strip()
        if not event:
            raise Rejection(400, "missing X-GitHub-Event header")
        delivery = _delivery_id(request.headers.get("x-github-delivery"), "X-GitHub-Delivery")
        if not delivery:
            raise Rejection(400, "missing X-GitHub-Delivery header")
        payload = _parse_json(body, deps.settings.intake.max_depth)
        if event == "ping":
            return JSONResponse({"pong": True}, status_code=200)
        if event not in GITHUB_EVENTS:
            return _ignored(f"event {event[:64]!r} is not followed")
        activity = _normalise(lambda: from_github_webhook(event, payload, delivery))
        if activity is None:
            return _ignored(f"{event} {str(payload.get('action'))[:64]!r} is not followed")
        return await _accept(deps, request, GITHUB, event, delivery, body, activity)

    @router.post("/hooks/gitlab", status_code=202)
    async def gitlab_hook(request: Request) -> JSONResponse:
        body = await _read_body(request, deps)
        settings = deps.settings.gitlab
        secrets = _secrets(settings.webhook_secret, settings.webhook_secret_previous)
        if not secrets:
            raise Rejection(UNCONFIGURED, "the GitLab webhook is not configured (no "
                                          "gitlab.webhook_secret)")
        decision = verify_gitlab(request.headers.get("x-gitlab-token"), secrets)
        if not decision.allowed:
            raise Rejection(401, decision.reason)
        event = request.headers.get("x-gitlab-event", "").strip()
        if not event:
            raise Rejection(400, "missing X-Gitlab-Event header")
        delivery = (_delivery_id(request.headers.get("idempotency-key"), "Idempotency-Key")
                    or _delivery_id(request.headers.get("x-gitlab-event-uuid"),
                                    "X-Gitlab-Event-UUID"))
        payload = _parse_json(body, deps.settings.intake.max_depth)
        if event not in GITLAB_EVENTS:
            return _ignored(f"event {event[:64]!r} is not followed")
        activity = _normalise(lambda: from_gitlab_webhook(event, payload, delivery))
        if activity is None:
            return _ignored(f"this {event} is not followed")
        return await _accept(deps, request, GITLAB, event, delivery, body, activity)

    return router


def _secrets(*values: SecretStr | None) -> list[str]:
    return [value.get_secret_value() for value in values if value is not None]


def _delivery_id(value: str | None, header: str) -> str:
    """The host's id of this delivery ("" when absent); a malformed one is refused."""
    if value is None or not value.strip():
        return ""
    if not _DELIVERY_ID.fullmatch(value.strip()):
        raise Rejection(400, f"{header} is not a delivery id")
    return value.strip()


def _normalise(normalise: Callable[[], ChangeActivity | None]) -> ChangeActivity | None:
    try:
        return normalise()
    except PayloadError as exc:
        raise Rejection(422, f"unexpected payload shape: {exc}") from None
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise Rejection(422, f"unexpected payload shape: {type(exc).__name__}: {exc}") from None


def _ignored(reason: str) -> JSONResponse:
    return JSONResponse({"ignored": reason}, status_code=202)


async def _accept(deps: WebDeps, request: Request, source: str, event: str,
                  delivery: str, body: bytes, activity: ChangeActivity) -> JSONResponse:
    assert deps.intake is not None
    stored = await deps.intake.submit(NewDelivery.of(source, activity.kind, body,
                                                     delivery_payload(event, activity)))
    if not stored.created:
        return _duplicate(request, stored.id)
    if delivery and not await run_in_threadpool(
            deps.store.claim_slot, f"{source}-delivery", _claim(event, delivery)):
        # The same delivery id with a different body: kept for the record, never followed up.
        await run_in_threadpool(
            deps.store.finish_delivery, stored.id, "ignored",
            f"duplicate: {source} delivery {delivery} was received before")
        return _duplicate(request, stored.id)
    try:
        await run_in_threadpool(deps.actors.follow_activity.send, stored.id)
    except Exception as exc:  # the broker is down: the delivery is stored, the reconciler re-sends
        log.warning("could not enqueue delivery %s (%s); the reconciler will", stored.id, exc)
    return JSONResponse({"accepted": True, "delivery": stored.id, "kind": activity.kind},
                        status_code=202)


def _duplicate(request: Request, delivery_id: int) -> JSONResponse:
    # A 4xx: a replayed body changes nothing, and says so (the host's own redelivery of a
    # delivery already stored gets the same answer, which is true of it too).
    reason = "duplicate delivery: already received"
    refused(request, 409, reason, delivery_id)
    return JSONResponse({"error": reason, "duplicate": True, "delivery": delivery_id},
                        status_code=409)


def _claim(event: str, delivery: str) -> str:
    """The slot a host's delivery id claims: per event, since a GitLab hook that another hook's
    API call triggered reuses that hook's `X-Gitlab-Event-UUID`. A digest fits any id in."""
    return hashlib.sha256(f"{event}\n{delivery}".encode()).hexdigest()
