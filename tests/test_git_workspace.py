"""`GitWorkspace` on real repositories: worktrees that go away, patches applied and undone, the
staged diff, a tree put back to its index, a worktree's patch, the reads bisection needs, and
hostile configuration (in the repository, or planted in a worktree) that must not run anything.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from integrations.git import GitWorkspace, worktree_patch
from integrations.git.command import git_env
from tests.gitrepo import GitRepoBuilder, git, lines
from worker.ports import Workspace, WorkspaceError

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def repo(tmp_path: Path) -> GitRepoBuilder:
    builder = GitRepoBuilder(tmp_path / "repo")
    builder.commit({"shop/pricing.py": lines("def total(prices):", "    return sum(prices)"),
                    "tests/test_pricing.py": lines("def test_total():", "    assert True")},
                   "Prices")
    return builder


def diff_of(repo: GitRepoBuilder, files: dict[str, str]) -> bytes:
    """The diff `files` make to HEAD, as git writes it; the repository is left clean."""
    repo.write(files)
    git(repo.path, "add", "-A")
    try:
        return (git(repo.path, "diff", "--cached", "HEAD") + "\n").encode()
    finally:
        git(repo.path, "reset", "-q", "--hard", "HEAD")


def hostile_script(tmp_path: Path) -> tuple[Path, Path]:
    """A program that leaves a marker file when anything runs it; (program, marker)."""
    marker = tmp_path / "ran"
    program = tmp_path / "hostile.sh"
    program.write_text(f"#!/bin/sh\ntouch {marker}\ncat\n")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return program, marker


def test_worktrees_are_removed_even_when_the_block_fails(repo: GitRepoBuilder) -> None:
    workspace = GitWorkspace(repo.path)
    assert isinstance(workspace, Workspace)
    with pytest.raises(RuntimeError), workspace.worktrees("main") as trees:
        assert set(trees) == {"base", "fix"}
        assert all((tree / "shop/pricing.py").is_file() for tree in trees.values())
        raise RuntimeError("boom")
    assert not any(tree.exists() for tree in trees.values())
    assert len(git(repo.path, "worktree", "list").splitlines()) == 1
    assert git(repo.path, "status", "--porcelain") == ""


def test_a_worktree_in_a_folder_is_recreated_and_removed(repo: GitRepoBuilder,
                                                         tmp_path: Path) -> None:
    folder = tmp_path / "attempts" / "attempt-1"
    folder.mkdir(parents=True)
    (folder / "stale.txt").write_text("left over")
    with GitWorkspace(repo.path).worktree("main", folder) as tree:
        assert tree == folder and not (tree / "stale.txt").exists()
        assert git(tree, "rev-parse", "HEAD") == repo.head()
    assert not folder.exists()
    assert len(git(repo.path, "worktree", "list").splitlines()) == 1


def test_a_worktree_in_a_relative_folder_works(repo: GitRepoBuilder, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    workspace = GitWorkspace(repo.path)
    with workspace.worktree("main", Path("data/worktrees/attempt-1")) as tree:
        (tree / "shop/new.py").write_text("X = 1\n")
        assert "+++ b/shop/new.py" in workspace.patch(tree)
        workspace.reset_to_index(tree)
        assert not (tree / "shop/new.py").exists()


def test_an_unknown_base_is_a_workspace_error(repo: GitRepoBuilder) -> None:
    workspace = GitWorkspace(repo.path)
    with pytest.raises(WorkspaceError, match="base 'nope' is not a commit in repo"), \
            workspace.worktrees("nope"):
        pass
    with pytest.raises(WorkspaceError, match="base '--all' is not a revision"), \
            workspace.worktrees("--all"):
        pass
    with pytest.raises(WorkspaceError, match="not a git repository"):
        GitWorkspace(repo.path / "shop")


def test_a_patch_is_applied_staged_and_undone(repo: GitRepoBuilder) -> None:
    patch = diff_of(repo, {"shop/pricing.py": lines("def total(prices):", "    return 0"),
                           "tests/test_new.py": lines("def test_new():", "    pass")})
    workspace = GitWorkspace(repo.path)
    with workspace.worktrees("main", ("fix",)) as trees:
        tree = trees["fix"]
        assert workspace.apply(tree, patch) is None
        staged = workspace.staged_diff(tree).decode()
        assert "+++ b/shop/pricing.py" in staged and "+++ b/tests/test_new.py" in staged
        only_tests = workspace.staged_diff(tree, ["tests/test_new.py"], binary=True).decode()
        assert "shop/pricing.py" not in only_tests and "tests/test_new.py" in only_tests
        assert workspace.staged_text(tree, "tests/test_new.py") == lines("def test_new():",
                                                                         "    pass")
        assert workspace.staged_text(tree, "missing.py") is None
        assert workspace.apply(tree, patch, reverse=True) is None
        assert workspace.staged_diff(tree) == b""
        assert "patch does not apply" in (workspace.apply(tree, patch, reverse=True) or "")


def test_reset_to_index_removes_untracked_files_and_restores_tracked_ones(
        repo: GitRepoBuilder) -> None:
    workspace = GitWorkspace(repo.path)
    with workspace.worktrees("main", ("base",)) as trees:
        tree = trees["base"]
        (tree / "conftest.py").write_text("raise SystemExit")
        (tree / "shop/__pycache__").mkdir()
        (tree / "shop/__pycache__/pricing.pyc").write_bytes(b"\0")
        (tree / "shop/pricing.py").write_text("broken")
        workspace.reset_to_index(tree)
        assert not (tree / "conftest.py").exists() and not (tree / "shop/__pycache__").exists()
        assert (tree / "shop/pricing.py").read_text().startswith("def total")
        assert sorted(workspace.tracked(tree)) == ["shop/pricing.py", "tests/test_pricing.py"]


def test_checkout_and_stage_in_a_tree(repo: GitRepoBuilder) -> None:
    first = repo.head()
    repo.commit({"shop/extra.py": "X = 1\n"}, "Extra")
    workspace = GitWorkspace(repo.path)
    with workspace.worktrees("main", ("probe",)) as trees:
        tree = trees["probe"]
        workspace.checkout(tree, first)
        assert not (tree / "shop/extra.py").exists()
        (tree / "tests/test_more.py").write_text("def test_more():\n    pass\n")
        workspace.stage(tree, ["tests/test_more.py"])
        assert "tests/test_more.py" in workspace.staged_diff(tree).decode()


def test_the_worktree_patch_leaves_out_the_private_area_and_caches(
        repo: GitRepoBuilder) -> None:
    workspace = GitWorkspace(repo.path)
    with workspace.worktrees("main", ("fix",)) as trees:
        tree = trees["fix"]
        (tree / ".suture").mkdir()
        (tree / ".suture/prompt.md").write_text("prompt")
        (tree / "shop/__pycache__").mkdir()
        (tree / "shop/__pycache__/pricing.cpython-311.pyc").write_bytes(b"\0\1")
        (tree / "shop/new.py").write_text("X = 1\n")
        (tree / "shop/pricing.py").write_text("def total(prices):\n    return 0\n")
        patch = workspace.patch(tree)
        assert "+++ b/shop/new.py" in patch and "+++ b/shop/pricing.py" in patch
        assert ".suture" not in patch and "__pycache__" not in patch
        assert workspace.staged_diff(tree) == b"", "the tree's own index is left alone"
        assert worktree_patch(tree) == patch


def test_the_reads_bisection_needs(repo: GitRepoBuilder) -> None:
    root = repo.head()
    git(repo.path, "checkout", "-q", "-b", "feature")
    one = repo.commit({"shop/a.py": "A = 1\n"}, "Feature one")
    two = repo.commit({"shop/b.py": "B = 1\n"}, "Feature two", author=("Bo", "bo@example.com"))
    git(repo.path, "checkout", "-q", "main")
    other = repo.commit({"shop/c.py": "C = 1\n"}, "Mainline")
    git(repo.path, "merge", "-q", "--no-ff", "-m", "Merge feature", "feature",
        env={"GIT_AUTHOR_NAME": "M", "GIT_AUTHOR_EMAIL": "m@example.com",
             "GIT_COMMITTER_NAME": "M", "GIT_COMMITTER_EMAIL": "m@example.com"})
    merge = repo.head()
    workspace = GitWorkspace(repo.path)
    assert workspace.resolve("main") == merge
    assert workspace.first_parents("main", 10) == [merge, other, root]
    assert workspace.first_parents("main", 2) == [merge, other]
    assert workspace.parents(merge) == [other, two]
    assert workspace.parents(root) == []
    assert workspace.merged_branch(merge) == [two, one]
    assert workspace.author_and_subject(two) == ("Bo", "Feature two")


def test_hostile_repository_configuration_runs_nothing(repo: GitRepoBuilder,
                                                       tmp_path: Path) -> None:
    patch = diff_of(repo, {"shop/pricing.py": "def total(prices):\n    return 0\n"})
    program, marker = hostile_script(tmp_path)
    git(repo.path, "config", "core.fsmonitor", str(program))
    git(repo.path, "config", "diff.external", str(program))
    git(repo.path, "config", "core.pager", str(program))
    for hook in ("post-checkout", "pre-commit", "post-index-change", "reference-transaction"):
        target = repo.path / ".git/hooks" / hook
        target.write_text(program.read_text())
        target.chmod(0o755)
    workspace = GitWorkspace(repo.path)
    with workspace.worktrees("main") as trees:
        tree = trees["fix"]
        assert workspace.apply(tree, patch) is None
        assert workspace.staged_diff(tree)
        workspace.reset_to_index(tree)
        workspace.checkout(tree, repo.head())
        (tree / "new.py").write_text("N = 1\n")
        assert "new.py" in workspace.patch(tree)
        workspace.stage(tree, ["new.py"])
    assert not marker.exists()
    git(repo.path, "status")  # plain git with the same configuration does run the program
    assert marker.exists()


def test_a_git_directory_planted_in_a_worktree_is_never_read(repo: GitRepoBuilder,
                                                            tmp_path: Path) -> None:
    program, marker = hostile_script(tmp_path)
    planted = GitRepoBuilder(tmp_path / "planted")
    planted.commit({".gitattributes": "* filter=evil\n", "other.txt": "other\n"}, "Planted")
    git(planted.path, "config", "filter.evil.clean", str(program))
    workspace = GitWorkspace(repo.path)
    with workspace.worktrees("main", ("fix",)) as trees:
        tree = trees["fix"]
        # What a test run or an agent could do: swap the worktree's .git for its own.
        (tree / ".git").unlink()
        (planted.path / ".git").rename(tree / ".git")
        (tree / ".gitattributes").write_text("* filter=evil\n")
        (tree / "shop/pricing.py").write_text("def total(prices):\n    return 0\n")
        patch = workspace.patch(tree)
        assert "+++ b/shop/pricing.py" in patch and "other.txt" not in patch
        workspace.reset_to_index(tree)
        assert not marker.exists()
        assert sorted(workspace.tracked(tree)) == ["shop/pricing.py", "tests/test_pricing.py"]
        assert (tree / ".git").is_dir(), "the plant is still there"
        (tree / ".gitattributes").write_text("* filter=evil\n")
        git(tree, "add", "-A")  # plain git in the tree reads the planted directory
        assert marker.exists()
    assert not tree.exists()
    assert len(git(repo.path, "worktree", "list").splitlines()) == 1


def test_git_runs_without_the_operators_configuration_unless_asked() -> None:
    strict = git_env()
    assert strict["HOME"] == os.devnull and strict["GIT_CONFIG_GLOBAL"] == os.devnull
    assert strict["GIT_CONFIG_NOSYSTEM"] == "1" and strict["GIT_TERMINAL_PROMPT"] == "0"
    assert "GIT_CONFIG_GLOBAL" not in git_env(user_config=True)
    assert git_env({"GIT_INDEX_FILE": "x"})["GIT_INDEX_FILE"] == "x"


def test_git_is_started_in_one_place() -> None:
    sources = [*ROOT.joinpath("worker").rglob("*.py"), *ROOT.joinpath("integrations").rglob("*.py")]
    defining = [p.relative_to(ROOT).as_posix() for p in sources
                if "core.hooksPath" in p.read_text("utf-8")]
    assert defining == ["integrations/git/command.py"]
    running = [p.relative_to(ROOT).as_posix() for p in ROOT.joinpath("worker").rglob("*.py")
               if "import subprocess" in p.read_text("utf-8")
               and '"git"' in p.read_text("utf-8")]
    assert running == []
