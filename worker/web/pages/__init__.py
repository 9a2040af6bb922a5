"""The review pages for on-call: server-rendered HTML (Jinja2, no build step) on the web app.

`install_pages` adds them when `pages.token` or `pages.trusted_header` is configured; otherwise
nothing is added and `/` stays a 404. Routes live in `routes` (reading) and `posts` (login and
actions), who may use them in `auth`, what the buttons do in `actions`, and the HTML in
`templates/` next to this package.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from fastapi import FastAPI, Request
from starlette.responses import Response

from worker.actors import Actors
from worker.settings import Settings
from worker.store import SqlStore
from worker.web.pages.auth import Signer
from worker.web.pages.posts import ActionDeps, post_routes
from worker.web.pages.render import PageRefusal, render
from worker.web.pages.routes import PageDeps, page_routes

__all__ = ["install_pages"]


def install_pages(web: FastAPI, settings: Settings, store: SqlStore, actors: Actors,
                  clock: Callable[[], datetime], artifacts_served: bool) -> bool:
    """Add the review pages to `web` if a way to sign in is configured; whether they were."""
    if not settings.pages.enabled:
        return False
    pages = PageDeps(store=store, settings=settings.pages, clock=clock,
                     artifacts_served=artifacts_served, signer=Signer(settings.pages))
    web.include_router(page_routes(pages))
    web.include_router(post_routes(ActionDeps(pages=pages, settings=settings, actors=actors)))

    @web.exception_handler(PageRefusal)
    async def _refused(_request: Request, exc: PageRefusal) -> Response:
        return render("refused.html", exc.status, user=None, status=exc.status,
                      reason=exc.reason, back=exc.back)

    return True
