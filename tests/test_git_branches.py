"""The fix branch: a deterministic commit of the patch, carried onto the default branch, pushed
over HTTP to a real bare repository with the token given only through git's credential helper."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from pydantic import SecretStr

from integrations.git import command
from integrations.git.branches import (
    carry_onto,
    commit_patch,
    fetch_branch,
    push_branch,
    remote_branch,
)
from integrations.standins.base import StandIn
from integrations.standins.githttp import GitHttp
from tests.gitrepo import GitRepoBuilder, git
from worker.codehost import PushAccess, Signature
from worker.ports import WorkspaceError

TOKEN = "ghs_" + "t" * 36
BOT = Signature(name="suture", email="suture@example.invalid",
                when=datetime(2026, 3, 1, tzinfo=UTC))
PATCH = b"""diff --git a/app.py b/app.py
--- a/app.py
+++ b/app.py
@@ -1,2 +1,2 @@
 def total(items):
-    return sum(items) / len(items)
+    return sum(items) / len(items) if items else 0
"""


class GitHost(StandIn):
    """Just a git remote: smart HTTP for `acme/shop`, accepting one token."""

    def __init__(self, root: Path) -> None:
        super().__init__()
        self.git = GitHttp(root, lambda user, password, repo, service: password == TOKEN)
        self.route("GET", r"/.+\.git/.*", self.git.handle)
        self.route("POST", r"/.+\.git/.*", self.git.handle)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[GitRepoBuilder, GitHost, PushAccess]]:
    repo = GitRepoBuilder(tmp_path / "shop")
    repo.commit({"app.py": "def total(items):\n    return sum(items) / len(items)\n",
                 "README": "shop\n"}, "first")
    with GitHost(tmp_path / "remote") as host:
        bare = host.git.repo_path("acme/shop")
        git(repo.path, "push", "-q", str(bare), "main:main")
        yield repo, host, PushAccess(url=f"{host.url}/acme/shop.git", username="x-access-token",
                                     token=SecretStr(TOKEN))


def test_the_same_patch_on_the_same_base_makes_the_same_commit(world) -> None:
    repo, _, _ = world
    base = repo.shas[-1]
    first = commit_patch(repo.path, base, PATCH, "Fix ZeroDivisionError in total", BOT)
    again = commit_patch(repo.path, base, PATCH, "Fix ZeroDivisionError in total", BOT)
    assert first == again
    assert "if items else 0" in git(repo.path, "show", f"{first}:app.py")
    assert git(repo.path, "rev-parse", f"{first}^") == base


def test_a_patch_that_does_not_apply_is_a_workspace_error(world) -> None:
    repo, _, _ = world
    with pytest.raises(WorkspaceError, match="does not apply"):
        commit_patch(repo.path, repo.shas[-1], PATCH.replace(b"sum(items)", b"nope"), "x", BOT)


def test_carried_onto_a_newer_default_branch_or_reported_as_conflicting(world) -> None:
    repo, _, _ = world
    base = repo.shas[-1]
    fix = commit_patch(repo.path, base, PATCH, "Fix", BOT)
    newer = repo.commit({"README": "shop, now with docs\n"}, "docs")
    carried = carry_onto(repo.path, fix, newer, BOT)
    assert carried and git(repo.path, "rev-parse", f"{carried}^") == newer
    assert "if items else 0" in git(repo.path, "show", f"{carried}:app.py")
    assert "now with docs" in git(repo.path, "show", f"{carried}:README")
    clash = repo.commit({"app.py": "def total(items):\n    return 0.0\n"}, "rewrite")
    assert carry_onto(repo.path, fix, clash, BOT) is None
    assert carry_onto(repo.path, fix, base, BOT) == fix


def test_push_goes_through_the_credential_helper_only(world, monkeypatch) -> None:
    repo, host, access = world
    argvs: list[list[str]] = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):
        argvs.append(list(argv))
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(command.subprocess, "run", recording_run)
    fix = commit_patch(repo.path, repo.shas[-1], PATCH, "Fix", BOT)
    assert remote_branch(repo.path, access, "suture/abc-total") is None
    push_branch(repo.path, access, fix, "suture/abc-total")
    assert host.git.branches("acme/shop")["suture/abc-total"] == fix
    assert remote_branch(repo.path, access, "suture/abc-total") == fix
    assert [push.user for push in host.git.pushes] == ["x-access-token"]
    assert argvs and not any(TOKEN in arg for argv in argvs for arg in argv)
    assert all("@" not in arg for argv in argvs for arg in argv if arg.startswith("http"))


def test_fetch_brings_the_default_branch_into_private_refs(world) -> None:
    repo, _, access = world
    assert fetch_branch(repo.path, access, "main") == repo.shas[-1]
    assert fetch_branch(repo.path, access, "no-such-branch") is None


def test_a_wrong_token_and_a_diverged_branch_are_refused_and_nothing_is_forced(world) -> None:
    repo, host, access = world
    fix = commit_patch(repo.path, repo.shas[-1], PATCH, "Fix", BOT)
    wrong = access.model_copy(update={"token": SecretStr("ghp_wrong")})
    with pytest.raises(WorkspaceError) as refused:
        push_branch(repo.path, wrong, fix, "suture/abc-total")
    assert "ghp_wrong" not in str(refused.value)
    push_branch(repo.path, access, fix, "suture/abc-total")
    other = commit_patch(repo.path, repo.shas[-1], PATCH, "Another fix", BOT)
    with pytest.raises(WorkspaceError, match="refused"):
        push_branch(repo.path, access, other, "suture/abc-total")
    assert host.git.branches("acme/shop")["suture/abc-total"] == fix
