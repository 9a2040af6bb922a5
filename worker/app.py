"""The composition root: the only module under `worker/` that imports `integrations`.

It reads the settings once, picks the adapters they name (Sentry and Datadog sources, the GitHub
or files forge), builds the store and the broker, declares the actors, and hands out the web app,
the worker and the scheduler. Tests and the demo build an `App` the same way with stand-in URLs.
"""

from __future__ import annotations

import logging
import os
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import dramatiq
from fastapi import FastAPI
from github import Auth, Github

from integrations.agents import TemplateAgent
from integrations.agents.cli_agent import CliAgent
from integrations.agents.model_access import model_access
from integrations.agents.toolloop import ToolLoopAgent
from integrations.artifacts import FolderArtifacts
from integrations.browser.screenshot import capture
from integrations.datadog import DatadogSource
from integrations.files_forge import FilesForge
from integrations.git import GitMirror, GitRepository, GitWorkspace
from integrations.github import GitHubTickets
from integrations.github.accounts import GitHubAccounts
from integrations.github.app import GitHubApp
from integrations.github.pulls import GitHubPulls
from integrations.gitlab.codehost import GitLabMergeRequests
from integrations.notify import make_notifiers
from integrations.preview import CommandPreview, GitHubPreview, LocalPreview
from integrations.probes import HostProbes
from integrations.sandbox import BubblewrapSandbox
from integrations.sandbox.environments import SandboxEnvironments
from integrations.sentry import SentrySource
from worker.actors import Actors, declare
from worker.broker import make_broker
from worker.digest.outlets import DigestOutlet, IssueOutlet, NoticeOutlet
from worker.doctor import Probes, SystemProbes
from worker.env.services import with_test_services
from worker.metrics import serve_metrics
from worker.observability import init_error_reporting
from worker.ports import (
    AccountDirectory,
    ArtifactStore,
    CodeHost,
    CodingAgent,
    Environments,
    ErrorSource,
    Preview,
    Repository,
    Sandbox,
    TicketForge,
    Workspace,
)
from worker.reconcile import ReconcileReport, reconcile
from worker.render import Renderer
from worker.settings import ConfigError, ServiceSettings, Settings
from worker.stages import Deps
from worker.store import SqlStore, utc_now
from worker.web.hooks import WebDeps, create_web

log = logging.getLogger("suture")


@dataclass
class App:
    """A wired suture: store, broker, actors and the stages' dependencies."""

    settings: Settings
    store: SqlStore
    broker: dramatiq.Broker
    actors: Actors
    deps: Deps
    clock: Callable[[], datetime]

    def web(self) -> FastAPI:
        """The webhook, health and metrics HTTP application."""
        web = create_web(WebDeps(settings=self.settings, store=self.store, actors=self.actors,
                                 clock=self.clock, artifacts=make_artifacts(self.settings)))
        serve_metrics(web, self.store, self.broker)
        return web

    def worker(self, threads: int = 4, queues: set[str] | None = None) -> dramatiq.Worker:
        """A Dramatiq worker consuming `queues` (default: all of them), not yet started."""
        return dramatiq.Worker(self.broker, queues=queues, worker_threads=threads,
                               worker_timeout=200)

    def reconcile(self) -> ReconcileReport:
        """Re-send stuck runs and pending deliveries."""
        return reconcile(self.deps, self.actors, self.clock())

    def close(self) -> None:
        """Release the broker's, the adapters' and the store's connections."""
        self.broker.close()
        for adapter in (*self.deps.sources.values(), self.deps.forge, self.deps.accounts,
                        self.deps.code_host, *self.deps.digest_outlets):
            close = getattr(adapter, "close", None)
            if callable(close):
                close()
        self.store.close()


def build_app(settings: Settings, *, clock: Callable[[], datetime] = utc_now,
              forge: TicketForge | None = None,
              sources: Mapping[str, ErrorSource] | None = None, migrate: bool = True,
              code_host: CodeHost | None = None) -> App:
    """Wire suture from its settings; `forge`, `sources` and `code_host` override the
    configured adapters."""
    init_error_reporting(settings)
    store = SqlStore(settings.database_url, clock=clock)
    if migrate:
        store.migrate()
    deps = Deps(
        settings=settings,
        store=store,
        forge=forge if forge is not None else make_forge(settings),
        renderer=Renderer(settings.playbooks_dir),
        sources=dict(sources) if sources is not None else make_sources(settings),
        clock=clock,
        open_repository=repository_opener(settings),
        open_workspace=workspace_opener(settings),
        make_sandbox=new_sandbox,
        make_agent=agent_factory(settings),
        accounts=AccountsOpener(settings),
        environments=make_environments(settings),
        code_host=code_host if code_host is not None else make_code_host(settings),
        make_preview=make_preview,
        make_pushed_preview=lambda service: pushed_preview(settings, service),
        capture_page=lambda request, url, path: capture(
            request, url, path, chromium=settings.browser.chromium_path),
        artifacts=make_artifacts(settings),
        notifiers=make_notifiers(settings),
        digest_outlets=make_digest_outlets(settings),
    )
    broker = make_broker(settings)
    actors = declare(broker, deps)
    return App(settings=settings, store=store, broker=broker, actors=actors, deps=deps,
               clock=clock)


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


