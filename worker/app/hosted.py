"""The hosted systems the settings name: error sources, the ticket forge, the code host, the
GitHub account directory, the digest's outlets and the code host's preview deployments.

Part of the composition root (`worker.app`); each factory picks one adapter from `integrations`.
"""

from __future__ import annotations

import re
import threading

from github import Auth, Github

from integrations.datadog import DatadogSource
from integrations.files_forge import FilesForge
from integrations.github import GitHubTickets
from integrations.github.accounts import GitHubAccounts
from integrations.github.app import GitHubApp
from integrations.github.pulls import GitHubPulls
from integrations.gitlab.codehost import GitLabMergeRequests
from integrations.notify import make_notifiers
from integrations.preview import GitHubPreview
from integrations.sentry import SentrySource
from worker.digest.outlets import DigestOutlet, IssueOutlet, NoticeOutlet
from worker.ports import AccountDirectory, CodeHost, ErrorSource, Preview, TicketForge
from worker.settings import ConfigError, ServiceSettings, Settings


def make_forge(settings: Settings) -> TicketForge:
    """The ticket forge the settings name."""
    if settings.forge == "github":
        return GitHubTickets(settings.github)
    return FilesForge(settings.tickets_dir)


def make_digest_outlets(settings: Settings,
                        forge: TicketForge | None = None) -> list[DigestOutlet]:
    """The weekly digest's outlets, in the order `digest.channels` names them: Slack and email
    through the `notify` section's channels, a GitHub issue through `forge` (default: the
    `github` section's issues). A channel named without its settings fails at start."""
    outlets: list[DigestOutlet] = []
    notifiers = make_notifiers(settings)
    for channel in settings.digest.channels:
        if channel == "github":
            if forge is None and settings.github.token is None:
                raise ConfigError("digest.channels names github, but github.token is not set")
            outlets.append(IssueOutlet(forge or GitHubTickets(settings.github),
                                       settings.digest.github_repo or "", settings.digest.labels))
            continue
        chosen = [n for n in notifiers if (n.name == "email") == (channel == "email")]
        if not chosen:
            raise ConfigError(f"digest.channels names {channel}, but the notify section "
                              f"configures no {channel} channel")
        outlets += [NoticeOutlet(notifier) for notifier in chosen]
    return outlets


def pushed_preview(settings: Settings, service: ServiceSettings) -> Preview | None:
    """The code host's deployments of pushed commits, for a service previewed that way; the
    App's token for the one repository when an App is configured, else the personal token."""
    if service.preview.provider != "github" or not service.slug:
        return None
    app = GitHubApp.from_settings(settings.github)
    token = (app.token_for(service.slug).token if app is not None else settings.github.token)
    if token is None:
        return None
    client = Github(auth=Auth.Token(token.get_secret_value()), base_url=settings.github.base_url,
                    timeout=15, retry=None)
    return GitHubPreview(client, service.preview)


def make_code_host(settings: Settings) -> CodeHost | None:
    """Where verified fixes are proposed, if the settings name a code host."""
    if settings.code_host == "github":
        return GitHubPulls(settings.github)
    if settings.code_host == "gitlab":
        return GitLabMergeRequests(settings.gitlab)
    return None


class AccountsOpener:
    """Gives a service the GitHub account directory of its repository, one adapter (and cache)
    per repository; None when no GitHub token is configured or the repository's `owner/name` on
    GitHub is unknown."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._opened: dict[str, GitHubAccounts] = {}
        self._lock = threading.Lock()  # worker threads correlate at once

    def __call__(self, service: ServiceSettings) -> AccountDirectory | None:
        """The directory for `service`, or None."""
        slug = github_slug(self._settings, service)
        if slug is None or self._settings.github.token is None:
            return None
        with self._lock:
            if slug.lower() not in self._opened:
                self._opened[slug.lower()] = GitHubAccounts(self._settings.github, slug)
            return self._opened[slug.lower()]

    def close(self) -> None:
        """Release every adapter's connections."""
        for adapter in self._opened.values():
            adapter.close()


def github_slug(settings: Settings, service: ServiceSettings) -> str | None:
    """`owner/name` of the service's repository on the configured GitHub: its `slug` (the
    repository its tickets go to), else the path of a clone URL on GitHub's web host."""
    if service.slug:
        return service.slug
    api = settings.github.base_url.rstrip("/")
    # The web host: github.com for the public API, the Enterprise host for `<host>/api/v3`.
    web = "https://github.com" if api == "https://api.github.com" else api.removesuffix("/api/v3")
    host = re.sub(r"^[a-z]+://", "", web).split("/")[0]
    match = re.fullmatch(rf"(?:https://|ssh://git@|git@){re.escape(host)}[:/]"
                         r"([\w.-]+/[\w.-]+?)(?:\.git)?/?", service.repository.strip())
    return match.group(1) if match else None


def make_sources(settings: Settings) -> dict[str, ErrorSource]:
    """The error sources that have enough configuration to poll."""
    sources: dict[str, ErrorSource] = {}
    if settings.sentry.pollable:
        sources["sentry"] = SentrySource(settings.sentry)
    if settings.datadog.pollable:
        sources["datadog"] = DatadogSource(settings.datadog)
    return sources
