"""Detached worktrees, the git steps on them, and a worktree's patch.

A worktree is handed to agents and test suites, which may rewrite anything in it, its `.git`
file included. So each worktree's own git directory is noted when the worktree is made, before
anything has run in it, and every later git step on it names that directory (`--git-dir`):
a `.git` planted in the tree is never read. A tree suture did not make (a test's checkout) is
found the usual way, but never above the tree itself.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager, suppress
from pathlib import Path

from integrations.git.command import call_git, checked, run_git
from worker.ports import SutureError

PRIVATE_DIR = ".suture"  # suture's own files in a worktree (prompts); never part of a patch
# suture's private area and the caches running tests leaves behind (a repository without a
# .gitignore would otherwise get compiled bytecode in its patch).
NOT_PATCHED = (f":(exclude){PRIVATE_DIR}", ":(exclude,glob)**/__pycache__/**",
               ":(exclude,glob)**/*.py[co]", ":(exclude,glob)**/.pytest_cache/**")

_git_dirs: dict[str, Path] = {}  # worktree folder → its git directory, while it exists
_lock = threading.Lock()


@contextmanager
def worktree(repository: Path, sha: str, folder: Path, timeout: float = 300
             ) -> Iterator[Path]:
    """A detached worktree of `repository` at `sha` in `folder` (recreated), removed on exit."""
    folder = Path(os.path.abspath(folder))  # git reads it from inside `repository`
    if folder.exists():
        _remove(repository, folder, timeout)
    folder.parent.mkdir(parents=True, exist_ok=True)
    try:
        run_git(repository, "worktree", "add", "--detach", "--force", "--quiet", str(folder),
                sha, timeout=timeout)
        git_dir = run_git(folder, "rev-parse", "--absolute-git-dir", timeout=timeout).strip()
    except BaseException:
        _remove(repository, folder, timeout)
        raise
    key = str(folder)
    with _lock:
        _git_dirs[key] = Path(git_dir)
    try:
        yield folder
    finally:
        with _lock:
            _git_dirs.pop(key, None)
        _remove(repository, folder, timeout)


def _remove(repository: Path, folder: Path, timeout: float) -> None:
    with suppress(SutureError):
        run_git(repository, "worktree", "remove", "--force", "--force", str(folder),
                timeout=timeout)
    shutil.rmtree(folder, ignore_errors=True)
    with suppress(SutureError):
        run_git(repository, "worktree", "prune", timeout=timeout)


def tree_call(tree: Path, *args: str, stdin: bytes | None = None,
              env: Mapping[str, str] | None = None, literal: bool = True,
              timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """Run git on a worktree through the git directory noted for it (see the module notes),
    whatever the exit status."""
    with _lock:
        git_dir = _git_dirs.get(os.path.abspath(tree))
    ceiling = {} if git_dir else {"GIT_CEILING_DIRECTORIES": os.path.dirname(
        os.path.abspath(tree))}
    return call_git(tree, *args, stdin=stdin, env={**ceiling, **(env or {})}, literal=literal,
                    timeout=timeout, git_dir=git_dir)


def tree_git(tree: Path, *args: str, stdin: bytes | None = None,
             env: Mapping[str, str] | None = None, literal: bool = True,
             timeout: float = 300) -> bytes:
    """`tree_call`'s stdout; GitFailed when git exits non-zero."""
    return checked(tree_call(tree, *args, stdin=stdin, env=env, literal=literal,
                             timeout=timeout), args)


def worktree_patch(tree: Path, timeout: float = 60.0) -> str:
    """Every change in `tree` since HEAD, new files included, as a unified diff.

    A throwaway index is used so the tree's own index is left as the agent left it, and
    `.suture/` and test caches are left out."""
    with tempfile.TemporaryDirectory(prefix="suture-index-") as scratch:
        env = {"GIT_INDEX_FILE": str(Path(scratch) / "index")}
        tree_git(tree, "read-tree", "HEAD", env=env, timeout=timeout)
        tree_git(tree, "add", "-A", "--", ".", *NOT_PATCHED, env=env, literal=False,
                 timeout=timeout)
        diff = tree_git(tree, "diff", "--cached", "--no-ext-diff", "--no-textconv", "--binary",
                        "HEAD", env=env, timeout=timeout)
    return diff.decode("utf-8", "replace")
