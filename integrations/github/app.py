"""`GitHubApp`: suture acting as a GitHub App, with installation tokens scoped to one repository.

The App signs a short JWT with its private key (PyGithub's `Auth.AppAuth`) and exchanges it for
an installation token. PyGithub's `GithubIntegration.get_access_token` can send only
`permissions`, so the exchange goes through the integration's own requester with
`repositories: [name]`: each token reaches the one repository it was minted for and lasts at most
an hour. The installation is the configured one, or the repository's own
(`GET /repos/{owner}/{repo}/installation`, remembered per repository). The App acts as the
account `<slug>[bot]`. A repository the App is not installed on, or that its installation cannot
reach, is a `PermanentError` saying so; other failures map as in `errors`.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from github import Auth, GithubException, GithubIntegration
from pydantic import SecretStr
from urllib3.util.retry import Retry

from integrations.github.errors import DEFAULT_RETRY, github_errors, github_message
from worker.ports import PermanentError
from worker.settings import GitHubSettings


@dataclass(frozen=True)
class RepoToken:
    """An installation token for one repository, and when GitHub lets it expire."""

    token: SecretStr
    expires_at: datetime


class GitHubApp:
    """Mints installation tokens of App `app_id` (its PEM `private_key`) on `base_url`."""

    def __init__(self, app_id: int, private_key: str, *, base_url: str,
                 installation_id: int | None = None, retry: Retry | None = DEFAULT_RETRY,
                 seconds_between_requests: float = 0.25,
                 seconds_between_writes: float = 1.0) -> None:
        try:  # PyGithub would only find a bad key when it first signs a JWT
            load_pem_private_key(private_key.encode(), password=None)
        except (ValueError, TypeError) as exc:
            raise ValueError(f"the GitHub App's private key is not a PEM RSA key: {exc}") from None
        self.app_id = app_id
        self._integration = GithubIntegration(
            auth=Auth.AppAuth(app_id, private_key), base_url=base_url, timeout=15, retry=retry,
            seconds_between_requests=seconds_between_requests,
            seconds_between_writes=seconds_between_writes,
        )
        self._installation_id = installation_id
        self._installations: dict[str, int] = {}
        self._bot: str | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: GitHubSettings, *, retry: Retry | None = DEFAULT_RETRY,
                      seconds_between_requests: float = 0.25,
                      seconds_between_writes: float = 1.0) -> GitHubApp | None:
        """The App `settings` configure, or None when they configure none."""
        if settings.app_id is None and settings.app_private_key_file is None:
            return None
        if settings.app_id is None or settings.app_private_key_file is None:
            raise ValueError("github.app_id and github.app_private_key_file are set together")
        try:
            key = settings.app_private_key_file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ValueError(f"cannot read github.app_private_key_file: {exc}") from None
        return cls(settings.app_id, key, base_url=settings.base_url,
                   installation_id=settings.installation_id, retry=retry,
                   seconds_between_requests=seconds_between_requests,
                   seconds_between_writes=seconds_between_writes)

    def installation(self, repo: str) -> int:
        """The id of the installation that covers `repo` (`owner/name`)."""
        if self._installation_id is not None:
            return self._installation_id
        with self._lock:
            known = self._installations.get(repo.lower())
        if known is not None:
            return known
        owner, _, name = repo.partition("/")
        with github_errors(f"finding the GitHub App's installation on {repo}"):
            try:
                found = self._integration.get_repo_installation(owner, name).id
            except GithubException as exc:
                if exc.status == 404:
                    raise PermanentError(f"the GitHub App {self.app_id} is not installed on "
                                         f"{repo} (or the repository does not exist)") from exc
                raise
        with self._lock:
            self._installations[repo.lower()] = found
        return found

    def token_for(self, repo: str) -> RepoToken:
        """A new installation token that reaches `repo` only."""
        installation = self.installation(repo)
        name = repo.partition("/")[2]
        with github_errors(f"minting a GitHub App token for {repo}"):
            try:
                _, data = self._integration.requester.requestJsonAndCheck(
                    "POST", f"/app/installations/{installation}/access_tokens",
                    headers={"Accept": "application/vnd.github+json"},
                    input={"repositories": [name]},
                )
            except GithubException as exc:
                if exc.status in (404, 422):
                    raise PermanentError(
                        f"the GitHub App's installation {installation} cannot reach {repo}: "
                        f"{github_message(exc)}") from exc
                raise
        # `repositories` are names within the installation's account; make sure it is this one.
        listed = data.get("repositories") or []
        reached = {str(item.get("full_name", "")).lower() for item in listed}
        if reached and repo.lower() not in reached:
            raise PermanentError(f"the GitHub App's installation {installation} reaches "
                                 f"{', '.join(sorted(reached))}, not {repo}")
        expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
        return RepoToken(token=SecretStr(str(data["token"])), expires_at=expires.astimezone(UTC))

    def bot_login(self) -> str:
        """The login the App acts as (`<slug>[bot]`), asked once."""
        if self._bot is None:
            with github_errors("reading the GitHub App"):
                self._bot = f"{self._integration.get_app().slug}[bot]"
        return self._bot

    def close(self) -> None:
        """Release the HTTP connections of the client."""
        self._integration.close()
