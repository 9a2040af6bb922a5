"""What suture runs on its own machine: git repositories and worktrees, the sandbox, repository
environments, coding agents, previews before the push, artifacts and the doctor's probes.

Part of the composition root (`worker.app`); each factory picks one adapter from `integrations`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from integrations.agents import TemplateAgent
from integrations.agents.cli_agent import CliAgent
from integrations.agents.model_access import model_access
from integrations.agents.toolloop import ToolLoopAgent
from integrations.artifacts import FolderArtifacts
from integrations.git import GitMirror, GitRepository, GitWorkspace
from integrations.preview import CommandPreview, LocalPreview
from integrations.probes import HostProbes
from integrations.sandbox import BubblewrapSandbox
from integrations.sandbox.environments import SandboxEnvironments
from worker.doctor import Probes, SystemProbes
from worker.env.services import with_test_services
from worker.ports import (
    ArtifactStore,
    CodingAgent,
    Environments,
    Preview,
    Repository,
    Sandbox,
    Workspace,
)
from worker.settings import ServiceSettings, Settings


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

