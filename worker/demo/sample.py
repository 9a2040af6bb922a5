"""The bundled sample shop: built as a real git repository, and crashed under sentry-sdk."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from integrations.git import run_git

SAMPLE = resources.files("worker.demo").joinpath("sample_app")


@dataclass
class SampleRepo:
    """The sample repository: its path, commits (oldest first) and head."""

    path: Path
    commits: list[str]

    @property
    def head(self) -> str:
        """The newest commit: the release running in "production"."""
        return self.commits[-1]


def _git(repo: Path, *args: str, env: dict[str, str] | None = None) -> str:
    return run_git(repo, *args, env=env).strip()


def build_sample_repo(path: Path) -> SampleRepo:
    """Create the shop's git history: each step of `history.json` is one commit."""
    path = path.resolve()
    path.mkdir(parents=True)
    _git(path, "init", "-q", "-b", "main")
    history = json.loads(SAMPLE.joinpath("history.json").read_text("utf-8"))
    commits = []
    for step in history:
        _copy_tree(Path(str(SAMPLE.joinpath("history", step["dir"]))), path)
        name, email = step["author"].rstrip(">").split(" <")
        env = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email, "GIT_AUTHOR_DATE": step["date"],
               "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email,
               "GIT_COMMITTER_DATE": step["date"]}
        _git(path, "add", "-A")
        _git(path, "commit", "-q", "-m", step["message"], env=env)
        commits.append(_git(path, "rev-parse", "HEAD"))
    return SampleRepo(path=path, commits=commits)


def _copy_tree(source: Path, target: Path) -> None:
    """Copy `*.txt` files (stored that way so they are data, not code) without the suffix."""
    for file in source.rglob("*.txt"):
        destination = target / file.relative_to(source).with_suffix("")
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, destination)


def capture_crash(repo: SampleRepo, method: str = "GET", path: str = "/cart/average",
                  query: str = "cart=empty") -> dict[str, Any]:
    """Send a failing request (by default the demo's) through the shop under sentry-sdk; the
    event it captured."""
    script = repo.path.parent / "traffic.py"
    shutil.copyfile(str(SAMPLE.joinpath("traffic.py.txt")), script)
    out = repo.path.parent / "event.json"
    subprocess.run([sys.executable, str(script), str(out), repo.head, method, path, query],
                   check=True, cwd=repo.path, capture_output=True, text=True,
                   env={**os.environ, "PYTHONPATH": str(repo.path)})
    event: dict[str, Any] = json.loads(out.read_text("utf-8"))
    return event
