"""How `GitHubPulls` reaches GitHub: one PyGithub client per repository, or one for all.

With a GitHub App configured (`integrations.github.app`), every repository gets its own client
on an installation token that reaches that repository only, replaced before the token expires,
and the bot is the App's `<slug>[bot]`. Without one, a single client on the personal token does
everything and the bot is the token's own account. Either way GitHub's errors become the port's:
`TransientError` or `PermanentError`, a 404 said plainly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

import requests
from github import Auth, Github, GithubException
from github.Repository import Repository
from urllib3.util.retry import Retry

from integrations.github.app import GitHubApp
from integrations.github.errors import github_message, translate_github_error
from worker.ports import PermanentError
from worker.settings import GitHubSettings

TOKEN_MARGIN = timedelta(minutes=5)  # renew an installation token this long before it expires


class GitHubClients:
    """The clients, the credential behind them and the bot's login, for `GitHubPulls`.

    `pacing` is PyGithub's (seconds between requests, seconds between writes); `clock` gives
    the current time (token renewal). `_app` is the App when one is configured, else None and
    `_token` is the personal token."""

    def __init__(self, settings: GitHubSettings, *, pacing: tuple[float, float],
                 retry: Retry | None, clock: Callable[[], datetime]) -> None:
        self._base_url = settings.base_url
        self._retry = retry
        self._pacing = pacing
        self._clock = clock
        self._app = GitHubApp.from_settings(settings, retry=retry,
                                            seconds_between_requests=pacing[0],
                                            seconds_between_writes=pacing[1])
        self._personal: Github | None = None
        self._token = settings.token
        if self._app is None:
            if settings.token is None:
                raise ValueError("configure a GitHub App (github.app_id and "
                                 "github.app_private_key_file) or github.token")
            self._personal = self._client(settings.token.get_secret_value())
        self._clients: dict[str, tuple[Github, datetime]] = {}
        self._bot: str | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        """Release the HTTP connections of every client."""
        with self._lock:
            clients = [client for client, _ in self._clients.values()]
            self._clients.clear()
        for client in clients:
            client.close()
        if self._personal is not None:
            self._personal.close()
        if self._app is not None:
            self._app.close()

    def _client(self, token: str) -> Github:
        # Lazy: objects are made from their URL and fetched only when a field is read.
        return Github(auth=Auth.Token(token), base_url=self._base_url, timeout=15, per_page=100,
                      lazy=True, retry=self._retry, seconds_between_requests=self._pacing[0],
                      seconds_between_writes=self._pacing[1])

    def _github(self, repo: str) -> Github:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise PermanentError(f"repository must look like owner/name, got {repo!r}")
        if self._personal is not None:
            return self._personal
        assert self._app is not None
        key = repo.lower()
        with self._lock:
            cached = self._clients.get(key)
        if cached is not None and cached[1] - TOKEN_MARGIN > self._clock():
            return cached[0]
        minted = self._app.token_for(repo)
        client = self._client(minted.token.get_secret_value())
        with self._lock:
            old = self._clients.get(key)
            self._clients[key] = (client, minted.expires_at)
        if old is not None:
            old[0].close()
        return client

    def _repo(self, full_name: str) -> Repository:
        return self._github(full_name).get_repo(full_name)

    @contextmanager
    def _reaching(self, repo: str, action: str) -> Iterator[None]:
        """Port errors for GitHub's, a 404 said plainly: GitHub answers 404, not 403, for what
        the credential may not see."""
        try:
            yield
        except GithubException as exc:
            if exc.status != 404:
                raise translate_github_error(exc, f"{action} {repo}") from exc
            who = "the GitHub App" if self._app is not None else "the GitHub token"
            raise PermanentError(f"GitHub answered 404 while {action} {repo}: it does not exist "
                                 f"or {who} cannot reach it ({github_message(exc)})") from exc
        except requests.RequestException as exc:
            raise translate_github_error(exc, f"{action} {repo}") from exc

    def _bot_login(self) -> str:
        if self._bot is None:
            if self._app is not None:
                self._bot = self._app.bot_login()
            else:
                assert self._personal is not None
                self._bot = self._personal.get_user().login
        return self._bot
