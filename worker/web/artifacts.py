"""Serving kept evidence files (screenshots, logs) to reviewers: `GET /artifacts/{run}/{name}`.

Only what the `ArtifactStore` holds is served, and only PNG images and plain text, with the type
the store names; anything else is a 404 that says nothing about why. Replayed pages and logs
carry text an attacker chose, so every answer forbids content sniffing and runs under a
sandboxing content security policy: a file can never act as a page on suture's origin.
"""

from __future__ import annotations

from fastapi import APIRouter, Response

from worker.egress import Channel, outbound
from worker.ports import ArtifactStore

# The bare types ever served; the store decides each file's exact type within these.
SERVED_TYPES = frozenset({"image/png", "text/plain"})
_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def artifact_routes(store: ArtifactStore) -> APIRouter:
    """The router serving `store`'s artifacts."""
    router = APIRouter()

    @router.get("/artifacts/{run_id}/{name}")
    def artifact(run_id: str, name: str) -> Response:
        if not run_id.isascii() or not run_id.isdigit() or len(run_id) > 18:
            return _not_found()
        found = store.get(int(run_id), name)
        if found is None:
            return _not_found()
        kept, data = found
        served = kept.content_type.split(";", 1)[0].strip().lower()
        if served not in SERVED_TYPES:
            return _not_found()
        if served == "text/plain":  # a log quotes what the tests printed, events included
            data = outbound(data.decode("utf-8", "replace"), Channel.WEB).encode()
        return Response(content=data, media_type=kept.content_type,
                        headers={**_HEADERS, "ETag": f'"{kept.sha256}"'})

    return router


def _not_found() -> Response:
    return Response(content="not found\n", status_code=404, media_type="text/plain",
                    headers=_HEADERS)
