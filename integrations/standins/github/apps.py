"""GitHub Apps in the stand-in: an App authenticates with an RS256 JWT signed by its private key
and mints installation tokens, each scoped to the repositories it names.

Routes: `GET /app`, `GET /repos/{owner}/{repo}/installation` and
`POST /app/installations/{id}/access_tokens`, all authenticated by the JWT (`Bearer`), checked
with the App's public key as GitHub does (signature, `iss` = the App id, unexpired, `exp` at most
ten minutes after `iat`). Tokens look like GitHub's (`ghs_` and 36 characters), last one hour,
and reach only the installation's repositories, or those the request's `repositories` (names)
picked. With an installation token, `/repos/...` of another repository answers 404 (as for a
repository one cannot see) and `/user` answers 403 "Resource not accessible by integration".
"""

from __future__ import annotations

import re
import secrets
import string
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt

from integrations.standins.base import Call, Reply
from integrations.standins.github import changeshapes, shapes, wire

if TYPE_CHECKING:
    from integrations.standins.github.hosting import ChangeHosting

TOKEN_LIFETIME = timedelta(hours=1)
MAX_JWT_LIFETIME = 600  # seconds from iat to exp that GitHub accepts
_DOC_TOKENS = ("https://docs.github.com/rest/apps/apps"
               "#create-an-installation-access-token-for-an-app")
_DOC_INSTALLATION = ("https://docs.github.com/rest/apps/apps"
                     "#get-a-repository-installation-for-the-authenticated-app")
_UNREACHABLE = ("There is at least one repository that does not exist or is not accessible to "
                "the parent installation.")
_REPO_PATH = re.compile(r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)(?:/.*)?")


@dataclass
class AppRecord:
    """One GitHub App with its one installation, on `repos` (lower-cased `owner/name`) of the
    account `account`."""

    app_id: int
    public_key: str
    slug: str
    installation_id: int
    account: str
    repos: set[str]

    @property
    def bot(self) -> str:
        """The login the App acts as."""
        return f"{self.slug}[bot]"


@dataclass
class IssuedToken:
    """An installation token and what it may reach."""

    value: str
    app: AppRecord
    repos: set[str]
    expires: datetime = field(default_factory=lambda: datetime.now(UTC) + TOKEN_LIFETIME)


class AppRegistry:
    """The Apps the stand-in knows and the installation tokens it has minted."""

    def __init__(self) -> None:
        self.apps: dict[int, AppRecord] = {}
        self.tokens: dict[str, IssuedToken] = {}
        self._lock = threading.Lock()

    def add(self, record: AppRecord) -> None:
        """Register an App (replacing one with the same id)."""
        with self._lock:
            self.apps[record.app_id] = record

    def mint(self, app: AppRecord, repos: set[str]) -> IssuedToken:
        """A new installation token of `app` for `repos`."""
        alphabet = string.ascii_letters + string.digits
        value = "ghs_" + "".join(secrets.choice(alphabet) for _ in range(36))
        issued = IssuedToken(value=value, app=app, repos=repos)
        with self._lock:
            self.tokens[value] = issued
        return issued

    def issued(self, value: str) -> IssuedToken | None:
        """The unexpired installation token `value`, or None."""
        with self._lock:
            token = self.tokens.get(value)
        return token if token is not None and token.expires > datetime.now(UTC) else None

    def verify(self, authorization: str) -> AppRecord | str:
        """The App whose JWT is in the `Authorization` header, or GitHub's refusal message."""
        scheme, _, value = authorization.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return "A JSON web token could not be decoded"
        value = value.strip()
        try:
            claims = jwt.decode(value, options={"verify_signature": False})
            app = self.apps.get(int(claims["iss"]))
        except (jwt.PyJWTError, KeyError, TypeError, ValueError):
            return "A JSON web token could not be decoded"
        if app is None:
            return "Integration not found"
        try:
            claims = jwt.decode(value, app.public_key, algorithms=["RS256"],
                                options={"require": ["exp", "iat", "iss"]}, leeway=30)
        except jwt.ExpiredSignatureError:
            return ("'Expiration time' claim ('exp') must be a numeric value representing the "
                    "future time at which the assertion expires")
        except jwt.PyJWTError:
            return "A JSON web token could not be decoded"
        if int(claims["exp"]) - int(claims["iat"]) > MAX_JWT_LIFETIME:
            return "'Expiration time' claim ('exp') is too far in the future"
        return app

    def api_refusal(self, path: str, value: str) -> Reply | None:
        """What GitHub answers an API call on `path` made with token `value` that is not the
        personal token: None when an installation token may make it."""
        issued = self.issued(value)
        if issued is None:
            return wire.error(401, "Bad credentials")
        if path == "/user":
            return wire.error(403, "Resource not accessible by integration",
                              f"{wire.DOCS}/users/users#get-the-authenticated-user")
        match = _REPO_PATH.fullmatch(path)
        if match and f"{match['owner']}/{match['repo']}".lower() not in issued.repos:
            return wire.not_found()
        return None


