"""Facts read from a git repository, as the `Repository` port hands them over: commits with the
files they changed, zero-context hunks, and who last changed a line."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class FileChange(BaseModel):
    """Lines added and deleted in one file by one commit (None for binary files)."""

    model_config = ConfigDict(frozen=True)

    path: str
    added: int | None = None
    deleted: int | None = None


class Commit(BaseModel):
    """A commit with every file it changed."""

    sha: str
    parents: list[str] = Field(default_factory=list)
    author: str = ""
    email: str = ""
    timestamp: datetime
    summary: str = ""
    changes: list[FileChange] = Field(default_factory=list)
    # False when `changes` lists only some paths (a path-limited query), not the whole commit.
    complete: bool = True

    @property
    def lines_changed(self) -> int:
        """Added plus deleted lines over all text files."""
        return sum((c.added or 0) + (c.deleted or 0) for c in self.changes)


class Hunk(BaseModel):
    """One zero-context hunk of a commit in one file, with git's function context header."""

    sha: str
    path: str
    old_start: int
    old_count: int
    new_start: int
    new_count: int
    function: str = ""
    added: list[str] = Field(default_factory=list)
    removed: list[str] = Field(default_factory=list)


class BlameLine(BaseModel):
    """Who last changed one line, as of the release."""

    line: int
    sha: str
    author: str = ""
    email: str = ""
    timestamp: datetime
