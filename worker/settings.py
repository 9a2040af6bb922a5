"""Configuration: one pydantic-settings root, read once at start-up.

Values come from (highest first) arguments given in code (the demo's and tests' overrides),
`SUTURE_*` environment variables (nested with `__`, e.g. `SUTURE_SENTRY__TOKEN`), a TOML file
given with `--config` (or `SUTURE_CONFIG`), then defaults. Secrets are `SecretStr` so they never
print. A bad value, an unknown key at any level (a typo would otherwise be silently ignored) or an
unreadable file fails at start with the key named.
"""

from __future__ import annotations

import tomllib
from contextvars import ContextVar
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from worker.digest_settings import DigestSettings
from worker.env.services import TestServices
from worker.health_settings import HealthSettings
from worker.intake_settings import IntakeSettings
from worker.notify_settings import NotifySettings
from worker.pages_settings import PagesSettings
from worker.preview.settings import PreviewSettings
from worker.retention_settings import RetentionSettings
from worker.settings_base import ConfigError as ConfigError
from worker.settings_base import OptionalSecret as OptionalSecret
from worker.settings_base import Section as Section
from worker.settings_base import _blank_is_unset
from worker.settings_rules import contradictions
from worker.stage_settings import (
    CorrelateSettings,
    EnvSettings,
    FixSettings,
    FollowSettings,
    PolicySettings,
)
from worker.vendor_settings import DatadogSettings as DatadogSettings
from worker.vendor_settings import GitHubSettings as GitHubSettings
from worker.vendor_settings import GitLabSettings as GitLabSettings
from worker.vendor_settings import SentrySettings as SentrySettings


class ServiceSettings(Section):
    """One monitored service: which upstream project it is and which repository holds its code.

    `test_services` (`worker.env.services`) open network paths out of the sandbox, so only the
    operator's settings declare them, never the repository's `.suture.yml`: a repository must not
    be able to point the sandbox at hosts of its choosing."""

    name: str
    sentry_project: str | None = None
    datadog_service: str | None = None
    repository: str = Field(description="clone URL or local path")
    slug: str | None = Field(default=None, description="owner/name on the code host")
    default_branch: str = "main"
    language: Literal["python", "javascript", "typescript", "java", "go"] = "python"
    test_command: str | None = None
    setup: list[str] | None = Field(
        default=None, description="commands that install the repository's dependencies, run "
                                  "with network to package indexes only; unset: detected")
    test_services: TestServices = Field(
        default_factory=list, description="databases and caches the tests reach from the "
                                          "sandbox (operator-only); empty: none")
    preview: PreviewSettings = Field(
        default_factory=PreviewSettings,
        description="how the base and fixed commits run for a replay (`worker.preview.settings`)")

    @field_validator("slug")
    @classmethod
    def _slug_has_owner(cls, value: str | None) -> str | None:
        if value is not None and value.count("/") != 1:
            raise ValueError("must look like owner/name")
        return value



class ArtifactSettings(Section):
    """Evidence files (screenshots, full logs): where they are kept, where reviewers open them."""

    dir: Annotated[Path | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, description="default: <data_dir>/artifacts")
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="where suture's web app is reachable from a reviewer's browser; artifact "
                    "links are <public_url>/artifacts/<run>/<name>")


class BrowserSettings(Section):
    """The Chromium that renders screenshots of previews (Playwright drives it; none is
    downloaded)."""

    chromium_path: Annotated[Path | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, description="default: `chromium` on PATH")



class BrokerSettings(Section):
    """Dramatiq's Redis broker tuning; the defaults recover a killed worker's message in ~20 s.
    RabbitMQ needs none of it (`worker.broker`)."""

    heartbeat_timeout_ms: int = Field(default=15_000, ge=1_000)
    maintenance_chance: int = Field(default=250_000, ge=0, le=1_000_000)
    namespace: str = "suture"


