"""The settings sections of the services suture talks to: Sentry, Datadog, GitHub and GitLab."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field

from worker.settings_base import OptionalSecret, Section


class SentrySettings(Section):
    """Sentry: REST polling (token) and the integration webhook (client secret)."""

    base_url: str = "https://sentry.io"
    org: str | None = None
    token: OptionalSecret = None
    client_secret: OptionalSecret = None
    projects: list[str] = Field(default_factory=list)
    query: str = "is:unresolved"
    page_limit: int = Field(default=100, ge=1, le=100)
    max_pages: int = Field(default=10, ge=1)

    @property
    def pollable(self) -> bool:
        """True when enough is configured to poll the REST API."""
        return bool(self.org and self.token)


class DatadogSettings(Section):
    """Datadog: API polling through datadog-api-client, and monitor webhooks."""

    host: str | None = None
    site: str = "datadoghq.com"
    api_key: OptionalSecret = None
    app_key: OptionalSecret = None
    webhook_secret: OptionalSecret = None
    webhook_header: str = "X-Suture-Token"
    services: list[str] = Field(default_factory=list)
    track: Literal["trace", "logs", "rum"] = "logs"
    logs_query: str = (
        "status:(emergency OR alert OR critical OR error) AND (@error.stack:* OR @error.kind:*)"
    )
    lookback_minutes: int = Field(default=60, ge=1)
    settle_seconds: int = Field(
        default=60, ge=0, description="poll windows end this long ago: logs are indexed late")
    page_limit: int = Field(default=100, ge=1, le=1000)
    max_pages: int = Field(default=10, ge=1)

    @property
    def pollable(self) -> bool:
        """True when enough is configured to poll the API."""
        return bool(self.api_key and self.app_key)


class GitHubSettings(Section):
    """GitHub (or GitHub Enterprise) REST API, used through PyGithub.

    Pull requests go through a GitHub App when `app_id` and `app_private_key_file` are set
    (installation tokens scoped to one repository; check runs), else through `token`."""

    base_url: str = "https://api.github.com"
    token: OptionalSecret = None
    labels: list[str] = Field(default_factory=lambda: ["suture"])
    app_id: int | None = None
    app_private_key_file: Path | None = Field(
        default=None, description="PEM file of the GitHub App's private key (never the key)")
    installation_id: int | None = Field(
        default=None, description="the App's installation; unset: looked up per repository")
    webhook_secret: OptionalSecret = Field(
        default=None, description="signs the webhook (X-Hub-Signature-256) at /hooks/github; "
                                  "unset: deliveries are refused")
    webhook_secret_previous: OptionalSecret = Field(
        default=None, description="the secret being rotated out, still accepted meanwhile")


class GitLabSettings(Section):
    """GitLab (gitlab.com or self-managed) REST API, used through python-gitlab. The token is
    best a project access token (Developer role, `api` and `write_repository` scopes) scoped to
    the one project suture proposes fixes to."""

    base_url: str = "https://gitlab.com"
    token: OptionalSecret = None
    labels: list[str] = Field(default_factory=lambda: ["suture"])
    webhook_secret: OptionalSecret = Field(
        default=None, description="the webhook's secret token (X-Gitlab-Token) at "
                                  "/hooks/gitlab; unset: deliveries are refused")
    webhook_secret_previous: OptionalSecret = Field(
        default=None, description="the token being rotated out, still accepted meanwhile")
