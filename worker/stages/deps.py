"""What every stage is given, and the small helpers they share."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from worker.models import ErrorEvent
from worker.ports import (
    AccountDirectory,
    CodingAgent,
    ErrorSource,
    Repository,
    Sandbox,
    TicketForge,
)
from worker.render import Renderer
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
    # The fix loop's adapters: a fresh sandbox per stage (its audit is the stage's), an agent
    # for a playbook's agent entry (None when not configured), a worktree's patch.
    make_sandbox: Callable[[], Sandbox] | None = None
    make_agent: Callable[[Any, Any], CodingAgent | None] | None = None
    patch_of: Callable[[Path], str] | None = None
    # Who commits belong to on the code host: one directory for every service, or a function
    # giving a service's (None where its repository is on no configured code host).
    accounts: AccountDirectory | Callable[[ServiceSettings], AccountDirectory | None] | None = None

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
