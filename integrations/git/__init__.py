"""git: the Repository (history) and Workspace (worktrees) ports over the git CLI, a mirror
cache of clones for the workers, and the one place git is started (`command`)."""

from __future__ import annotations

from integrations.git.command import run_git
from integrations.git.mirror import GitMirror
from integrations.git.repository import GitRepository
from integrations.git.workspace import GitWorkspace
from integrations.git.worktrees import PRIVATE_DIR, worktree_patch

__all__ = ["PRIVATE_DIR", "GitMirror", "GitRepository", "GitWorkspace", "run_git",
           "worktree_patch"]
