"""What checking a fix on previews found, as the run records it."""

from __future__ import annotations

from pydantic import BaseModel, Field

from worker.preview.evidence import ReplayEvidence


class StepSeconds(BaseModel):
    """How long one preview step took."""

    step: str
    seconds: float


class Shot(BaseModel):
    """A screenshot of the replayed page on one preview, kept in the artifact store."""

    label: str  # "base" or "fix"
    url: str  # where a reviewer opens it
    path: str = ""
    width: int = 0
    height: int = 0
    status: int | None = None


class PreviewOutcome(BaseModel):
    """The failing request replayed on a preview of the base and of the fix, with screenshots;
    or why there was no replay (`no_replay`: the event had no request, no preview is
    configured) or no preview (`failure`: it never became ready)."""

    provider: str = ""
    base_url: str = ""
    fix_url: str = ""
    replay: ReplayEvidence | None = None
    screenshots: list[Shot] = Field(default_factory=list)
    no_replay: str = ""
    failure: str = ""
    timings: list[StepSeconds] = Field(default_factory=list)

    @property
    def contradicts_fix(self) -> bool:
        """True when the replay reproduced the crash on the base and the fix still fails it."""
        return bool(self.replay and self.replay.reproduced_on_base and not self.replay.fixed)
