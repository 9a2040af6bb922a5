"""The review pages an on-call engineer reads: clusters, one cluster's runs, one run's whole
record with its live timeline, pull requests awaiting review, and skips by reason.

Every page needs a signed-in user (`auth`); without one, a browser is sent to `/login` (or told
to come through the proxy when only a trusted header is configured). Pages render typed values
(`RunRecord`, `worker.store.views` summaries), never stored dictionaries.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Path, Request
from markupsafe import Markup
from starlette.responses import HTMLResponse, RedirectResponse, Response

from worker.models import Cluster, Transition
from worker.pages_settings import PagesSettings
from worker.runs import Run
from worker.store import SqlStore
from worker.store.page_guards import session_revoked
from worker.store.views import awaiting_review, cluster_summaries, skipped_by_reason
from worker.web.pages.auth import Principal, Signer, current_user, form_token
from worker.web.pages.render import PageRefusal, render

Id = Annotated[int, Path(ge=1, le=2**31 - 1)]
NOTICES = {"retried": "Retry started: the run is back in the pipeline.",
           "ignored": "Cluster ignored: triage skips its runs from now on.",
           "signed-in": "Signed in."}
_ARTIFACT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass
class PageDeps:
    """What the pages read: the store, the pages' settings, the clock, whether evidence files
    are served here, and the signer of sessions and forms."""

    store: SqlStore
    settings: PagesSettings
    clock: Callable[[], datetime]
    artifacts_served: bool
    signer: Signer

    def user(self, request: Request) -> Principal | None:
        """Who is asking, if anyone signed in (a session ended by logging out is nobody)."""
        user = current_user(request, self.settings, self.signer, self.clock())
        if user is not None and user.session and session_revoked(self.store, user.session):
            return None
        return user

    def gate(self, request: Request) -> Response | None:
        """The way to sign in when nobody is; None when someone is (checked before anything
        is looked up, so ids are not confirmed to strangers)."""
        return self.sign_in(request) if self.user(request) is None else None

    def page(self, request: Request, template: str, status: int = 200,
             **context: Any) -> Response:
        """A signed-in user's page, or the way to sign in."""
        user = self.user(request)
        if user is None:
            return self.sign_in(request)
        notice = NOTICES.get(request.query_params.get("notice", ""), "")
        return render(template, status, user=user, csrf=Markup(form_token(self.signer, user)),
                      now=self.clock(), notice=notice, **context)

    def sign_in(self, request: Request) -> Response:
        """Where someone not signed in goes: the login form, or a note about the proxy."""
        if self.settings.token is not None:
            target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
            return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
        return render("refused.html", 401, user=None, status=401, back="/",
                      reason=f"sign in through the proxy that sets the "
                             f"{self.settings.trusted_header} header")


def artifact_src(run_id: int, url: str, served: bool) -> str:
    """Where a page loads a kept screenshot from: this site's `/artifacts/{run}/{name}` when
    it serves the artifact store, else the URL the store gave."""
    name = url.rstrip("/").rsplit("/", 1)[-1]
    if served and _ARTIFACT_NAME.fullmatch(name) and ".." not in name:
        return f"/artifacts/{run_id}/{name}"
    return url


def page_routes(deps: PageDeps) -> APIRouter:
    """The router serving the read-only pages."""
    router = APIRouter()

    @router.get("/", response_class=HTMLResponse)
    def clusters(request: Request) -> Response:
        found, total = cluster_summaries(deps.store)
        return deps.page(request, "clusters.html", clusters=found, total=total)

    @router.get("/clusters/{cluster_id}", response_class=HTMLResponse)
    def cluster(request: Request, cluster_id: Id) -> Response:
        if (denied := deps.gate(request)) is not None:
            return denied
        found = _cluster(deps.store, cluster_id)
        runs = list(reversed(deps.store.list_runs(cluster_id)))
        return deps.page(request, "cluster.html", cluster=found, runs=runs)

    @router.get("/runs/{run_id}", response_class=HTMLResponse)
    def run(request: Request, run_id: Id) -> Response:
        if (denied := deps.gate(request)) is not None:
            return denied
        found = _run(deps.store, run_id)
        return deps.page(request, "run.html", run=found,
                         cluster=_cluster(deps.store, found.cluster_id),
                         transitions=deps.store.transitions(run_id),
                         refresh=deps.settings.refresh_seconds,
                         shot_src=lambda url: artifact_src(run_id, url, deps.artifacts_served))

    @router.get("/runs/{run_id}/timeline", response_class=HTMLResponse)
    def timeline(request: Request, run_id: Id) -> Response:
        if deps.user(request) is None:
            raise PageRefusal(401, "not signed in")
        found = _run(deps.store, run_id)
        transitions: list[Transition] = deps.store.transitions(run_id)
        response = render("timeline.html", run=found, transitions=transitions)
        response.headers["X-Run-State"] = found.state.value
        response.headers["X-Run-Terminal"] = "1" if found.state.terminal else "0"
        return response

    @router.get("/reviews", response_class=HTMLResponse)
    def reviews(request: Request) -> Response:
        return deps.page(request, "reviews.html", items=awaiting_review(deps.store))

    @router.get("/skips", response_class=HTMLResponse)
    def skips(request: Request) -> Response:
        groups = skipped_by_reason(deps.store)
        return deps.page(request, "skips.html", groups=groups,
                         total=sum(group.count for group in groups))

    return router


def _run(store: SqlStore, run_id: int) -> Run:
    found = store.get_run(run_id)
    if found is None:
        raise PageRefusal(404, f"there is no run {run_id}")
    return found


def _cluster(store: SqlStore, cluster_id: int) -> Cluster:
    found = store.get_cluster(cluster_id)
    if found is None:
        raise PageRefusal(404, f"there is no cluster {cluster_id}")
    return found
