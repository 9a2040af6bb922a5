"""Models of correlation: what suture concludes from the repository about a crash.

The facts read from git (`Commit`, `Hunk`, `BlameLine`) live in `worker.vcs`; `MappedFrame` ties a
stack frame to a file of the repository; `Suspect` and `Owner` are conclusions, each carrying the
reasons behind it.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

from worker.models import Frame


class MappedFrame(BaseModel):
    """A stack frame and the repository file it runs, if any.

    `depth` counts in-app frames from the crash (0 = innermost); library and unmapped frames have
    none and are never blamed.
    """

    frame: Frame
    path: str | None = None
    depth: int | None = None
    reason: str = ""
    function_range: tuple[int, int] | None = None
    # The frame's line as the release's source has it.
    source_line: str | None = None

    @property
    def blameable(self) -> bool:
        """True when the frame maps to an in-app file of the repository."""
        return self.path is not None and self.depth is not None


class Suspect(BaseModel):
    """A commit that may have caused the crash, with its score, confidence and reasons."""

    sha: str
    score: float
    confidence: float
    author: str = ""
    email: str = ""
    # The author's code-host login, when known (so a pull request can ask them to review).
    login: str | None = None
    summary: str = ""
    date: datetime | None = None
    reasons: list[str] = Field(default_factory=list)


class Owner(BaseModel):
    """Someone who should look: a CODEOWNERS entry or an author of the crashing lines."""

    name: str
    login: str | None = None
    email: str = ""  # how notifications find them (the Slack user map is keyed by email)
    source: str
    reason: str


class Correlation(BaseModel):
    """Everything correlation found for one event."""

    release: str
    suspects: list[Suspect] = Field(default_factory=list)
    owners: list[Owner] = Field(default_factory=list)
    frames: list[MappedFrame] = Field(default_factory=list)
    note: str = ""