def make_preview(service: ServiceSettings) -> Preview | None:
    """The service's preview provider in a sandbox of its own (with the service's test
    services, which its application may need too); None when nothing can be previewed before
    the branch is pushed (no command, or previews are the code host's deployments)."""
    settings = service.preview
    sandbox = with_test_services(new_sandbox(), service.test_services)
    if settings.provider == "local" and settings.command:
        return LocalPreview(sandbox, settings)
    if settings.provider == "command" and settings.deploy_command:
        return CommandPreview(sandbox, settings)
    return None


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


def repository_opener(settings: Settings) -> Callable[[str], Repository]:
    """Opens a service's repository: a local path as it is, a URL through the mirror cache."""
    mirror = GitMirror(settings.data_dir / "mirrors")
    opened: dict[str, GitRepository] = {}

    def open_repository(location: str) -> Repository:
        path = mirror.ensure(location)
        key = str(path)
        if key not in opened:  # one adapter per repository keeps its cache warm across runs
            opened[key] = GitRepository(path)
        return opened[key]

    return open_repository


def workspace_opener(settings: Settings) -> Callable[[str], Workspace]:
    """Opens a service's repository for worktrees, through the same mirror cache."""
    mirror = GitMirror(settings.data_dir / "mirrors")

    def open_workspace(location: str) -> Workspace:
        return GitWorkspace(mirror.ensure(location))

    return open_workspace


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


def doctor_probes(bwrap: str = "bwrap") -> Probes:
    """The probes `suture doctor` and the start-up checks look through: the real git, sandbox
    (`bwrap`: the bubblewrap executable), database and broker."""
    return SystemProbes(HostProbes(bwrap=bwrap))


def make_artifacts(settings: Settings) -> ArtifactStore:
    """The folder artifact store: `artifacts.dir` (default `<data_dir>/artifacts`), linked at
    `artifacts.public_url`."""
    return FolderArtifacts(settings.artifacts.dir or settings.data_dir / "artifacts",
                           settings.artifacts.public_url)


def make_environments(settings: Settings, sandbox: Sandbox | None = None) -> Environments:
    """Repository environments: setups run in `sandbox` (default: a new one), kept in the
    cache the settings name (`env.cache_dir`, default `<data_dir>/envs`)."""
    env = settings.env
    return SandboxEnvironments(env.cache_dir or settings.data_dir / "envs",
                               sandbox or new_sandbox(), max_cache_mb=env.max_cache_mb,
                               max_age_days=env.max_age_days, setup_seconds=env.setup_seconds)


def new_sandbox(tee: Callable[[str, bytes], None] | None = None) -> Sandbox:
    """The sandbox agents, tests and operators run commands in (`tee` sees output live)."""
    return BubblewrapSandbox(tee=tee)


def open_local_repository(path: Path) -> Repository:
    """A repository on this machine, for the operator commands."""
    return GitRepository(path)


def open_local_workspace(path: Path) -> Workspace:
    """Worktrees of a repository on this machine, for the operator commands."""
    return GitWorkspace(path)


def agent_factory(settings: Settings) -> Callable[[Any, Any], CodingAgent | None]:
    """Builds the agent a playbook names; None when it is not configured here."""

    def make_agent(spec: Any, playbook: Any) -> CodingAgent | None:
        if spec.kind == "templates":
            return TemplateAgent()
        if spec.kind == "toolloop":
            endpoint = settings.fix.agent
            if not endpoint.base_url:
                return None
            return ToolLoopAgent(endpoint.base_url, endpoint.api_key, spec.model or endpoint.model,
                                 price_per_1k_tokens=endpoint.price_per_1k_tokens)
        if spec.kind == "cli":
            # Only the variables the playbook names cross into the sandbox.
            passed = {name: os.environ[name] for name in playbook.sandbox.env
                      if name in os.environ}
            return CliAgent(spec.command, name=spec.name,
                            allow_hosts=playbook.sandbox.allow_hosts, env=passed,
                            model=model_access(settings.fix))
        return None

    return make_agent


def make_sources(settings: Settings) -> dict[str, ErrorSource]:
    """The error sources that have enough configuration to poll."""
    sources: dict[str, ErrorSource] = {}
    if settings.sentry.pollable:
        sources["sentry"] = SentrySource(settings.sentry)
    if settings.datadog.pollable:
        sources["datadog"] = DatadogSource(settings.datadog)
    return sources
