"""The sandbox's two additions for environments: the worktree at a fixed `workdir`, and mounts
(read-only unless writable, inside the worktree too), with targets it refuses."""

from __future__ import annotations

import shutil

import pytest

from integrations.sandbox import BubblewrapSandbox
from worker.fix.models import Mount, SandboxPolicy
from worker.ports import PermanentError

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap not installed")


@pytest.fixture
def dirs(tmp_path):
    tree, shared, scratch = tmp_path / "tree", tmp_path / "shared", tmp_path / "scratch"
    for folder in (tree, shared, scratch):
        folder.mkdir()
    (shared / "lib.txt").write_text("from the cache\n")
    return tree, shared, scratch


def test_the_worktree_appears_at_the_workdir_with_mounts_inside_and_beside_it(dirs):
    tree, shared, scratch = dirs
    policy = SandboxPolicy(workdir="/workspace", mounts=[
        Mount(source=str(shared), target="/workspace/node_modules"),
        Mount(source=str(scratch), target="/env", writable=True)])
    script = ("pwd; cat node_modules/lib.txt; echo made > here.txt; echo env > /env/out.txt; "
              "touch node_modules/x 2>/dev/null && echo WROTE || echo read-only; "
              f"test -e {tree} && echo HOST-PATH || echo no-host-path")

    result = BubblewrapSandbox().run(tree, ["sh", "-c", script], policy)

    assert result.exit_code == 0, result.stderr
    assert result.stdout.split("\n")[:5] == ["/workspace", "from the cache", "read-only",
                                             "no-host-path", ""]
    assert (tree / "here.txt").read_text() == "made\n"
    assert (scratch / "out.txt").read_text() == "env\n"
    assert not (shared / "x").exists()


@pytest.mark.parametrize("target", ["/", "/proc/x", "/dev", "/run/suture/launcher.py",
                                    "relative", "/a/../etc"])
def test_targets_the_sandbox_needs_or_that_are_not_plain_paths_are_refused(dirs, target):
    tree, shared, _ = dirs

    as_mount = BubblewrapSandbox().run(tree, ["true"], SandboxPolicy(
        mounts=[Mount(source=str(shared), target=target)]))
    as_workdir = BubblewrapSandbox().run(tree, ["true"], SandboxPolicy(workdir=target))

    for result in (as_mount, as_workdir):
        assert result.exit_code == 126
        assert result.stderr.startswith("sandbox: workdir or mount target")


def test_a_missing_mount_source_is_the_sandboxs_failure(dirs, tmp_path):
    tree, _, _ = dirs
    policy = SandboxPolicy(mounts=[Mount(source=str(tmp_path / "evicted"), target="/env")])

    with pytest.raises(PermanentError, match="does not exist"):
        BubblewrapSandbox().run(tree, ["true"], policy)
