"""Using a repository environment: a sandbox whose every run has it in use, and the step a
stage takes to get one for its service (built, reused, or the reason it could not be)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path

from worker.env.models import Environment, EnvironmentFailure
from worker.fix.models import CommandResult, SandboxPolicy, Served
from worker.ports import Environments, Sandbox, Workspace


class EnvironmentSandbox:
    """A `Sandbox` that runs (and serves) every command with `environment` in use
    (`Environment.apply`), so agents, the reproduction, the suite, bisection and previews all
    see the repository's dependencies without each knowing about environments. The audit is the
    wrapped sandbox's."""

    def __init__(self, sandbox: Sandbox, environment: Environment) -> None:
        self.sandbox = sandbox
        self.environment = environment

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        """Run `argv` as the wrapped sandbox does, with the environment applied to `policy`."""
        return self.sandbox.run(worktree, argv, self.environment.apply(policy), stdin)

    def serve(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
              port: int) -> AbstractContextManager[Served]:
        """Serve `argv` as the wrapped sandbox does, with the environment applied to `policy`."""
        return self.sandbox.serve(worktree, argv, self.environment.apply(policy), port)

    @property
    def audit(self) -> list[CommandResult]:
        """Every command the wrapped sandbox ran, in order."""
        return self.sandbox.audit


def prepared(environments: Environments | None, workspace: Workspace, base: str,
             setup: list[str] | None) -> Environment | EnvironmentFailure | None:
    """The environment for `base` (None when no engine is configured: runs then use the
    sandbox as it is)."""
    if environments is None:
        return None
    return environments.prepare(workspace, base, setup)


def in_environment(sandbox: Sandbox, environment: Environment | None) -> Sandbox:
    """`sandbox`, with `environment` in use when there is one to use."""
    if environment is None or not environment.key:
        return sandbox
    return EnvironmentSandbox(sandbox, environment)
