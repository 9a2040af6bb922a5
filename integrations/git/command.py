"""Running the git CLI safely: the one place suture starts git.

The repositories suture reads belong to other people, and the worktrees it hands to agents and
test suites may be rewritten by them, so nothing in a repository may run a program on the
worker: hooks are pointed at an empty path and fsmonitor, external diff drivers and the pager
are switched off (`SAFE_CONFIG`). git reads no system or user configuration (HOME and the global
config file are `/dev/null`) unless a caller that talks to a remote asks for the operator's
(`user_config`, for credentials), never prompts, runs in the C locale, takes no optional locks
and reads pathspecs literally unless a caller needs their magic. Every call has an argv list
and a timeout.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Mapping
from pathlib import Path

from worker.ports import PermanentError, TransientError

SAFE_CONFIG = (
    "-c", f"core.hooksPath={os.devnull}",
    "-c", "core.fsmonitor=false",
    "-c", "diff.external=",
    "-c", "core.pager=cat",
    "-c", "core.quotePath=false",
    "-c", "log.showSignature=false",
)
_KEPT = ("PATH", "TMPDIR", "LANG")


class GitFailed(PermanentError):
    """git exited with a status the caller did not accept; the message carries its stderr."""


def git_env(extra: Mapping[str, str] | None = None, *, user_config: bool = False
            ) -> dict[str, str]:
    """The environment git runs in: no prompts, no system config, a fixed locale, and (unless
    `user_config`) no user config or home folder; `extra` (an index file, author names) last."""
    keep = ("HOME", *_KEPT) if user_config else _KEPT
    env = {key: value for key, value in os.environ.items() if key in keep}
    env |= {"GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C",
            "GIT_OPTIONAL_LOCKS": "0"}
    if not user_config:
        env |= {"GIT_CONFIG_GLOBAL": os.devnull, "HOME": os.devnull}
    return env | dict(extra or {})


def call_git(repo: Path, *args: str, stdin: bytes | None = None, timeout: float = 120,
             config: tuple[str, ...] = (), env: Mapping[str, str] | None = None,
             literal: bool = True, user_config: bool = False,
             git_dir: Path | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run `git -C repo args...` and return the finished process, whatever its exit status.

    `git_dir` pins the repository (`--git-dir`, with `repo` as the work tree) so git never
    looks for one in the folder. Raises TransientError on a timeout, PermanentError when git
    cannot be started."""
    # Both absolute: git reads them after `-C` has moved it into `repo`.
    where = (["--git-dir", os.path.abspath(git_dir), "--work-tree", os.path.abspath(repo)]
             if git_dir else [])
    argv = ["git", *SAFE_CONFIG, *config, *(["--literal-pathspecs"] if literal else []),
            "-C", str(repo), *where, *args]
    try:
        return subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                              env=git_env(env, user_config=user_config), check=False,
                              stdin=None if stdin is not None else subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise TransientError(f"git {args[0]} timed out after {timeout} s") from None
    except OSError as exc:
        raise PermanentError(f"cannot run git: {exc}") from None


def checked(done: subprocess.CompletedProcess[bytes], args: tuple[str, ...],
            ok_codes: tuple[int, ...] = (0,)) -> bytes:
    """The stdout of git run with `args`; GitFailed, with its stderr, when the exit status is
    not in `ok_codes`."""
    if done.returncode in ok_codes:
        return done.stdout
    stderr = done.stderr.decode("utf-8", "replace").strip()
    raise GitFailed(f"git {' '.join(args[:2])} failed ({done.returncode}): {stderr[:500]}")


def run_git_bytes(repo: Path, *args: str, ok_codes: tuple[int, ...] = (0,),
                  stdin: bytes | None = None, timeout: float = 120,
                  config: tuple[str, ...] = (), env: Mapping[str, str] | None = None,
                  literal: bool = True, user_config: bool = False,
                  git_dir: Path | None = None) -> bytes:
    """Run git (the options are `call_git`'s) and return its raw stdout; GitFailed when the
    exit status is not in `ok_codes`."""
    return checked(call_git(repo, *args, stdin=stdin, timeout=timeout, config=config, env=env,
                            literal=literal, user_config=user_config, git_dir=git_dir),
                   args, ok_codes)


def run_git(repo: Path, *args: str, ok_codes: tuple[int, ...] = (0,),
            stdin: bytes | None = None, timeout: float = 120, config: tuple[str, ...] = (),
            env: Mapping[str, str] | None = None, literal: bool = True,
            user_config: bool = False, git_dir: Path | None = None) -> str:
    """Like `run_git_bytes`, with stdout decoded leniently."""
    return run_git_bytes(repo, *args, ok_codes=ok_codes, stdin=stdin, timeout=timeout,
                         config=config, env=env, literal=literal, user_config=user_config,
                         git_dir=git_dir).decode("utf-8", "replace")
