"""Making and pushing the branch a proposed change lives on.

The verified patch becomes a commit without any worktree: a private index file is filled from
the base commit's tree, the patch is applied to it, and the tree is committed with fixed author
and committer dates, so the same patch on the same base always makes the same commit (a retried
publish pushes nothing new). Carrying that commit onto the default branch is a three-way merge
of trees (`git merge-tree --write-tree`), also without a worktree; a conflict leaves the branch on
the base commit and is reported.

Remote steps authenticate through git's credential mechanism only: the URL carries no user or
token, the argument list carries none, and the token reaches git in its environment, read by
the one credential helper configured for the call (every other helper is switched off, so the
operator's stored credentials are never used nor written). Nothing is ever force-pushed.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from integrations.git.command import call_git, run_git
from worker.codehost import PushAccess, Signature
from worker.ports import WorkspaceError

# The helper answers `get` with the two variables and ignores `store`/`erase`, so a credential
# never lands in a credential store.
_HELPER = ('!f() { test "$1" = get || exit 0; printf "username=%s\\npassword=%s\\n" '
           '"$SUTURE_GIT_USERNAME" "$SUTURE_GIT_PASSWORD"; }; f')
_REMOTE_CONFIG = ("-c", "credential.helper=", "-c", f"credential.helper={_HELPER}",
                  "-c", "credential.interactive=false", "-c", "http.followRedirects=false")
PRIVATE_REFS = "refs/suture/remote"


def _dated(signature: Signature) -> dict[str, str]:
    stamp = f"{int(signature.when.timestamp())} +0000"
    return {"GIT_AUTHOR_NAME": signature.name, "GIT_AUTHOR_EMAIL": signature.email,
            "GIT_AUTHOR_DATE": stamp, "GIT_COMMITTER_NAME": signature.name,
            "GIT_COMMITTER_EMAIL": signature.email, "GIT_COMMITTER_DATE": stamp}


def commit_patch(repository: Path, base: str, patch: bytes, message: str,
                 signature: Signature, timeout: float = 120) -> str:
    """The sha of a commit on `base` whose change is `patch`; WorkspaceError when the patch
    does not apply."""
    with tempfile.TemporaryDirectory(prefix="suture-index-") as folder:
        env = {"GIT_INDEX_FILE": os.path.join(folder, "index")}
        run_git(repository, "read-tree", base, env=env, timeout=timeout)
        done = call_git(repository, "apply", "--cached", "--whitespace=nowarn", "-",
                        stdin=patch, env=env, timeout=timeout)
        if done.returncode != 0:
            raise WorkspaceError("the patch does not apply to "
                                 f"{base[:12]}: {done.stderr.decode(errors='replace')[:500]}")
        tree = run_git(repository, "write-tree", env=env, timeout=timeout).strip()
    return run_git(repository, "commit-tree", tree, "-p", base, "-F", "-",
                   stdin=message.encode(), env=_dated(signature), timeout=timeout).strip()


def carry_onto(repository: Path, commit: str, onto: str, signature: Signature,
               timeout: float = 120) -> str | None:
    """`commit` replayed on top of `onto` (its message and signature kept), or None when the
    two conflict. `onto` already containing the commit's parent is the usual case."""
    parent = run_git(repository, "rev-parse", f"{commit}^", timeout=timeout).strip()
    if run_git(repository, "rev-parse", onto, timeout=timeout).strip() == parent:
        return commit
    done = call_git(repository, "merge-tree", "--write-tree", "--no-messages", onto, commit,
                    timeout=timeout)
    if done.returncode != 0:  # 1: conflicts; the tree it printed is not usable
        return None
    tree = done.stdout.decode().split()[0]
    message = run_git(repository, "show", "-s", "--format=%B", commit, timeout=timeout)
    return run_git(repository, "commit-tree", tree, "-p", onto, "-F", "-",
                   stdin=message.encode(), env=_dated(signature), timeout=timeout).strip()


# What a remote step needs from the worker's environment to reach the host through a proxy
# that may intercept HTTPS (never credentials: those come only from the helper).
_NETWORK_VARIABLES = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY",
                      "no_proxy", "GIT_SSL_CAINFO", "SSL_CERT_FILE")


def rebuild_on(repository: Path, commit: str, parent: str, signature: Signature,
               timeout: float = 120) -> str:
    """A commit with `commit`'s tree and message on top of `parent` (so pushing it is a
    fast-forward of a branch at `parent`); `parent` itself when the trees are the same."""
    tree = run_git(repository, "rev-parse", f"{commit}^{{tree}}", timeout=timeout).strip()
    if tree == run_git(repository, "rev-parse", f"{parent}^{{tree}}", timeout=timeout).strip():
        return parent
    message = run_git(repository, "show", "-s", "--format=%B", commit, timeout=timeout)
    return run_git(repository, "commit-tree", tree, "-p", parent, "-F", "-",
                   stdin=message.encode(), env=_dated(signature), timeout=timeout).strip()


def _remote(access: PushAccess) -> dict[str, str]:
    passed = {name: os.environ[name] for name in _NETWORK_VARIABLES if name in os.environ}
    return passed | {"SUTURE_GIT_USERNAME": access.username,
                     "SUTURE_GIT_PASSWORD": access.token.get_secret_value()}


def _refused(what: str, stderr: bytes) -> WorkspaceError:
    text = stderr.decode("utf-8", "replace").strip()
    return WorkspaceError(f"{what}: {text[-800:] or 'git gave no reason'}")


def remote_branch(repository: Path, access: PushAccess, branch: str,
                  timeout: float = 120) -> str | None:
    """The sha `branch` has on the remote, or None when the remote has no such branch;
    WorkspaceError when the remote cannot be read (refused credentials included)."""
    done = call_git(repository, *_REMOTE_CONFIG, "ls-remote", "--heads", access.url,
                    f"refs/heads/{branch}", env=_remote(access), timeout=timeout)
    if done.returncode != 0:
        raise _refused(f"cannot read {access.url}", done.stderr)
    line = done.stdout.decode().split("\n", 1)[0]
    return line.split()[0] if line.strip() else None


def fetch_branch(repository: Path, access: PushAccess, branch: str,
                 timeout: float = 600) -> str | None:
    """Fetch `branch` from the remote into suture's private refs; its sha, or None when the
    remote has no such branch."""
    if remote_branch(repository, access, branch, timeout) is None:
        return None
    ref = f"{PRIVATE_REFS}/{branch}"
    done = call_git(repository, *_REMOTE_CONFIG, "fetch", "--quiet", "--no-tags",
                    "--no-write-fetch-head", access.url, f"+refs/heads/{branch}:{ref}",
                    env=_remote(access), timeout=timeout)
    if done.returncode != 0:
        raise _refused(f"cannot fetch {branch} from {access.url}", done.stderr)
    return run_git(repository, "rev-parse", ref, timeout=timeout).strip()


def push_branch(repository: Path, access: PushAccess, sha: str, branch: str,
                timeout: float = 600) -> None:
    """Create `branch` on the remote at `sha` (never forced: a branch that exists with other
    commits is refused, and WorkspaceError says why)."""
    done = call_git(repository, *_REMOTE_CONFIG, "push", "--quiet", "--porcelain",
                    "--no-verify", access.url, f"{sha}:refs/heads/{branch}",
                    env=_remote(access), timeout=timeout)
    if done.returncode != 0:
        raise _refused(f"push of {branch} to {access.url} refused",
                       done.stderr + done.stdout)
