"""`GitWorkspace`: the Workspace port over the git CLI.

Verification, bisection and fix attempts never touch the repository's own work tree: they get
detached worktrees at a commit, removed afterwards whatever happened, and change them only
through the steps here. Before every test run a tree is put back to exactly its index (`clean`,
then `checkout-index`), so nothing one run wrote (caches, a planted conftest) reaches the next.
Every failure, a timeout included, is a `WorkspaceError`, which the verifier turns into a reason.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from integrations.git import branches
from integrations.git.command import call_git, run_git
from integrations.git.worktrees import tree_call, tree_git, worktree, worktree_patch
from worker.codehost import PushAccess, Signature
from worker.egress import Channel, outbound
from worker.ports import SutureError, WorkspaceError

_DIFF = ("diff", "--cached", "--no-renames", "--no-ext-diff", "--no-textconv", "--no-relative",
         "--no-color", "-U3", "--src-prefix=a/", "--dst-prefix=b/")


@contextmanager
def _failures() -> Iterator[None]:
    """Any adapter error raised inside the block, as a WorkspaceError."""
    try:
        yield
    except WorkspaceError:
        raise
    except SutureError as exc:
        raise WorkspaceError(str(exc)) from None


class GitWorkspace:
    """Worktrees of a local git repository (work tree or bare) and the git steps on them."""

    def __init__(self, path: Path, timeout: float = 300) -> None:
        self.path = Path(path)
        self.timeout = timeout
        if not (self.path / ".git").exists() and not (self.path / "HEAD").exists():
            raise WorkspaceError(f"not a git repository: {self.path}")

    @contextmanager
    def worktrees(self, base: str, names: tuple[str, ...] = ("base", "fix")
                  ) -> Iterator[dict[str, Path]]:
        """Detached worktrees at `base` in a temporary folder, one per name, removed on exit."""
        sha = self._base(base)
        with tempfile.TemporaryDirectory(prefix="suture-trees-") as parent, ExitStack() as made:
            with _failures():
                trees = {name: made.enter_context(worktree(self.path, sha, Path(parent) / name,
                                                           self.timeout))
                         for name in names}
            yield trees

    @contextmanager
    def worktree(self, base: str, folder: Path) -> Iterator[Path]:
        """A fresh detached worktree at `base` in `folder`, removed when the block ends."""
        sha = self._base(base)
        with ExitStack() as made:
            with _failures():
                tree = made.enter_context(worktree(self.path, sha, Path(folder), self.timeout))
            yield tree

    def resolve(self, rev: str) -> str:
        """The full sha of the commit `rev` names."""
        if rev.startswith("-"):
            raise WorkspaceError(f"{rev!r} is not a revision")
        with _failures():
            done = call_git(self.path, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}",
                            timeout=self.timeout)
        if done.returncode != 0:
            raise WorkspaceError(f"{rev!r} is not a commit in {self.path.name or self.path}")
        return done.stdout.decode().strip()

    def _base(self, rev: str) -> str:
        try:
            return self.resolve(rev)
        except WorkspaceError as exc:
            raise WorkspaceError(f"base {exc}") from None

    def apply(self, tree: Path, patch: bytes, *, reverse: bool = False) -> str | None:
        """Apply `patch` (or undo it) to the tree and its index; git's complaint, or None."""
        args = ["apply", "--index", "--whitespace=nowarn", *(["--reverse"] if reverse else []),
                "-"]
        with _failures():
            done = tree_call(tree, *args, stdin=patch, timeout=self.timeout)
        if done.returncode == 0:
            return None
        return done.stderr.decode("utf-8", "replace").strip()[:2000] or "git apply failed"

    def staged_diff(self, tree: Path, paths: list[str] | None = None, *,
                    binary: bool = False) -> bytes:
        """The diff from the tree's HEAD to its index, as git writes it, optionally for `paths`
        only."""
        args = [*_DIFF, *(["--binary"] if binary else []), "HEAD"]
        if paths is not None:
            args += ["--", *paths]
        return self._tree(tree, *args)

    def staged_text(self, tree: Path, path: str) -> str | None:
        """A file's text as staged in the tree's index, or None when it is not there."""
        with _failures():
            done = tree_call(tree, "show", f":{path}", timeout=self.timeout)
        return done.stdout.decode("utf-8", "replace") if done.returncode == 0 else None

    def tracked(self, tree: Path) -> list[str]:
        """Every path the tree's HEAD tracks."""
        listing = self._tree(tree, "ls-tree", "-r", "-z", "--name-only", "HEAD")
        return [path for path in listing.decode("utf-8", "replace").split("\0") if path]

    def reset_to_index(self, tree: Path) -> None:
        """Make the tree exactly its index: tracked files rewritten, everything else removed."""
        self._tree(tree, "clean", "-ffdxq")
        self._tree(tree, "checkout-index", "--force", "--all")

    def checkout(self, tree: Path, sha: str) -> None:
        """Move the tree (detached, forced) to commit `sha`."""
        self._tree(tree, "checkout", "--quiet", "--force", "--detach", sha)

    def stage(self, tree: Path, paths: list[str]) -> None:
        """Add `paths` of the tree to its index."""
        self._tree(tree, "add", "--", *paths)

    def patch(self, tree: Path) -> str:
        """Every change in the tree since HEAD, new files included, as a unified diff, leaving
        its index alone and suture's private area and test caches out."""
        with _failures():
            return worktree_patch(tree, timeout=self.timeout)

    def first_parents(self, rev: str, limit: int) -> list[str]:
        """Up to `limit` commits of `rev`'s first-parent history, newest (`rev`) first."""
        return self._git("rev-list", "--first-parent", f"--max-count={limit}",
                         self.resolve(rev)).split()

    def parents(self, sha: str) -> list[str]:
        """The commit's parents, the first parent first."""
        return self._git("rev-list", "--parents", "-n1", self.resolve(sha)).split()[1:]

    def merged_branch(self, merge: str) -> list[str]:
        """The first-parent commits a merge brought in from its second parent, newest first."""
        sha = self.resolve(merge)
        return self._git("rev-list", "--first-parent", f"{sha}^2", "--not", f"{sha}^1").split()

    def author_and_subject(self, sha: str) -> tuple[str, str]:
        """The commit's author name and subject line."""
        shown = self._git("show", "-s", "--format=%an%x00%s", self.resolve(sha))
        author, _, subject = shown.strip().partition("\0")
        return author, subject

    def commit_patch(self, base: str, patch: bytes, message: str, signature: Signature) -> str:
        """A commit on `base` whose change is `patch` (same inputs, same commit). The message
        leaves with the push; the patch was scrubbed when it was stored."""
        message = outbound(message, Channel.COMMIT_MESSAGE)
        with _failures():
            return branches.commit_patch(self.path, self._base(base), patch, message, signature,
                                         self.timeout)

    def carry_onto(self, commit: str, onto: str, signature: Signature) -> str | None:
        """`commit` replayed on top of `onto`, or None when they conflict."""
        with _failures():
            return branches.carry_onto(self.path, commit, onto, signature, self.timeout)

    def rebuild_on(self, commit: str, parent: str, signature: Signature) -> str:
        """`commit`'s tree on top of `parent`; `parent` when the trees are the same."""
        with _failures():
            return branches.rebuild_on(self.path, commit, parent, signature, self.timeout)

    def remote_branch(self, access: PushAccess, branch: str) -> str | None:
        """The sha of `branch` on the remote, or None."""
        with _failures():
            return branches.remote_branch(self.path, access, branch, self.timeout)

    def fetch_branch(self, access: PushAccess, branch: str) -> str | None:
        """Fetch `branch` from the remote into private refs; its sha, or None."""
        with _failures():
            return branches.fetch_branch(self.path, access, branch, self.timeout)

    def push_branch(self, access: PushAccess, sha: str, branch: str) -> None:
        """Create `branch` on the remote at `sha`; never forced."""
        with _failures():
            branches.push_branch(self.path, access, sha, branch, self.timeout)

    def contains(self, release: str, commit: str) -> bool | None:
        """Whether `release` has `commit` in its history; None when either is unknown."""
        try:
            ours, theirs = self.resolve(release), self.resolve(commit)
        except WorkspaceError:
            return None
        with _failures():
            done = call_git(self.path, "merge-base", "--is-ancestor", theirs, ours,
                            timeout=self.timeout)
        return done.returncode == 0

    def _git(self, *args: str) -> str:
        with _failures():
            return run_git(self.path, *args, timeout=self.timeout)

    def _tree(self, tree: Path, *args: str) -> bytes:
        with _failures():
            return tree_git(tree, *args, timeout=self.timeout)
