"""The host side of `suture doctor`: git, the repositories, the sandbox, TCP connections and the
package-index configuration, probed through what the pipeline itself uses (`integrations.git`,
where every git process starts, the real `BubblewrapSandbox`, and `read_host_indexes` as
`SandboxEnvironments` reads it), so a passing check means the pipeline's own calls work.

A local repository is opened by `GitMirror`'s rule; a clone URL is asked with `git ls-remote`
and the operator's git configuration (credentials, SSH keys), as the mirror clones it.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
from collections.abc import Mapping
from pathlib import Path

from integrations.git import GitMirror
from integrations.git.command import call_git, run_git
from integrations.sandbox import BubblewrapSandbox
from integrations.sandbox.hostindex import read_host_indexes
from worker.doctor.model import RepositoryProbe, SandboxProbe
from worker.env.indexes import index_config
from worker.env.models import IndexConfig
from worker.fix.models import Limits, SandboxPolicy
from worker.ports import PermanentError, TransientError

LOCAL_GIT_SECONDS = 30.0
SANDBOX_SECONDS = 30.0
# The kernel settings that forbid unprivileged user namespaces, and the value that does.
USERNS_SETTINGS = (("kernel/unprivileged_userns_clone", "0"), ("user/max_user_namespaces", "0"),
                   ("kernel/apparmor_restrict_unprivileged_userns", "1"))


class HostProbes:
    """`worker.doctor.HostProbes` on this machine; `bwrap` names the bubblewrap executable (a
    name on PATH or a path), `proc_sys` where the kernel's settings are read and `environ` the
    variables the package-index configuration is read from (default: this process's)."""

    def __init__(self, bwrap: str = "bwrap", proc_sys: Path = Path("/proc/sys"),
                 environ: Mapping[str, str] | None = None) -> None:
        self._bwrap = bwrap
        self._proc_sys = proc_sys
        self._environ = environ

    def git_version(self) -> str:
        """`git version ...`; PermanentError when git cannot run."""
        return run_git(Path(tempfile.gettempdir()), "version", timeout=LOCAL_GIT_SECONDS).strip()

    def sandbox(self) -> SandboxProbe:
        """Run `true` through `BubblewrapSandbox` in a throwaway worktree."""
        if shutil.which(self._bwrap) is None:
            return SandboxProbe(installed=False, error=f"{self._bwrap!r} is not on PATH")
        sandbox = BubblewrapSandbox(bwrap=self._bwrap)
        policy = SandboxPolicy(limits=Limits(wall_seconds=SANDBOX_SECONDS))
        with tempfile.TemporaryDirectory(prefix="suture-doctor-") as worktree:
            try:
                result = sandbox.run(Path(worktree), ["true"], policy)
            except PermanentError as exc:
                return SandboxProbe(installed=True, error=str(exc).strip(),
                                    userns_setting=self._userns_setting())
        if result.exit_code != 0:
            return SandboxProbe(installed=True, error=f"`true` exited {result.exit_code} in the "
                                                      f"sandbox: {result.stderr.strip()[-500:]}")
        return SandboxProbe(installed=True)

    def _userns_setting(self) -> str:
        for name, forbidding in USERNS_SETTINGS:
            try:
                value = (self._proc_sys / name).read_text().strip()
            except OSError:
                continue
            if value == forbidding:
                return f"{name.replace('/', '.')} = {value}"
        return ""

    def local_repository(self, path: Path, branch: str) -> RepositoryProbe:
        """A repository on this machine, opened the way the workers open it."""
        if not path.exists():
            return RepositoryProbe(error="no such folder")
        try:
            # A local path never touches the mirror's cache folder: ensure() only vets it.
            GitMirror(Path(tempfile.gettempdir())).ensure(str(path))
        except PermanentError:
            return RepositoryProbe(error="not a git repository (it holds neither .git nor HEAD)")
        done = call_git(path, "rev-parse", "--git-dir", timeout=LOCAL_GIT_SECONDS)
        if done.returncode != 0:
            return RepositoryProbe(error=_first_line(done.stderr, done.returncode))
        has_branch = not branch.startswith("-") and call_git(
            path, "rev-parse", "--verify", "--quiet", f"{branch}^{{commit}}",
            timeout=LOCAL_GIT_SECONDS).returncode == 0
        head = call_git(path, "symbolic-ref", "--quiet", "--short", "HEAD",
                        timeout=LOCAL_GIT_SECONDS)
        return RepositoryProbe(has_branch=has_branch,
                               head_branch=head.stdout.decode("utf-8", "replace").strip()
                               if head.returncode == 0 else "")

    def remote_repository(self, url: str, branch: str, timeout: float) -> RepositoryProbe:
        """A clone URL, asked with `git ls-remote` within `timeout` seconds."""
        where = Path(tempfile.gettempdir())
        try:
            done = call_git(where, "ls-remote", "--exit-code", "--", url, f"refs/heads/{branch}",
                            timeout=timeout, user_config=True)
            if done.returncode == 0:
                return RepositoryProbe(has_branch=True)
            if done.returncode != 2:  # 2: it answered, with no such branch
                return RepositoryProbe(error=_first_line(done.stderr, done.returncode))
            head = call_git(where, "ls-remote", "--symref", "--", url, "HEAD", timeout=timeout,
                            user_config=True)
        except TransientError as exc:
            return RepositoryProbe(error=str(exc), timed_out=True)
        named = head.stdout.decode("utf-8", "replace").partition("\n")[0]
        head_branch = (named.removeprefix("ref: refs/heads/").split("\t")[0]
                       if named.startswith("ref: refs/heads/") else "")
        return RepositoryProbe(has_branch=False, head_branch=head_branch)

    def connect(self, host: str, port: int, timeout: float) -> None:
        """Open a TCP connection to `host:port` and close it; OSError when none is made within
        `timeout` seconds per address (refused, no route, unknown name, timed out). Name
        resolution is not bounded by `timeout`: the checks bound the whole call."""
        with socket.create_connection((host, port), timeout=timeout):
            pass

    def package_indexes(self) -> IndexConfig:
        """The allowlist, variables and files a repository setup gets from this host's index
        configuration, read exactly as `SandboxEnvironments` reads it before each build."""
        return index_config(read_host_indexes(self._environ), os.path.exists)


def _first_line(stderr: bytes, returncode: int) -> str:
    """git's first line of complaint (the rest is advice), or its exit status."""
    lines = [line.strip() for line in stderr.decode("utf-8", "replace").splitlines()]
    return next((line for line in lines if line), f"git exited {returncode}")[:500]
