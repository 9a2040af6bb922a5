"""Running the git CLI safely: argv lists, a timeout, no prompts, no hooks, no system config.

The repositories suture reads belong to other people, so nothing in them may run a program on
the worker: hooks are pointed at an empty folder and fsmonitor, external diff and textconv
drivers are switched off.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from worker.ports import PermanentError, TransientError

SAFE_CONFIG = (
    "-c", "core.hooksPath=/dev/null",
    "-c", "core.fsmonitor=false",
    "-c", "diff.external=",
    "-c", "core.quotePath=false",
    "-c", "log.showSignature=false",
)


class GitFailed(PermanentError):
    """git exited non-zero; the message carries its stderr."""


def git_env() -> dict[str, str]:
    """The environment git runs in: no prompts, no system config, a fixed locale."""
    keep = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "TMPDIR", "LANG")}
    return {**keep, "GIT_TERMINAL_PROMPT": "0", "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C",
            "GIT_OPTIONAL_LOCKS": "0"}


def run_git(repo: Path, *args: str, timeout: float = 120, config: tuple[str, ...] = (),
            ok_codes: tuple[int, ...] = (0,)) -> str:
    """Run `git -C repo args...` and return stdout (decoded leniently)."""
    argv = ["git", *SAFE_CONFIG, *config, "-C", str(repo), *args]
    try:
        done = subprocess.run(argv, capture_output=True, timeout=timeout, env=git_env(),
                              check=False)
    except subprocess.TimeoutExpired:
        raise TransientError(f"git {args[0]} timed out after {timeout} s") from None
    except OSError as exc:
        raise PermanentError(f"cannot run git: {exc}") from None
    if done.returncode not in ok_codes:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        raise GitFailed(f"git {' '.join(args[:3])} failed ({done.returncode}): {stderr[:500]}")
    return done.stdout.decode("utf-8", "replace")


def run_git_bytes(repo: Path, *args: str, stdin: bytes = b"", timeout: float = 120) -> bytes:
    """Run git with `stdin` and return raw stdout (for `cat-file --batch`)."""
    argv = ["git", *SAFE_CONFIG, "-C", str(repo), *args]
    try:
        done = subprocess.run(argv, input=stdin, capture_output=True, timeout=timeout,
                              env=git_env(), check=False)
    except subprocess.TimeoutExpired:
        raise TransientError(f"git {args[0]} timed out after {timeout} s") from None
    except OSError as exc:
        raise PermanentError(f"cannot run git: {exc}") from None
    if done.returncode != 0:
        stderr = done.stderr.decode("utf-8", "replace").strip()
        raise GitFailed(f"git {' '.join(args[:2])} failed ({done.returncode}): {stderr[:500]}")
    return done.stdout
