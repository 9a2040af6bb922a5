"""git: the Repository port over the git CLI, and a mirror cache of clones for the workers."""

from __future__ import annotations

from integrations.git.mirror import GitMirror
from integrations.git.repository import GitRepository

__all__ = ["GitMirror", "GitRepository"]
