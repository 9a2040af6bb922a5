"""The error sources' webhook paths, served beneath the framework's routing.

At a thousand webhooks a second the per-request work of routing, dependency solving and the
exception middlewares cost as much as everything suture does with a webhook. `WebhookPaths`
sits just inside the application's outermost middleware and answers its paths itself: the
method (405), the cheap refusals before the body is read (`gate`: back-pressure, content type,
declared length), the body up to the size limit (413), then the hook. A `Rejection` anywhere is
answered as every refusal is; any other exception goes on to the 500 handler as before.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping

from starlette.datastructures import Headers
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from worker.web.refusals import refused
from worker.web.rejection import Rejection, refusal

Hook = Callable[[Headers, bytes], Awaitable[Response]]
Gate = Callable[[Headers], None]


class WebhookPaths:
    """ASGI middleware answering POSTs to `hooks`' paths; everything else goes to `app`."""

    def __init__(self, app: ASGIApp, hooks: Mapping[str, Hook], gate: Gate, limit: int) -> None:
        self.app = app
        self.hooks = dict(hooks)
        self.gate = gate
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve a webhook path, or pass the request on."""
        hook = self.hooks.get(scope["path"]) if scope["type"] == "http" else None
        if hook is None:
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        try:
            if scope["method"] != "POST":
                raise Rejection(405, f"method {scope['method'][:16]} is not allowed here: "
                                     "send POST", {"Allow": "POST"})
            self.gate(headers)
            response = await hook(headers, await read_limited(receive, self.limit))
        except Rejection as exc:
            refused(Request(scope), exc.status, exc.reason)
            response = refusal(exc.status, exc.reason, exc.headers)
        await response(scope, receive, send)


async def read_limited(receive: Receive, limit: int) -> bytes:
    """The request body, refused (413) as soon as it grows past `limit` bytes."""
    chunks, size, more = [], 0, True
    while more:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise Rejection(400, "the client went away before sending the whole body")
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise Rejection(413, f"body larger than {limit} bytes")
        chunks.append(chunk)
        more = message.get("more_body", False)
    return b"".join(chunks)
