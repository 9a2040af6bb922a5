"""A repository's history (`Repository`) and its writable side (`Workspace`)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from pathlib import Path
from typing import Protocol, runtime_checkable

from pydantic import BaseModel

from worker.codehost import (
    PushAccess,
    Signature,
)
from worker.vcs import BlameLine, Commit, Hunk


@runtime_checkable
class Repository(Protocol):
    """A repository's history, read at fixed revisions (every answer is for a resolved commit);
    the writable side is the `Workspace`."""

    def resolve(self, rev: str) -> str:
        """The full sha `rev` names; PermanentError if it names nothing."""
        ...

    def files(self, rev: str) -> list[str]:
        """Every tracked path at `rev`."""
        ...

    def read(self, rev: str, path: str) -> str | None:
        """A file's text at `rev`, or None when absent or binary."""
        ...

    def read_many(self, rev: str, paths: list[str]) -> dict[str, str | None]:
        """Several files' text at `rev` (None for absent or binary ones)."""
        ...

    def grep(self, rev: str, texts: list[str]) -> list[tuple[str, int, str]]:
        """(path, line number, line) of every text line at `rev` that contains one of `texts`
        (fixed strings: fast enough for a whole tree)."""
        ...

    def versions(self, changes: list[tuple[str, str]]
                 ) -> dict[tuple[str, str], tuple[str | None, str | None]]:
        """For each (commit, path): the file's text before and after that commit (None where
        absent or binary)."""
        ...

    def history(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Commit]:
        """Commits reachable from `rev` inside `window` that touch `paths` (their `changes`
        may cover only those paths: see `Commit.complete`)."""
        ...

    def touching(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Commit]:
        """Like `history`, names only (no patches): cheap over whole folders."""
        ...

    def hunks(self, rev: str, paths: list[str], window: HistoryWindow) -> list[Hunk]:
        """Zero-context hunks in `paths` of the commits `history` returns."""
        ...

    def blame(self, rev: str, path: str, ranges: list[tuple[int, int]],
              since: datetime | None = None) -> dict[int, BlameLine]:
        """Line number → who last changed it, for inclusive line ranges at `rev`; lines last
        changed before `since` are left out."""
        ...

    def describe(self, shas: list[str]) -> list[Commit]:
        """The named commits, each with every file it changed."""
        ...

    def removed(self, shas: list[str]) -> dict[str, list[str]]:
        """Every line each commit removed, in any file: what a commit only moved is not new."""
        ...

    def ignored_revisions(self, rev: str) -> set[str]:
        """Commits the project declares as not changing behaviour (reformatting and the like)."""
        ...



class HistoryWindow(BaseModel):
    """Which history may explain a crash: after `exclude` (the previous release) and `since`."""

    exclude: str | None = None
    since: datetime | None = None
    max_commits: int = 2000


@runtime_checkable
class Workspace(Protocol):
    """The writable side of a repository: throwaway detached worktrees ("trees") and the git
    steps on them, plus the few history reads bisection needs. Raises only WorkspaceError."""

    def worktrees(self, base: str, names: tuple[str, ...] = ("base", "fix")
                  ) -> AbstractContextManager[dict[str, Path]]:
        """Detached worktrees at `base` in a temporary folder, one per name, removed on exit."""
        ...

    def worktree(self, base: str, folder: Path) -> AbstractContextManager[Path]:
        """A fresh detached worktree at `base` in `folder`, removed when the block ends."""
        ...

    def resolve(self, rev: str) -> str:
        """The full sha of the commit `rev` names."""
        ...

    def apply(self, tree: Path, patch: bytes, *, reverse: bool = False) -> str | None:
        """Apply `patch` (or undo it) to the tree and its index; git's complaint, or None."""
        ...

    def staged_diff(self, tree: Path, paths: list[str] | None = None, *,
                    binary: bool = False) -> bytes:
        """The diff from the tree's HEAD to its index, optionally for `paths` only."""
        ...

    def staged_text(self, tree: Path, path: str) -> str | None:
        """A file's text as staged in the tree's index, or None when it is not there."""
        ...

    def tracked(self, tree: Path) -> list[str]:
        """Every path the tree's HEAD tracks."""
        ...

    def reset_to_index(self, tree: Path) -> None:
        """Make the tree exactly its index: tracked files rewritten, everything else removed."""
        ...

    def checkout(self, tree: Path, sha: str) -> None:
        """Move the tree (detached, forced) to commit `sha`."""
        ...

    def stage(self, tree: Path, paths: list[str]) -> None:
        """Add `paths` of the tree to its index."""
        ...

    def patch(self, tree: Path) -> str:
        """Every change in the tree since HEAD, new files included, as a unified diff, leaving
        its index alone and suture's private area and test caches out."""
        ...

    def first_parents(self, rev: str, limit: int) -> list[str]:
        """Up to `limit` commits of `rev`'s first-parent history, newest (`rev`) first."""
        ...

    def parents(self, sha: str) -> list[str]:
        """The commit's parents, the first parent first."""
        ...

    def merged_branch(self, merge: str) -> list[str]:
        """The first-parent commits a merge brought in from its second parent, newest first."""
        ...

    def author_and_subject(self, sha: str) -> tuple[str, str]:
        """The commit's author name and subject line."""
        ...

    def commit_patch(self, base: str, patch: bytes, message: str, signature: Signature) -> str:
        """A commit on `base` whose change is `patch`, made without a worktree; the same
        inputs always make the same commit."""
        ...

    def carry_onto(self, commit: str, onto: str, signature: Signature) -> str | None:
        """`commit` replayed on top of `onto`, or None when they conflict."""
        ...

    def rebuild_on(self, commit: str, parent: str, signature: Signature) -> str:
        """A commit with `commit`'s tree on top of `parent` (a fast-forward of a branch at
        `parent`); `parent` itself when their trees are the same."""
        ...

    def remote_branch(self, access: PushAccess, branch: str) -> str | None:
        """The sha of `branch` on the remote `access` names, or None when it has none."""
        ...

    def fetch_branch(self, access: PushAccess, branch: str) -> str | None:
        """Fetch `branch` from the remote; its sha here, or None when the remote has none."""
        ...

    def push_branch(self, access: PushAccess, sha: str, branch: str) -> None:
        """Create `branch` on the remote at `sha`; never forced."""
        ...

    def contains(self, release: str, commit: str) -> bool | None:
        """Whether `release` (a revision) has `commit` in its history; None when either is
        unknown here."""
        ...
