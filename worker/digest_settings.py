"""The weekly digest (`Settings.digest`): which channels get it and how long its list of the
noisiest errors is. Slack and email go through the channels the `notify` section configures;
a GitHub issue goes to `github_repo` with the `github` section's credentials. No channel: no
scheduled digest (`suture digest` still prints one).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from worker.settings_base import Section

DigestChannel = Literal["slack", "email", "github"]


class DigestSettings(Section):
    """Where the weekly digest is sent, and what it lists."""

    channels: list[DigestChannel] = Field(
        default_factory=list, description="slack, email and/or github; empty: not sent")
    github_repo: str | None = Field(default=None,
                                    description="owner/name the digest issue is filed in")
    labels: list[str] = Field(default_factory=lambda: ["suture-digest"],
                              description="labels of the digest issue")
    top: int = Field(default=5, ge=1, le=50, description="how many noisiest errors to list")

    @field_validator("channels")
    @classmethod
    def _once_each(cls, value: list[DigestChannel]) -> list[DigestChannel]:
        return list(dict.fromkeys(value))

    @field_validator("github_repo")
    @classmethod
    def _owner_name(cls, value: str | None) -> str | None:
        if value is not None and (value.count("/") != 1 or not all(value.split("/"))):
            raise ValueError("must look like owner/name")
        return value

    @model_validator(mode="after")
    def _github_needs_repo(self) -> DigestSettings:
        if "github" in self.channels and not self.github_repo:
            raise ValueError("the github channel needs github_repo")
        return self
