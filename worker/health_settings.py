"""Where a long-running process shows it is alive (`Settings.health`), for `suture health`.

A worker or scheduler writes the time to `heartbeat_file` every `heartbeat_seconds` while its
threads are running; `suture health` (a container's health check, a Kubernetes liveness probe)
fails once the file is older than `stale_after_seconds`. Unset: no file, and `suture health`
checks only the database and the broker.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator, Field, model_validator

from worker.settings_base import Section, _blank_is_unset


class HealthSettings(Section):
    """The heartbeat file of a worker or scheduler process."""

    # Blank (an env file's empty line) is unset, not the current folder.
    heartbeat_file: Annotated[Path | None, BeforeValidator(_blank_is_unset)] = Field(
        default=None, description="written by `suture worker` and `suture scheduler`; unset: none")
    heartbeat_seconds: float = Field(default=10, gt=0)
    stale_after_seconds: float = Field(default=60, gt=0)

    @model_validator(mode="after")
    def _stale_after_outlasts_a_beat(self) -> HealthSettings:
        if self.stale_after_seconds <= self.heartbeat_seconds:
            raise ValueError(f"stale_after_seconds ({self.stale_after_seconds:g}) must exceed "
                             f"heartbeat_seconds ({self.heartbeat_seconds:g}), or a live process "
                             f"would look dead between two beats")
        return self
