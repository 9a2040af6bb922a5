"""`GitMirror`: each worker clones a repository once and only fetches after.

A service's repository may be a local path (used as it is) or a clone URL, mirrored as a bare
repository under the cache folder, named by a hash of the URL. A file lock per mirror keeps two
workers on one machine from cloning or fetching the same mirror at once; a fetch is skipped when
the last one is younger than `max_age_seconds`. Cloning and fetching read the operator's own git
configuration and home folder (credentials, SSH keys); nothing else does.
"""

from __future__ import annotations

import fcntl
import hashlib
import time
from pathlib import Path

from integrations.git.command import run_git
from worker.ports import PermanentError


class GitMirror:
    """Local mirrors of remote repositories."""

    def __init__(self, root: Path, max_age_seconds: float = 300, timeout: float = 900) -> None:
        self.root = Path(root)
        self.max_age_seconds = max_age_seconds
        self.timeout = timeout

    def ensure(self, repository: str) -> Path:
        """A local git directory holding `repository` (a path or a clone URL), fresh enough."""
        local = Path(repository).expanduser()
        if "://" not in repository and not repository.startswith("git@"):
            if (local / ".git").exists() or (local / "HEAD").exists():
                return local
            raise PermanentError(f"repository path is not a git repository: {repository}")
        self.root.mkdir(parents=True, exist_ok=True)
        name = hashlib.sha256(repository.encode()).hexdigest()[:16]
        target = self.root / f"{name}.git"
        with open(self.root / f"{name}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (target / "HEAD").exists():
                run_git(self.root, "clone", "--mirror", "--quiet", "--", repository, target.name,
                        timeout=self.timeout, user_config=True)
                self._touch(target)
            elif self._stale(target):
                run_git(target, "fetch", "--prune", "--quiet", "origin", timeout=self.timeout,
                        user_config=True)
                self._touch(target)
        return target

    def _stale(self, target: Path) -> bool:
        stamp = target / "suture-fetched"
        return not stamp.exists() or time.time() - stamp.stat().st_mtime > self.max_age_seconds

    @staticmethod
    def _touch(target: Path) -> None:
        (target / "suture-fetched").write_text(str(time.time()))