class Settings(BaseSettings):
    """The root of suture's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="SUTURE_", env_nested_delimiter="__", extra="forbid", validate_default=True
    )

    database_url: str = "sqlite:///.suture/suture.db"
    broker_url: str | None = Field(
        default=None, description="redis://... or amqp://... (RabbitMQ); unset: in-memory")
    data_dir: Path = Path(".suture")
    forge: Literal["github", "files"] = "files"
    code_host: Literal["none", "github", "gitlab"] = Field(
        default="none", description="where verified fixes become draft pull (merge) requests; "
                                    "none: they are filed as tickets")
    tickets_dir: Path = Path(".suture/tickets")
    error_dsn: OptionalSecret = Field(
        default=None, description="Sentry DSN for suture's own errors; unset: not reported")
    log_format: Literal["text", "json"] = Field(
        default="text", description="json: one object per line (time, level, logger, message, "
                                    "run_id, state, ...) for a log collector")
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    webhook_max_age_seconds: int = Field(default=300, ge=1)
    webhook_max_bytes: int = Field(default=1_048_576, ge=1024)
    poll_interval_seconds: int = Field(default=300, ge=5)
    reconcile_interval_seconds: int = Field(default=60, ge=1)
    stuck_after_seconds: int = Field(default=180, ge=1)
    max_attempts: int = Field(default=5, ge=1)
    run_lease_seconds: float = Field(
        default=60.0, ge=3,
        description="how long a dead worker's hold on a run's stage outlives it")
    publish_lease_seconds: float = Field(
        default=180.0, gt=0,
        description="outlasts any forge request a crashed worker left in flight")
    event_sample_size: int = Field(default=20, ge=1)
    sentry: SentrySettings = Field(default_factory=SentrySettings)
    datadog: DatadogSettings = Field(default_factory=DatadogSettings)
    github: GitHubSettings = Field(default_factory=GitHubSettings)
    gitlab: GitLabSettings = Field(default_factory=GitLabSettings)
    broker: BrokerSettings = Field(default_factory=BrokerSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    correlate: CorrelateSettings = Field(default_factory=CorrelateSettings)
    fix: FixSettings = Field(default_factory=FixSettings)
    env: EnvSettings = Field(default_factory=EnvSettings)
    follow: FollowSettings = Field(default_factory=FollowSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    digest: DigestSettings = Field(default_factory=DigestSettings)
    health: HealthSettings = Field(default_factory=HealthSettings)
    pages: PagesSettings = Field(default_factory=PagesSettings)
    intake: IntakeSettings = Field(default_factory=IntakeSettings)
    artifacts: ArtifactSettings = Field(default_factory=ArtifactSettings)
    browser: BrowserSettings = Field(default_factory=BrowserSettings)
    playbooks_dir: Path = Field(default_factory=lambda: Path(__file__).resolve().parents[1]
                                / "playbooks")
    services: list[ServiceSettings] = Field(default_factory=list)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # Arguments given in code win over the environment: the demo must not pick up an
        # operator's SUTURE_DATABASE_URL and write its sample data into a real database.
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = _CONFIG_FILE.get()
        if toml_path is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_path))
        return (*sources, file_secret_settings)

    @model_validator(mode="after")
    def _agree(self) -> Settings:
        """Refuse settings that contradict each other (`worker.settings_rules`)."""
        found = contradictions(self)
        if found:
            raise PydanticCustomError("contradictory_settings", "; ".join(found))
        return self

    def service_for(self, *, sentry_project: str | None = None,
                    datadog_service: str | None = None) -> ServiceSettings | None:
        """The configured service an upstream project or service name belongs to."""
        for service in self.services:
            if sentry_project and service.sentry_project == sentry_project:
                return service
            if datadog_service and service.datadog_service == datadog_service:
                return service
        return None


# Set only by load_settings, for the duration of one construction; a context variable, so two
# threads loading different files at once do not see each other's.
_CONFIG_FILE: ContextVar[Path | None] = ContextVar("suture_config_file", default=None)


def load_settings(config: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings from env, an optional TOML file and overrides; raise ConfigError."""
    if config is not None and not config.is_file():
        raise ConfigError(f"config file not found: {config}")
    token = _CONFIG_FILE.set(config)
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(describe_errors(exc)) from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {config} is not valid TOML: {exc}") from None
    except (SettingsError, OSError) as exc:
        # e.g. an environment variable for a list or table that does not hold valid JSON
        raise ConfigError(f"invalid configuration: {exc}") from None
    finally:
        _CONFIG_FILE.reset(token)


def describe_errors(exc: ValidationError) -> str:
    """One line per bad key, naming it both as a dotted path and as its environment variable."""
    lines = ["invalid configuration:"]
    for error in exc.errors():
        if not error["loc"]:  # settings that contradict each other: the message names them
            lines.append(f"  {error['msg']}")
            continue
        path = ".".join(str(part) for part in error["loc"])
        lines.append(f"  {path} ({env_name(error['loc'])}): {error['msg']}")
    return "\n".join(lines)


def env_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable that sets the value at `loc`.

    Environment variables cannot address one item of a list: `services.0.slug` is set by
    `SUTURE_SERVICES` (a JSON list), so the name stops at the first index.
    """
    parts: list[str] = []
    for part in loc:
        if isinstance(part, int):
            break
        parts.append(part.upper())
    return "SUTURE_" + "__".join(parts)
