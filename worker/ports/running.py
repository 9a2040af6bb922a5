"""Running code that is not ours: the sandbox, repository environments, previews and the
coding agents."""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol, runtime_checkable

from worker.env.models import Environment, EnvironmentFailure
from worker.fix.models import Attempt, CommandResult, FixTask, SandboxPolicy, Served
from worker.ports.repository import Workspace
from worker.preview.models import Deployment, PreviewTarget


@runtime_checkable
class Sandbox(Protocol):
    """Runs commands in a worktree where they can do no harm: the worktree is the only writable
    place, the environment is empty but for what the policy allows, the network is off but for
    the policy's hosts, and limits stop runaway processes. Every command is audited."""

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        """Run `argv` with `worktree` as the working directory; never raises for the command's
        own failure (that is in the result), only for a broken sandbox (PermanentError)."""
        ...

    def serve(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
              port: int) -> AbstractContextManager[Served]:
        """Start `argv` in `worktree` in the background, its sandbox port `port` (and nothing
        else inside) reachable from the host at `Served.url`; leaving the block stops its whole
        process tree, and the command is audited then. PermanentError for a broken sandbox or
        a port that cannot be served; a command that dies is only an exit code."""
        ...

    @property
    def audit(self) -> list[CommandResult]:
        """Every command run so far, in order."""
        ...


@runtime_checkable
class Environments(Protocol):
    """Repository environments: a repository's dependencies installed once, in the sandbox with
    network to the package indexes only, cached by what they depend on (commands, dependency
    files, runtime), and reused by every run on the same base. Raises only PermanentError (a
    broken sandbox, a workspace that cannot make a tree); a setup that fails is a result."""

    def prepare(self, workspace: Workspace, base: str, setup: list[str] | None = None, *,
                tree: Path | None = None) -> Environment | EnvironmentFailure:
        """The environment for `base` of the workspace's repository: built (in a fresh
        worktree) or reused. `setup` is the service's configured commands (the repository's
        `.suture.yml` wins; neither: detected). `tree`, a clean worktree at `base` the caller
        already has, saves making one just to read the dependency files. Runs use the result
        through `Environment.apply(policy)`."""
        ...


@runtime_checkable
class Preview(Protocol):
    """Somewhere a commit of a service runs so a request can be replayed on it: started locally
    in the sandbox, deployed by the operator's command, or deployed by the code host (GitHub
    deployments). Raises PreviewError when the preview does not become ready."""

    name: str

    def deploy(self, target: PreviewTarget) -> AbstractContextManager[Deployment]:
        """Deploy `target` and wait until it answers; the deployment (its URL) is good until
        the block ends, when whatever the provider started is stopped."""
        ...


@runtime_checkable
class CodingAgent(Protocol):
    """Something that proposes a patch for a task inside a sandboxed worktree."""

    name: str

    def attempt(self, task: FixTask, worktree: Path, sandbox: Sandbox) -> Attempt:
        """Edit `worktree` (through `sandbox` for anything that runs code) and return the
        attempt; the caller reads the patch from the worktree, not from the agent's word."""
        ...
