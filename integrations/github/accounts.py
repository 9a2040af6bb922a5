"""`GitHubAccounts`: the `AccountDirectory` port on one GitHub repository, through PyGithub.

GitHub links a commit to the account that has its email among its verified emails and says so in
`GET /repos/{owner}/{repo}/commits/{sha}` (top-level `author`, null when no account matches).
One answer per email is enough, so answers are cached per email (bounded, least recently used
dropped first). The lookup is best effort and never raises: a sha GitHub does not have (422; a
404 when the repository is not visible, logged) is None for that sha only; a rate limit, 5xx or
network failure is None and pauses lookups until GitHub's wait is over (one log line, without
the email); a refusal retrying cannot fix (bad token) is None and pauses lookups for a while.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import requests
from github import Auth, Github, GithubException
from github.Repository import Repository
from urllib3.util.retry import Retry

from integrations.github.tickets import DEFAULT_RETRY, translate_github_error
from worker.ports import TransientError
from worker.settings import GitHubSettings

log = logging.getLogger(__name__)

CACHE_SIZE = 4096  # distinct emails (and unknown shas) remembered per repository
TRANSIENT_PAUSE = 60.0  # seconds without lookups after a failure that came without a wait hint
PERMANENT_PAUSE = 3600.0  # after a refusal retrying cannot fix: asking again soon is pointless
_UNKNOWN_SHA = (404, 422)  # 422 "No commit found for SHA"; 404 for a ref GitHub cannot parse


class _Bounded(OrderedDict[str, str | None]):
    """A dict that forgets its least recently used entry past `limit`."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def remember(self, key: str, value: str | None) -> None:
        """Store `key`, dropping the oldest entry when full."""
        self[key] = value
        self.move_to_end(key)
        while len(self) > self.limit:
            self.popitem(last=False)


class GitHubAccounts:
    """Which GitHub account wrote a commit of `repository` (`owner/name`).

    `github` replaces the client built from `settings`, as in `GitHubTickets` (unless it is
    lazy, the repository then costs one request on first use). Concurrent
    lookups of one new email from several threads may each ask GitHub once; after that the
    cache answers.
    """

    def __init__(self, settings: GitHubSettings, repository: str, *,
                 github: Github | None = None, seconds_between_requests: float = 0.25,
                 retry: Retry | None = DEFAULT_RETRY, cache_size: int = CACHE_SIZE,
                 clock: Callable[[], float] = time.monotonic) -> None:
        owner, _, name = repository.partition("/")
        if not owner or not name or "/" in name:
            raise ValueError(f"repository must look like owner/name, got {repository!r}")
        if github is None:
            if settings.token is None:
                raise ValueError("github.token is not configured")
            # Lazy: the repository object costs no request, only the commit read does.
            github = Github(auth=Auth.Token(settings.token.get_secret_value()),
                            base_url=settings.base_url, timeout=10, retry=retry,
                            seconds_between_requests=seconds_between_requests, lazy=True)
        self.repository = repository
        self._github = github
        self._repo: Repository | None = None  # got on first use, where failures are handled
        self._logins = _Bounded(cache_size)
        self._unknown = _Bounded(cache_size)
        self._lock = threading.Lock()
        self._clock = clock
        self._paused_until = float("-inf")

    def login_of(self, sha: str, email: str) -> str | None:
        """The login GitHub links commit `sha` to (cached by `email`), or None."""
        key = email.strip().lower()
        with self._lock:
            if key in self._logins:
                self._logins.move_to_end(key)
                return self._logins[key]
            if sha.lower() in self._unknown or self._clock() < self._paused_until:
                return None
        try:
            if self._repo is None:
                self._repo = self._github.get_repo(self.repository)
            author = self._repo.get_commit(sha).author  # one GET; author is None when unlinked
            login = author.login if author is not None else None
        except (GithubException, requests.RequestException) as exc:
            self._failed(exc, sha)
            return None
        with self._lock:
            self._logins.remember(key, login)
        return login

    def close(self) -> None:
        """Release the HTTP connections of the client."""
        self._github.close()

    def _failed(self, exc: Exception, sha: str) -> None:
        if isinstance(exc, GithubException) and exc.status in _UNKNOWN_SHA:
            with self._lock:
                self._unknown.remember(sha.lower(), None)
            # GitHub answers 422 for a sha it does not have; a 404 more likely means the
            # repository is not visible with this token, which an operator should hear about.
            level = logging.WARNING if exc.status == 404 else logging.DEBUG
            log.log(level, "commit %s not found on GitHub in %s (%s)", sha[:12], self.repository,
                    exc.status)
            return
        error = translate_github_error(exc, f"reading commit {sha[:12]} of {self.repository}")
        if isinstance(error, TransientError):
            pause = error.retry_after if error.retry_after is not None else TRANSIENT_PAUSE
        else:
            pause = PERMANENT_PAUSE
        with self._lock:
            self._paused_until = self._clock() + pause
        log.warning("GitHub account lookups paused for %.0f s: %s", pause, error)