def caller(host: ChangeHosting, call: Call) -> tuple[str, IssuedToken | None]:
    """Who makes `call` (a login) and, for an installation token, the token."""
    value = call.headers.get("authorization", "").partition(" ")[2].strip()
    issued = None if value == host.token else host.apps.issued(value)
    return (host.login if issued is None else issued.app.bot), issued


def register(host: ChangeHosting) -> None:
    """Serve the App routes on `host`."""
    routes = _AppRoutes(host)
    host.route("GET", r"/app", routes.get_app)
    host.route("GET", r"/repos/(?P<owner>[^/]+)/(?P<repo>[^/]+)/installation",
               routes.get_installation)
    host.route("POST", r"/app/installations/(?P<id>\d+)/access_tokens", routes.create_token)


class _AppRoutes:
    def __init__(self, host: ChangeHosting) -> None:
        self.host = host

    def _app(self, call: Call) -> AppRecord | Reply:
        verdict = self.host.apps.verify(call.headers.get("authorization", ""))
        return wire.error(401, verdict) if isinstance(verdict, str) else verdict

    def _account(self, login: str) -> dict[str, Any]:
        shape = shapes.user(self.host.url, login, self.host.state.add_account(login).id)
        shape["type"] = "Organization"
        return shape

    def get_app(self, call: Call) -> Reply:
        app = self._app(call)
        if isinstance(app, Reply):
            return app
        return Reply(200, changeshapes.app(self.host.url, app.app_id, app.slug,
                                           self._account(app.account)))

    def get_installation(self, call: Call) -> Reply:
        app = self._app(call)
        if isinstance(app, Reply):
            return app
        owner, repo = call.params["owner"], call.params["repo"]
        if f"{owner}/{repo}".lower() not in app.repos:
            return wire.not_found(_DOC_INSTALLATION)
        return Reply(200, changeshapes.installation(self.host.url, app.installation_id,
                                                    app.app_id, app.slug, self._account(owner)))

    def create_token(self, call: Call) -> Reply:
        app = self._app(call)
        if isinstance(app, Reply):
            return app
        if int(call.params["id"]) != app.installation_id:
            return wire.not_found(_DOC_TOKENS)
        try:
            payload = call.json() or {}
        except ValueError:
            return wire.error(400, "Problems parsing JSON")
        names = payload.get("repositories") if isinstance(payload, dict) else None
        repos = set(app.repos)
        if names is not None:
            by_name = {full.split("/", 1)[1]: full for full in app.repos}
            if not isinstance(names, list) or any(
                    not isinstance(name, str) or name.lower() not in by_name for name in names):
                return wire.error(422, _UNREACHABLE, _DOC_TOKENS)
            repos = {by_name[name.lower()] for name in names}
        issued = self.host.apps.mint(app, repos)
        listed = []
        for full in sorted(repos):
            state = self.host.state.repos.get(full)
            if state is not None:
                listed.append(shapes.repository(self.host.url, state.owner, state.name, state.id))
        body = changeshapes.access_token(issued.value,
                                         issued.expires.strftime("%Y-%m-%dT%H:%M:%SZ"), listed)
        return Reply(201, body)
