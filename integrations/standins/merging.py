"""Merging a change in a stand-in's bare repository, as the code host's merge button does.

`merge_commit` makes a real merge commit (`git merge --no-ff`'s result: the target branch and
the change's head as its two parents) without a work tree: `git merge-tree --write-tree` builds
the merged tree, `git commit-tree` the commit, and `git update-ref` moves the target branch only
if nobody moved it meanwhile. `squash_commit` makes the one-parent commit a squash-and-fast-forward
merge leaves. Both refuse a change that conflicts with the target, as the hosts do. Every git
process starts in `integrations.git.command`.
"""

from __future__ import annotations

from pathlib import Path

from integrations.git.command import call_git, checked, run_git


class MergeConflict(ValueError):
    """The change cannot be merged without resolving conflicts."""


def merge_commit(bare: Path, target: str, head: str, message: str, *, name: str, email: str,
                 committer: tuple[str, str] | None = None) -> str:
    """Merge commit `head` into branch `target` of `bare` with a merge commit written by
    `name <email>` (committed by `committer`, else the same person); the new commit's sha."""
    base = _tip(bare, target)
    tree = _merged_tree(bare, base, head)
    sha = run_git(bare, "commit-tree", tree, "-p", base, "-p", head, "-m", message,
                  env=_identity(name, email, committer)).strip()
    run_git(bare, "update-ref", f"refs/heads/{target}", sha, base)
    return sha


def squash_commit(bare: Path, target: str, head: str, message: str, *, name: str,
                  email: str) -> str:
    """Put the change `head` on branch `target` of `bare` as one new commit whose only parent
    is the target's tip (a squash merged by fast-forward); the new commit's sha."""
    base = _tip(bare, target)
    tree = _merged_tree(bare, base, head)
    sha = run_git(bare, "commit-tree", tree, "-p", base, "-m", message,
                  env=_identity(name, email, None)).strip()
    run_git(bare, "update-ref", f"refs/heads/{target}", sha, base)
    return sha


def _tip(bare: Path, branch: str) -> str:
    return run_git(bare, "rev-parse", "--verify", f"refs/heads/{branch}^{{commit}}").strip()


def _merged_tree(bare: Path, base: str, head: str) -> str:
    args = ("merge-tree", "--write-tree", "--no-messages", base, head)
    done = call_git(bare, *args)
    if done.returncode == 1:
        raise MergeConflict(f"{head[:12]} conflicts with {base[:12]}")
    return checked(done, args).decode().split()[0]


def _identity(name: str, email: str, committer: tuple[str, str] | None) -> dict[str, str]:
    c_name, c_email = committer or (name, email)
    return {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
            "GIT_COMMITTER_NAME": c_name, "GIT_COMMITTER_EMAIL": c_email}
