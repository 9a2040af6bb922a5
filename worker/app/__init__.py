"""The composition root: the only package under `worker/` that imports `integrations`.

It reads the settings once, picks the adapters they name (`hosted`: sources, forge, code host
and the other services reached over the network; `local`: git, the sandbox, environments and
agents on this machine), builds the store and the broker, declares the actors, and hands out the
web app, the worker and the scheduler. Tests and the demo build an `App` the same way with
stand-in URLs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime

import dramatiq
from fastapi import FastAPI

from integrations.browser.screenshot import capture
from integrations.notify import make_notifiers
from worker.actors import Actors, declare
from worker.app.hosted import (
    AccountsOpener,
    make_code_host,
    make_digest_outlets,
    make_forge,
    make_sources,
    pushed_preview,
)
from worker.app.local import (
    agent_factory,
    make_artifacts,
    make_environments,
    make_preview,
    new_sandbox,
    repository_opener,
    workspace_opener,
)
from worker.broker import make_broker
from worker.metrics import serve_metrics
from worker.observability import init_error_reporting
from worker.ports import CodeHost, ErrorSource, TicketForge
from worker.reconcile import ReconcileReport, reconcile
from worker.render import Renderer
from worker.settings import Settings
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
