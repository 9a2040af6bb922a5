"""A second baseline: the least any receiver of a signed webhook must do, and nothing more.

A bare ASGI app that reads the body, checks its Sentry signature (HMAC-SHA256, constant-time
compare) and parses it as strict JSON (no NaN or Infinity) before answering 202. It stores and
enqueues nothing, so it acknowledges without durability: the ratio of this app to `bare.py`
bounds what any durable receiver could reach on the same machine.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from typing import Any, NoReturn

from bench.webhooks.bare import app as bare_app

_SECRET = os.environ.get("SUTURE_SENTRY__CLIENT_SECRET", "bench-client-secret").encode()
_ANSWER = b'{"accepted":true,"delivery":1}'


def _refuse_constant(name: str) -> NoReturn:
    raise ValueError(f"{name} is not JSON")


async def _read(receive: Any) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Read, verify, parse strictly; answer 202 (401 for a bad signature, 400 for bad JSON)."""
    if scope["type"] != "http":
        await bare_app(scope, receive, send)
        return
    body = await _read(receive)
    signature = dict(scope["headers"]).get(b"sentry-hook-signature", b"").decode("latin-1")
    status = 202
    if not hmac.compare_digest(signature, hmac.new(_SECRET, body, hashlib.sha256).hexdigest()):
        status = 401
    else:
        try:
            json.loads(body.decode("utf-8"), parse_constant=_refuse_constant)
        except ValueError:
            status = 400
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(_ANSWER)).encode())]})
    await send({"type": "http.response.body", "body": _ANSWER})
