"""How a service's application is previewed (`ServiceSettings.preview`): which provider, and what
each needs. Operator settings only: a deploy command's hosts and variables open ways out of the
sandbox, so a repository's `.suture.yml` never sets them.

- `local`: `command` is started in the sandbox (the repository's environment in use), listening
  on `port` inside the sandbox's own network (`{port}` in the command stands for it, and `PORT`
  is set); it is ready once `GET health_path` answers with a status below 500 within
  `ready_seconds`.
- `command`: `deploy_command` deploys the commit (it runs in the sandbox in the worktree, may
  reach `allow_hosts` only, gets `deploy_env` and `SUTURE_PREVIEW_SHA`/`_BRANCH`/`_REPO`) and
  prints the preview's URL as its last line, within `wait_seconds`; the URL must then pass the
  same health check. `stop_command` (with `SUTURE_PREVIEW_URL` too) tears it down afterwards.
- `github`: the pushed commit's GitHub deployment (in an environment matching `environment`, a
  glob where `{branch}` stands for the branch) must reach `success` within `wait_seconds`,
  looked at every `poll_seconds`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator


class PreviewSettings(BaseModel):
    """One service's preview (see the module docstring for what each provider reads)."""

    model_config = ConfigDict(extra="forbid")

    provider: Literal["local", "github", "command"] = "local"
    command: str | None = Field(
        default=None, description="local: starts the application listening on {port}, e.g. "
                                  "`python -m uvicorn app:app --port {port}`; unset: no preview")
    port: int = Field(default=8000, ge=1024, le=65535,
                      description="local: the port {port} stands for, inside the sandbox")
    health_path: str = Field(
        default="/", description="ready once a GET here answers with a status below 500")
    ready_seconds: float = Field(default=60, gt=0,
                                 description="local, command: how long it may take to be ready")
    deploy_command: str | None = Field(
        default=None, description="command: deploys the commit, prints its URL as the last line")
    stop_command: str | None = Field(default=None,
                                     description="command: tears the preview down afterwards")
    allow_hosts: list[str] = Field(
        default_factory=list, description="command: hosts the deploy and stop commands reach")
    deploy_env: dict[str, SecretStr] = Field(
        default_factory=dict, description="command: variables (a deploy token) for its commands")
    environment: str | None = Field(
        default=None, description="github: the deployments' environment, a glob ({branch} "
                                  "stands for the branch); unset: any environment")
    wait_seconds: float = Field(
        default=600, gt=0, description="github: wait for a successful deployment; command: the "
                                       "deploy command's wall-clock limit")
    poll_seconds: float = Field(default=10, gt=0, description="github: time between looks")

    @field_validator("health_path")
    @classmethod
    def _absolute_path(cls, value: str) -> str:
        if not value.startswith("/") or any(c in value for c in "\r\n #"):
            raise ValueError("must be a path starting with / (a query is allowed)")
        return value
