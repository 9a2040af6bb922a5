"""Where notices go (`Settings.notify`): a Slack incoming webhook, a Slack bot posting to a
channel, an SMTP server, any of them, or none. Each channel is used when its settings are given
(`integrations.notify.make_notifiers`); half a channel (a bot token with no channel, an SMTP host
with no sender) fails at start rather than silently notifying nobody.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")


def _blank_is_unset(value: Any) -> Any:
    # An unset variable expanded by a shell or a compose file arrives as "".
    if isinstance(value, SecretStr):
        value = value.get_secret_value()
    if isinstance(value, str) and not value.strip():
        return None
    return value


class NotifySettings(BaseModel):
    """Slack (webhook and/or bot) and email settings for notices."""

    model_config = ConfigDict(extra="forbid")

    slack_webhook_url: SecretStr | None = Field(
        default=None, description="an incoming webhook (https://hooks.slack.com/services/…)")
    slack_bot_token: SecretStr | None = Field(
        default=None, description="a bot token (xoxb-…) with chat:write; needs slack_channel")
    slack_channel: str | None = Field(default=None,
                                      description="channel id (C…) or name the bot posts to")
    slack_users: dict[str, str] = Field(
        default_factory=dict, description="owner email → Slack user id (U…), for mentions")
    slack_base_url: str = Field(default="https://slack.com/api/",
                                description="Slack's Web API (a stand-in's in tests)")
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535,
                           description="submission port; implicit TLS (465) is not supported")
    smtp_username: str | None = Field(default=None, description="unset: no login")
    smtp_password: SecretStr | None = None
    smtp_from: str | None = Field(default=None, description="the sender address")
    smtp_to: list[str] = Field(default_factory=list, description="who receives notices")
    smtp_starttls: bool = Field(default=True,
                                description="upgrade with STARTTLS (refused if not offered)")
    timeout_seconds: float = Field(default=10, gt=0, description="each Slack or SMTP exchange")

    @field_validator("slack_webhook_url", "slack_bot_token", "smtp_password", "slack_channel",
                     "smtp_host", "smtp_username", "smtp_from", mode="before")
    @classmethod
    def _unset_blank(cls, value: Any) -> Any:
        return _blank_is_unset(value)

    @field_validator("slack_users")
    @classmethod
    def _user_ids(cls, value: dict[str, str]) -> dict[str, str]:
        for email, uid in value.items():
            if not _SLACK_USER_ID.fullmatch(uid):
                raise ValueError(f"{email}: {uid!r} is not a Slack user id (U… or W…)")
        return {email.strip().lower(): uid for email, uid in value.items()}

    @model_validator(mode="after")
    def _whole_channels(self) -> NotifySettings:
        if self.slack_bot_token is not None and not self.slack_channel:
            raise ValueError("slack_bot_token needs slack_channel")
        if self.smtp_host and not (self.smtp_from and self.smtp_to):
            raise ValueError("smtp_host needs smtp_from and smtp_to")
        if self.smtp_password is not None and not self.smtp_username:
            raise ValueError("smtp_password needs smtp_username")
        return self

    @property
    def channels(self) -> list[str]:
        """The notifier names these settings configure."""
        names = ["slack-webhook"] if self.slack_webhook_url is not None else []
        if self.slack_bot_token is not None:
            names.append("slack-bot")
        if self.smtp_host:
            names.append("email")
        return names
