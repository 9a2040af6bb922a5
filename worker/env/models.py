"""Models of a repository environment: the plan that sets one up, the environment a run uses,
the failure a setup can end in, and the record the cache keeps per entry.

An environment lives at fixed sandbox paths, because what a setup builds embeds them (a
virtualenv's scripts name its interpreter, an editable install names the source folder): the
worktree appears at `WORKDIR` and the cached environment at `ENV_DIR` in every run that uses it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from worker.fix.models import Mount, SandboxPolicy

ENGINE_VERSION = "1"  # part of every cache key: a change to how environments are built bumps it
WORKDIR = "/workspace"  # the worktree inside the sandbox while an environment is in use
ENV_DIR = "/env"  # the cached environment inside the sandbox (the virtualenv, Go's modules)
VENV_DIR = f"{ENV_DIR}/venv"
HOST_FILES_DIR = "/run/suture-env"  # certificate bundles and local indexes passed in, read-only


class SetupPlan(BaseModel):
    """How to set a repository's environment up, and what the result depends on.

    `files` are the dependency files whose contents go into the cache key; `keep` are folders
    the commands write inside the worktree (`node_modules`), moved into the cache afterwards;
    `generated` are files written under `ENV_DIR` before the commands run (a lock's pins as a
    constraints file), by path relative to it."""

    commands: list[str] = Field(default_factory=list)
    source: str = ""  # a sentence: what was chosen and why
    files: list[str] = Field(default_factory=list)
    python: bool = False  # a virtualenv is made first, and is active for the commands
    node: bool = False
    go: bool = False
    go_mod_mod: bool = False  # the repository tracks no go.sum: runs need GOFLAGS=-mod=mod
    keep: list[str] = Field(default_factory=list)
    generated: dict[str, str] = Field(default_factory=dict)


class Environment(BaseModel):
    """A repository environment ready to use: what made it, whether it came from the cache, and
    what a sandboxed run needs to use it (`apply`). With no commands (nothing to set up) it is
    empty, and `apply` leaves a policy as it is."""

    key: str = ""
    commands: list[str] = Field(default_factory=list)
    source: str = ""
    reused: bool = False
    seconds: float = 0.0  # this preparation
    build_seconds: float = 0.0  # the build that made it (earlier, when reused)
    size_bytes: int = 0
    workdir: str | None = None
    mounts: list[Mount] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)

    def apply(self, policy: SandboxPolicy) -> SandboxPolicy:
        """`policy` with this environment in use: the worktree at `workdir`, the environment
        mounted read-only, and its variables (which win over the policy's own)."""
        if not self.key:
            return policy
        return policy.model_copy(update={
            "workdir": self.workdir, "mounts": [*policy.mounts, *self.mounts],
            "env": {**policy.env, **self.env}})


class EnvironmentFailure(BaseModel):
    """A setup that did not produce an environment; nothing of it was kept. `log` is the
    failing command's output, clipped and scrubbed."""

    key: str = ""
    commands: list[str] = Field(default_factory=list)
    source: str = ""
    reason: str
    command: str = ""  # the command that failed, if one did
    exit_code: int | None = None
    log: str = ""
    seconds: float = 0.0


class EnvRecord(BaseModel):
    """What the cache keeps about one entry, next to it."""

    key: str
    commands: list[str] = Field(default_factory=list)
    source: str = ""
    keep: list[str] = Field(default_factory=list)  # the kept folders actually stored
    size_bytes: int = 0
    build_seconds: float = 0.0
    created: datetime
    last_used: datetime


class IndexConfig(BaseModel):
    """The host's package-index configuration as a setup may see it: hosts it may reach,
    variables it gets (no credentials), and host files shown to it read-only."""

    allow_hosts: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    mounts: list[Mount] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)  # what was dropped and why
