"""Worktrees for fix attempts (the Repository port's `worktree`): one fresh detached worktree
per attempt, removed afterwards.

An agent never touches the repository itself or another attempt's files: each attempt gets its
own `git worktree` at the base commit under the run's folder, which is the only place its
sandbox can write.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from integrations.git.command import GitFailed, run_git


@contextmanager
def worktree(repository: Path, base: str, folder: Path) -> Iterator[Path]:
    """A detached worktree of `repository` at `base` in `folder` (recreated), removed on exit."""
    if folder.exists():
        _remove(repository, folder)
    folder.parent.mkdir(parents=True, exist_ok=True)
    run_git(repository, "worktree", "add", "--detach", "--force", str(folder), base)
    try:
        yield folder
    finally:
        _remove(repository, folder)


def _remove(repository: Path, folder: Path) -> None:
    with suppress(GitFailed):
        run_git(repository, "worktree", "remove", "--force", str(folder))
    shutil.rmtree(folder, ignore_errors=True)
    with suppress(GitFailed):
        run_git(repository, "worktree", "prune")
