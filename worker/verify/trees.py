"""Throwaway git worktrees of the repository at the base commit, and the git steps on them.

Verification never touches the repository's own work tree: it adds detached worktrees under a
temporary directory and removes them afterwards, whatever happened. git runs with hooks, fsmonitor
and external diff drivers switched off, as everywhere suture reads other people's repositories.
Before every test run a tree is put back to exactly its index (`checkout-index`, then `clean`),
so nothing one run wrote (caches, a planted conftest) can reach the next.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from worker.ports import PermanentError

_SAFE = ("-c", "core.hooksPath=/dev/null", "-c", "core.fsmonitor=false", "-c", "diff.external=",
         "-c", "core.quotePath=false", "--literal-pathspecs")
_DIFF = ("diff", "--cached", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-relative",
         "--no-color", "-U3", "--src-prefix=a/", "--dst-prefix=b/")


class VerifyError(PermanentError):
    """Verification could not be carried out (no repository, unknown base, a git failure)."""


@contextmanager
def worktrees(repo: Path, base: str, names: tuple[str, ...] = ("base", "fix")
              ) -> Iterator[dict[str, Path]]:
    """Detached worktrees of `repo` at `base`, one per name, removed on exit."""
    sha = resolve(repo, base)
    made: list[Path] = []
    with tempfile.TemporaryDirectory(prefix="suture-verify-") as parent:
        try:
            for name in names:
                path = Path(parent) / name
                git(repo, "worktree", "add", "--detach", "--quiet", str(path), sha)
                made.append(path)
            yield dict(zip(names, made, strict=True))
        finally:
            for path in made:
                git(repo, "worktree", "remove", "--force", "--force", str(path), check=False)
            git(repo, "worktree", "prune", check=False)


def resolve(repo: Path, rev: str) -> str:
    """The commit sha `rev` names in `repo`."""
    if rev.startswith("-"):
        raise VerifyError(f"base {rev!r} is not a revision")
    done = git(repo, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}", check=False)
    if done.returncode != 0:
        raise VerifyError(f"base {rev!r} is not a commit in {repo.name or repo}")
    return done.stdout.decode().strip()


def apply(tree: Path, patch: bytes, *, reverse: bool = False) -> str | None:
    """Apply `patch` to the tree and its index; git's complaint when it does not apply."""
    args = ["apply", "--index", "--whitespace=nowarn", *(["--reverse"] if reverse else []), "-"]
    done = git(tree, *args, stdin=patch, check=False)
    if done.returncode == 0:
        return None
    return done.stderr.decode("utf-8", "replace").strip()[:2000] or "git apply failed"


def staged_diff(tree: Path, paths: list[str] | None = None, *, binary: bool = False) -> bytes:
    """The diff from HEAD to the index, as git writes it, optionally for `paths` only."""
    args = [*_DIFF, *(["--binary"] if binary else []), "HEAD"]
    if paths is not None:
        args += ["--", *paths]
    return git(tree, *args).stdout


def staged_text(tree: Path, path: str) -> str | None:
    """A file's text as staged in the tree's index, or None when it is not there."""
    done = git(tree, "show", f":{path}", check=False)
    return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None


def tracked(tree: Path) -> list[str]:
    """Every path the tree's HEAD tracks."""
    out = git(tree, "ls-tree", "-r", "-z", "--name-only", "HEAD").stdout
    return [p for p in out.decode("utf-8", "replace").split("\0") if p]


def reset_to_index(tree: Path) -> None:
    """Make the work tree exactly its index again: tracked files rewritten, the rest removed."""
    git(tree, "clean", "-ffdxq")
    git(tree, "checkout-index", "--force", "--all")


def git(cwd: Path, *args: str, stdin: bytes | None = None, check: bool = True,
        timeout: float = 300) -> subprocess.CompletedProcess[bytes]:
    """Run git in `cwd`; with `check`, a failure raises VerifyError with git's message."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG")}
    env = {**keep, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C"}
    try:
        done = subprocess.run(["git", *_SAFE, "-C", str(cwd), *args], input=stdin,
                              capture_output=True, env=env, timeout=timeout, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VerifyError(f"git {args[0]} could not run: {exc}") from None
    if check and done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()[:500]
        raise VerifyError(f"git {' '.join(args[:2])} failed ({done.returncode}): {message}")
    return done
