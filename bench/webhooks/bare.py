"""The baseline: a bare ASGI application that reads a webhook's body and answers 202.

Served by the same uvicorn (same HTTP parser, event loop and worker count) as suture, so the
ratio of the two measures what suture's own work costs.
"""

from __future__ import annotations

from typing import Any

_HEADERS = [(b"content-type", b"application/json")]
_BODY = b'{"accepted":true,"delivery":1}'


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read the whole body, answer 202."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    await send({"type": "http.response.start", "status": 202,
                "headers": [*_HEADERS, (b"content-length", str(len(_BODY)).encode())]})
    await send({"type": "http.response.body", "body": _BODY})
