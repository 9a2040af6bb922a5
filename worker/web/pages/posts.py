"""The review pages' POSTs: log in, log out, retry a run, ignore a cluster.

Every POST carries a form token: the login form's is bound to a short-lived cookie set with the
form, every other one to the session (`auth.form_token`). A post without a signed-in user, or
with a missing or wrong token, is a 403 whose page says which. An action that is refused for
what it would do (`actions`) is a 4xx with the reason; one that is done redirects back to the
page it came from.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from markupsafe import Markup
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from worker.actors import Actors
from worker.settings import Settings
from worker.store.page_guards import revoke_session
from worker.web.pages import actions
from worker.web.pages.auth import (
    LOGIN_COOKIE,
    LOGIN_SECONDS,
    SESSION_COOKIE,
    LoginThrottle,
    Principal,
    clean_name,
    form_refusal,
    issue_session,
    login_nonce,
    login_refusal,
    secure_cookie,
    token_matches,
)
from worker.web.pages.forms import read_form
from worker.web.pages.render import PageRefusal, render
from worker.web.pages.routes import Id, PageDeps


@dataclass
class ActionDeps:
    """What the actions need beyond the pages: the settings and the actors to send messages."""

    pages: PageDeps
    settings: Settings
    actors: Actors


def safe_next(target: str) -> str:
    """Where to go after logging in: a path on this site, never another site."""
    parts = urlsplit(target)
    if not target.startswith("/") or target.startswith("//") or parts.scheme or parts.netloc \
            or "\\" in target:
        return "/"
    return target


def post_routes(deps: ActionDeps) -> APIRouter:
    """The router for the pages' POSTs and the login form."""
    router = APIRouter()
    pages = deps.pages
    throttle = LoginThrottle(pages.store)

    @router.get("/login")
    def login_form(request: Request) -> Response:
        if pages.user(request) is not None:
            return RedirectResponse("/", status_code=303)
        return _login_page(request, pages, safe_next(request.query_params.get("next", "/")))

    # Each POST reads its form on the event loop, then does its database work in a thread:
    # the web process's loop also takes in webhooks and must not wait on the store.
    @router.post("/login")
    async def login(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(_login, pages, throttle, request, form)

    @router.post("/logout")
    async def logout(request: Request) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(_logout, pages, request, form)

    @router.post("/runs/{run_id}/retry")
    async def retry(request: Request, run_id: Id) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(_retry, deps, request, form, run_id)

    @router.post("/clusters/{cluster_id}/ignore")
    async def ignore(request: Request, cluster_id: Id) -> Response:
        form = await read_form(request)
        return await run_in_threadpool(_ignore, pages, request, form, cluster_id)

    return router


def _login(pages: PageDeps, throttle: LoginThrottle, request: Request,
           form: dict[str, str]) -> Response:
    target = safe_next(form.get("next", "/"))
    why = login_refusal(pages.signer, request.cookies.get(LOGIN_COOKIE), form.get("csrf", ""))
    if why:
        return _login_page(request, pages, target, why, 403)
    if pages.settings.token is None:
        raise PageRefusal(404, "logging in with a token is not configured")
    name = clean_name(form.get("name", ""))
    if not name:
        return _login_page(request, pages, target, "say who you are: actions are recorded "
                                                   "under this name", 400)
    address = request.client.host if request.client else ""
    if throttle.blocked(address, pages.clock()):
        return _login_page(request, pages, target, "too many wrong tokens from your "
                                                   "address: wait ten minutes", 429)
    if not token_matches(pages.settings, form.get("token", "")):
        throttle.failed(address, pages.clock())
        return _login_page(request, pages, target, "that is not the token", 401)
    cookie = issue_session(pages.signer, name, pages.clock(), pages.settings.session_hours)
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(SESSION_COOKIE, cookie, httponly=True, samesite="strict",
                        secure=secure_cookie(pages.settings, request), path="/",
                        max_age=int(pages.settings.session_hours * 3600))
    response.delete_cookie(LOGIN_COOKIE, path="/login")
    return response


def _logout(pages: PageDeps, request: Request, form: dict[str, str]) -> Response:
    user = _authorised(pages, request, form)
    if user.session and user.expires is not None:  # a copy of the cookie ends here too
        revoke_session(pages.store, user.session, user.expires, pages.clock())
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


def _retry(deps: ActionDeps, request: Request, form: dict[str, str], run_id: int) -> Response:
    user = _authorised(deps.pages, request, form, f"/runs/{run_id}")
    note = clean_note(form.get("note", ""))
    done = actions.retry(deps.pages.store, deps.actors, deps.settings, run_id, user.name, note)
    return _answer(done, f"/runs/{run_id}", "retried")


def _ignore(pages: PageDeps, request: Request, form: dict[str, str], cluster_id: int) -> Response:
    user = _authorised(pages, request, form, f"/clusters/{cluster_id}")
    why = clean_note(form.get("why", ""))
    done = actions.ignore(pages.store, cluster_id, user.name, why)
    return _answer(done, f"/clusters/{cluster_id}", "ignored")


def clean_note(raw: str) -> str:
    """A note typed into a form, as recorded: scrubbed, one line, bounded."""
    return clean_name(raw[:actions.MAX_NOTE * 4], actions.MAX_NOTE)


def _authorised(pages: PageDeps, request: Request, form: dict[str, str],
                back: str = "/") -> Principal:
    """The signed-in user whose form token this post carries; PageRefusal 403 otherwise."""
    user = pages.user(request)
    why = form_refusal(pages.signer, user, form.get("csrf", ""))
    if why or user is None:
        raise PageRefusal(403, why, back)
    return user


def _answer(done: actions.Outcome, back: str, notice: str) -> Response:
    if done.done:
        return RedirectResponse(f"{back}?notice={notice}", status_code=303)
    return render("refused.html", done.status, user=None, status=done.status,
                  reason=done.message, back=back)


def _login_page(request: Request, pages: PageDeps, target: str, error: str = "",
                status: int = 200) -> Response:
    if pages.settings.token is None:
        return pages.sign_in(request)
    nonce = login_nonce()
    response = render("login.html", status, user=None, error=error, next_path=target,
                      csrf=Markup(pages.signer.sign("login", nonce)))
    response.set_cookie(LOGIN_COOKIE, nonce, httponly=True, samesite="strict",
                        secure=secure_cookie(pages.settings, request), path="/login",
                        max_age=LOGIN_SECONDS)
    return response
