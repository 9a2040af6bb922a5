"""A tiny builder of real git repositories for tests, with deterministic history.

Every commit runs the real `git` with author and committer names, emails and dates set
explicitly, and with no user or system configuration, so the same calls always produce the same
shas and the same history, whatever machine runs the tests.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

DEFAULT_AUTHOR = ("Ada Lovelace", "ada@example.com")
DEFAULT_DATE = "2026-01-01T00:00:00Z"


def git(path: Path, *args: str, env: Mapping[str, str] | None = None) -> str:
    """Run `git -C path args...` in a clean environment and return stdout without the newline."""
    base = {key: value for key, value in os.environ.items() if key in ("PATH", "TMPDIR")}
    full_env = {**base, "HOME": str(path), "GIT_CONFIG_NOSYSTEM": "1",
                "GIT_CONFIG_GLOBAL": os.devnull, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
                **(env or {})}
    done = subprocess.run(["git", "-C", str(path), *args], check=True, capture_output=True,
                          text=True, env=full_env)
    return done.stdout.rstrip("\n")


class GitRepoBuilder:
    """A work tree under `path` (created on first use) that tests add commits to."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        git(self.path, "init", "-q", "-b", "main")
        git(self.path, "config", "commit.gpgsign", "false")
        self.shas: list[str] = []

    def write(self, files: Mapping[str, str]) -> None:
        """Write files (relative paths → text) into the work tree without committing."""
        for name, text in files.items():
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def commit(self, files: Mapping[str, str] | None = None, message: str = "change", *,
               author: tuple[str, str] = DEFAULT_AUTHOR, date: str = DEFAULT_DATE,
               delete: tuple[str, ...] = (), rename: Mapping[str, str] | None = None) -> str:
        """Write `files`, delete and rename paths, commit everything and return the new sha."""
        for old, new in (rename or {}).items():
            (self.path / new).parent.mkdir(parents=True, exist_ok=True)
            git(self.path, "mv", old, new)
        self.write(files or {})
        for name in delete:
            git(self.path, "rm", "-q", name)
        name, email = author
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": date,
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
               "GIT_COMMITTER_DATE": date}
        git(self.path, "add", "-A")
        git(self.path, "commit", "-q", "--allow-empty", "-m", message, env=env)
        sha = self.head()
        self.shas.append(sha)
        return sha

    def tag(self, name: str, rev: str = "HEAD") -> None:
        """A lightweight tag (a release name) at `rev`."""
        git(self.path, "tag", name, rev)

    def head(self) -> str:
        """The sha HEAD points at."""
        return git(self.path, "rev-parse", "HEAD")

    def ls_files(self) -> list[str]:
        """Every tracked path, as `git ls-files` lists them."""
        return git(self.path, "ls-files").splitlines()


def lines(*rows: str) -> str:
    """Source text from rows, one per line, with the final newline."""
    return "\n".join(rows) + "\n"
