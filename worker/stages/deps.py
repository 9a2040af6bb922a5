"""What every stage is given, and the small helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from worker.digest.outlets import DigestOutlet
from worker.models import Cluster, ErrorEvent, RunState
from worker.playbooks import AgentSpec, Playbook
from worker.ports import (
    AccountDirectory,
    ArtifactStore,
    CodeHost,
    CodingAgent,
    Environments,
    ErrorSource,
    Notifier,
    PermanentError,
    Preview,
    Repository,
    Sandbox,
    TicketForge,
    Workspace,
)
from worker.preview.evidence import ReplayRequest, Screenshot
from worker.render import Renderer
from worker.runs import Run
from worker.settings import ServiceSettings, Settings
from worker.store import SqlStore

# The longest an agent-queue stage (fix, verify) may run before its actor is stopped; stages
# that can choose how long to work (bisection) keep within it.
AGENT_STAGE_SECONDS = 3600


@dataclass
class Deps:
    """What the stages need, built once by the composition root (`worker.app`)."""

    settings: Settings
    store: SqlStore
    forge: TicketForge
    renderer: Renderer
    sources: Mapping[str, ErrorSource] = field(default_factory=dict)
    clock: Callable[[], datetime] | None = None
    # Opens a service's repository (a local path or a clone URL, through the mirror cache).
    open_repository: Callable[[str], Repository] | None = None
    # Opens the same repository's writable side: worktrees, and the git steps on them.
    open_workspace: Callable[[str], Workspace] | None = None
    # The fix loop's adapters: a fresh sandbox per stage (its audit is the stage's), an agent
    # for a playbook's agent entry (None when not configured).
    make_sandbox: Callable[[], Sandbox] | None = None
    make_agent: Callable[[AgentSpec, Playbook], CodingAgent | None] | None = None
    # Who commits belong to on the code host: one directory for every service, or a function
    # giving a service's (None where its repository is on no configured code host).
    accounts: AccountDirectory | Callable[[ServiceSettings], AccountDirectory | None] | None = None
    # Builds or reuses each repository's environment (None: runs use the sandbox as it is).
    environments: Environments | None = None
    # Where verified fixes are proposed as draft pull requests (None: tickets only).
    code_host: CodeHost | None = None
    # A service's preview provider (None: no preview replay), the browser that captures the
    # replayed page, and where evidence files are kept.
    make_preview: Callable[[ServiceSettings], Preview | None] | None = None
    # Previews that need the branch pushed first (the code host's deployments).
    make_pushed_preview: Callable[[ServiceSettings], Preview | None] | None = None
    capture_page: Callable[[ReplayRequest, str, Path], Screenshot] | None = None
    artifacts: ArtifactStore | None = None
    # Where people are told of filed, held and recurred fixes (Slack, email).
    notifiers: list[Notifier] = field(default_factory=list)
    # Where the weekly digest goes (`worker.digest`); empty: it is not sent.
    digest_outlets: list[DigestOutlet] = field(default_factory=list)

    def now(self) -> datetime:
        """The current time from the injected clock."""
        return self.clock() if self.clock else datetime.now(UTC)


def accounts_for(deps: Deps, service: ServiceSettings) -> AccountDirectory | None:
    """The account directory for `service`'s repository, if one is configured."""
    if deps.accounts is None or isinstance(deps.accounts, AccountDirectory):
        return deps.accounts
    return deps.accounts(service)


class Deferred(Exception):
    """The stage cannot go on yet; try again once `until` has passed."""

    def __init__(self, reason: str, until: datetime | None) -> None:
        super().__init__(reason)
        self.until = until


def service_of(settings: Settings, project: str,
               events: list[ErrorEvent]) -> ServiceSettings | None:
    """The configured service a cluster belongs to, by Sentry project or Datadog service."""
    names = {project, *(event.project for event in events if event.project)}
    for name in sorted(n for n in names if n):
        service = settings.service_for(sentry_project=name) or settings.service_for(
            datadog_service=name)
        if service:
            return service
    return None


@dataclass(frozen=True)
class RunContext:
    """A run a stage may act on, with its cluster, the cluster's stored events, the service
    they belong to and the best event: the first with a stack trace."""

    run: Run
    cluster: Cluster
    events: list[ErrorEvent]
    service: ServiceSettings | None
    event: ErrorEvent | None


def open_run(deps: Deps, run_id: int, states: Collection[RunState]) -> RunContext | None:
    """The run with what stages read alongside it, or None when it is not in `states` (another
    worker moved it on, or this message is a redelivery); PermanentError when its cluster is
    missing."""
    run = deps.store.get_run(run_id)
    if run is None or run.state not in states:
        return None
    cluster = deps.store.get_cluster(run.cluster_id)
    if cluster is None:
        raise PermanentError(f"run {run_id} points at a missing cluster")
    events = deps.store.cluster_events(cluster.id)
    return RunContext(run=run, cluster=cluster, events=events,
                      service=service_of(deps.settings, cluster.project, events),
                      event=next((event for event in events if event.frames), None))
