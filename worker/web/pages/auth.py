"""Who is using the review pages: a signed session cookie from `/login`, or a trusted proxy's
header; and the form tokens that tie every POST to that session.

Everything is signed with one HMAC-SHA256 key derived from `pages.token`, so changing the token
ends every session and invalidates every form. With only a trusted header configured the key is
made at start-up (forms from before a restart are refused once, with the reason). A session
cookie holds the user's name, a random session id and its expiry; a form token is the HMAC of
the session id (or of the proxy's user), so one stolen from another session is worthless.
Logging out revokes the session id in the database (`worker.store.page_guards`), so a copy of
the cookie stops working too; wrong tokens are counted there as well, for every web process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from starlette.requests import Request

from worker.pages_settings import PagesSettings
from worker.scrub import scrub_text
from worker.store import SqlStore
from worker.store.page_guards import login_failures, record_login_failure

SESSION_COOKIE = "suture_session"
LOGIN_COOKIE = "suture_login"
LOGIN_SECONDS = 900  # how long a login form stays usable
MAX_NAME = 64
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Principal:
    """Someone signed in: the name actions are recorded under, how they signed in, and what
    their form tokens are bound to."""

    name: str
    via: str  # "login" or "header"
    binding: str
    session: str = ""  # the session id of a login
    expires: datetime | None = None  # when a login's cookie expires


class Signer:
    """Signs and checks values for one purpose each (session, form, login) with the pages' key."""

    def __init__(self, settings: PagesSettings) -> None:
        token = settings.token
        self._key = (hmac.new(token.get_secret_value().encode(), b"suture review pages v1",
                              hashlib.sha256).digest() if token is not None
                     else secrets.token_bytes(32))

    def sign(self, purpose: str, value: str) -> str:
        """The hex HMAC of `value` for `purpose`."""
        message = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._key, message, hashlib.sha256).hexdigest()

    def valid(self, purpose: str, value: str, signature: str) -> bool:
        """True when `signature` is this key's signature of `value` for `purpose`."""
        return hmac.compare_digest(self.sign(purpose, value).encode(),
                                   signature.encode("ascii", "replace"))


def clean_name(raw: str, limit: int = MAX_NAME) -> str:
    """A user's name (or a note) fit for the record: scrubbed, one line, at most `limit`
    characters."""
    return " ".join(_CONTROL.sub(" ", scrub_text(raw)).split())[:limit]


def token_matches(settings: PagesSettings, given: str) -> bool:
    """True when `given` is the configured token (compared in constant time)."""
    if settings.token is None:
        return False
    expected = hashlib.sha256(settings.token.get_secret_value().encode()).digest()
    return hmac.compare_digest(expected, hashlib.sha256(given.encode()).digest())


def issue_session(signer: Signer, name: str, now: datetime, hours: float) -> str:
    """A session cookie value for `name`, valid for `hours` from `now`."""
    expires = int((now + timedelta(hours=hours)).timestamp())
    payload = json.dumps({"u": name, "s": secrets.token_urlsafe(18), "e": expires},
                         separators=(",", ":")).encode()
    body = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    return f"{body}.{signer.sign('session', body)}"


def read_session(signer: Signer, cookie: str, now: datetime) -> Principal | None:
    """The signed-in user a session cookie names, or None if it is forged, garbled or expired."""
    body, _, signature = cookie.partition(".")
    if not body or not signature or not signer.valid("session", body, signature):
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        name, session, expires = str(payload["u"]), str(payload["s"]), int(payload["e"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        return None
    if expires <= now.timestamp() or not name:
        return None
    return Principal(name=name, via="login", binding=f"session:{session}", session=session,
                     expires=datetime.fromtimestamp(expires, UTC))


def current_user(request: Request, settings: PagesSettings, signer: Signer,
                 now: datetime) -> Principal | None:
    """Who is asking: the trusted header's user when configured and present, else the session
    cookie's; None when neither."""
    if settings.trusted_header:
        name = clean_name(request.headers.get(settings.trusted_header, ""))
        if name:
            return Principal(name=name, via="header", binding=f"header:{name}")
    cookie = request.cookies.get(SESSION_COOKIE)
    if settings.token is not None and cookie:
        return read_session(signer, cookie, now)
    return None


def form_token(signer: Signer, user: Principal) -> str:
    """The token every form of `user`'s pages carries."""
    return signer.sign("form", user.binding)


def form_refusal(signer: Signer, user: Principal | None, given: str) -> str:
    """Why a POST with form token `given` is refused, or "" when it is `user`'s."""
    if user is None:
        return "not signed in: log in first"
    if not given:
        return "the form token is missing: reload the page and try again"
    if not signer.valid("form", user.binding, given):
        return ("the form token is wrong (or was made for another sign-in); reload the page "
                "and try again")
    return ""


def login_nonce() -> str:
    """A fresh value for the login form's cookie (its form token is this value signed)."""
    return secrets.token_urlsafe(18)


def login_refusal(signer: Signer, nonce: str | None, given: str) -> str:
    """Why a login form post is refused before its token is even looked at, or ""."""
    if not nonce:
        return "the login form expired or cookies are off: reload the login page"
    if not given or not signer.valid("login", nonce, given):
        return "the login form token is missing or wrong: reload the login page"
    return ""


def secure_cookie(settings: PagesSettings, request: Request) -> bool:
    """Whether to mark cookies Secure: as configured, else when the request came over https."""
    if settings.secure_cookie is not None:
        return settings.secure_cookie
    return request.url.scheme == "https"


class LoginThrottle:
    """Wrong tokens counted per client address, in the database every web process shares:
    after `limit` within `window`, that address is refused until the oldest of them is
    `window` old."""

    def __init__(self, store: SqlStore, limit: int = 10,
                 window: timedelta = timedelta(minutes=10)) -> None:
        self.store = store
        self.limit = limit
        self.window = window

    def blocked(self, address: str, now: datetime) -> bool:
        """True when `address` has used up its wrong tokens for now."""
        return login_failures(self.store, address, now - self.window) >= self.limit

    def failed(self, address: str, now: datetime) -> None:
        """Count one wrong token from `address`."""
        record_login_failure(self.store, address, now, self.window)
