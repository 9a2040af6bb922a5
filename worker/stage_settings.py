"""The settings sections of the pipeline's stages: what triage lets through, how suspects are
ranked, what the fix loop may spend and which endpoint its agent calls, how repository
environments are kept, and how proposed fixes are followed. `worker.settings.Settings` holds one
of each."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field

from worker.model_proxy_settings import AnthropicEndpointSettings
from worker.settings_base import OptionalSecret, Section, _blank_is_unset


class PolicySettings(Section):
    """What triage lets through."""

    levels: list[str] = Field(default_factory=lambda: ["error", "fatal", "critical"])
    ignore_types: list[str] = Field(default_factory=list)
    require_service: bool = Field(
        default=True, description="skip clusters whose project maps to no configured service")
    skip_test_notifications: bool = Field(
        default=True, description="skip a vendor's test notifications (a Datadog [TEST] monitor)")


class CorrelateSettings(Section):
    """Suspect commits and owners."""

    top: int = Field(default=5, ge=1, le=50)
    window_days: float = Field(default=365, gt=0,
                               description="patches and blame read before first seen")
    horizon_days: float = Field(
        default=730, ge=0,
        description="older commits touching the stack's files stay suspects up to this far back")
    logins: dict[str, str] = Field(
        default_factory=dict, description="commit email → code-host login, for reviewers")


class AgentEndpointSettings(Section):
    """An OpenAI-compatible chat-completions endpoint for the tool-loop agent."""

    base_url: str | None = None
    api_key: OptionalSecret = None
    model: str = "gpt-4.1"
    price_per_1k_tokens: float = Field(default=0.0, ge=0)


class FixSettings(Section):
    """The fix loop: whether it runs, and what it may spend."""

    enabled: bool = True
    max_runs_per_day: int = Field(default=20, ge=0)
    max_runs_per_repo_per_day: int = Field(default=5, ge=0)
    cooldown_hours: float = Field(default=24, ge=0, description="wait after a failed fix")
    agent: AgentEndpointSettings = Field(default_factory=AgentEndpointSettings)
    anthropic: AnthropicEndpointSettings = Field(default_factory=AnthropicEndpointSettings)
    worktrees_dir: Annotated[Path | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, description="default: <data_dir>/worktrees")
    bisect_probes: int = Field(
        default=20, ge=0,
        description="runs of a verified reproduction spent finding the commit that brought the "
                    "crash in; 0: no bisection")
    bisect_commits: int = Field(default=4096, ge=1,
                                description="first-parent commits bisection looks back over")
    bisect_seconds: float = Field(default=1800, gt=0,
                                  description="no bisection run starts after this long")


class EnvSettings(Section):
    """Repository environments: where built ones are cached and how much of them is kept."""

    cache_dir: Annotated[Path | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, description="default: <data_dir>/envs")
    max_cache_mb: int = Field(default=10_240, ge=0,
                              description="least recently used environments go beyond this")
    max_age_days: float = Field(default=14, gt=0,
                                description="environments unused this long are removed")
    setup_seconds: float = Field(default=1800, gt=0,
                                 description="wall-clock limit of each setup command")


class FollowSettings(Section):
    """Following proposed fixes: how long a merged fix is watched, when a quiet pull request
    gets its reminder, and how often suture asks the code host when no webhook tells it."""

    hold_days: float = Field(default=7, gt=0,
                             description="a merged fix with no new event this long has held")
    stale_days: float = Field(default=7, gt=0,
                              description="an open pull request untouched this long gets one "
                                          "reminder")
    poll_seconds: int = Field(default=300, ge=10,
                              description="how often open pull requests are polled")
    max_retries: int = Field(default=2, ge=0,
                             description="new attempts `/suture retry` may ask for per pull "
                                         "request")

