"""`SandboxEnvironments`, the `Environments` port: a repository's setup run in the sandbox with
network to the package indexes only, kept in the environment cache, and handed to later runs.

A preparation reads the dependency files at the base (from the caller's clean tree, or a fresh
worktree), plans the setup (`worker.env.detect`) and names it (`worker.env.key`). Under the
key's lock it reuses the cached entry or builds one in a fresh worktree: a virtualenv made with
the sandbox's own Python (never with its site-packages), then each command, with the worktree at
`WORKDIR` and the entry being built writable at `ENV_DIR`. Folders the plan keeps are moved from
the worktree into the entry, which is renamed into the cache; a failed build keeps nothing.
"""

from __future__ import annotations

import logging
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from integrations.sandbox.envcache import EnvCache, tree_size
from integrations.sandbox.hostindex import read_host_indexes
from integrations.sandbox.layout import default_path
from worker.env.detect import OPTIONAL_TOOLS, PlaybookError, plan_setup
from worker.env.indexes import index_config
from worker.env.key import environment_key
from worker.env.models import (
    ENV_DIR,
    VENV_DIR,
    WORKDIR,
    Environment,
    EnvironmentFailure,
    EnvRecord,
    SetupPlan,
)
from worker.env.variables import run_env, setup_env
from worker.fix.models import CommandResult, Limits, Mount, SandboxPolicy
from worker.ports import Sandbox, Workspace
from worker.scrub import scrub_text

log = logging.getLogger("suture.env")

FILE_LIMIT = 32 * 1024 * 1024  # bytes of a dependency file read for the key
_LOG_HEAD, _LOG_TAIL = 2000, 6000


class SandboxEnvironments:
    """Builds and reuses repository environments (see the module docstring)."""

    def __init__(self, cache_dir: Path, sandbox: Sandbox, *, max_cache_mb: int = 10_240,
                 max_age_days: float = 14, setup_seconds: float = 1800,
                 environ: Mapping[str, str] | None = None,
                 in_use: timedelta = timedelta(hours=2)) -> None:
        self.cache = EnvCache(cache_dir, max_bytes=max_cache_mb * 1024 * 1024,
                              max_age=timedelta(days=max_age_days), in_use=in_use)
        self.sandbox = sandbox
        self.environ = environ
        # A setup compiles and downloads: more of everything than a test run, still bounded.
        self.limits = Limits(wall_seconds=setup_seconds, cpu_seconds=int(setup_seconds * 4),
                             memory_mb=4096, processes=1024, file_mb=4096)
        self._versions: dict[str, str] = {}

    def prepare(self, workspace: Workspace, base: str, setup: list[str] | None = None, *,
                tree: Path | None = None) -> Environment | EnvironmentFailure:
        """The environment for `base`: reused from the cache or built (see the port)."""
        started = time.monotonic()
        sha = workspace.resolve(base)
        with ExitStack() as stack:
            fresh: Path | None = None
            if tree is None:
                fresh = tree = stack.enter_context(
                    workspace.worktree(sha, stack.enter_context(self.cache.staging()) / "tree"))
            read = _reader(tree)
            try:
                plan = plan_setup(workspace.tracked(tree), read, setup, self._tools())
            except PlaybookError as exc:
                return EnvironmentFailure(reason=str(exc), seconds=_since(started))
            if not plan.commands:
                return Environment(source=plan.source, seconds=_since(started))
            key = environment_key(plan, {name: read(name) for name in plan.files},
                                  self._runtime(plan, tree))
            with self.cache.locked(key):
                record = self.cache.lookup(key)
                if record is not None:
                    return self._ready(plan, self.cache.touch(record), True, started)
                if fresh is None:
                    fresh = stack.enter_context(workspace.worktree(
                        sha, stack.enter_context(self.cache.staging()) / "tree"))
                built = self._build(fresh, plan, key, started)
        if isinstance(built, EnvironmentFailure):
            return built
        self.cache.evict(keep=key)
        return self._ready(plan, built, False, started)

    def _build(self, tree: Path, plan: SetupPlan, key: str,
               started: float) -> EnvRecord | EnvironmentFailure:
        entry = tree.parent / "entry"
        (entry / "env").mkdir(parents=True)
        (entry / "keep").mkdir()
        for name, text in plan.generated.items():
            (entry / "env" / name).parent.mkdir(parents=True, exist_ok=True)
            (entry / "env" / name).write_text(text, "utf-8")
        index = index_config(read_host_indexes(self.environ), os.path.exists)
        for note in index.notes:
            log.info("environment %s: %s", key[:12], note)
        policy = SandboxPolicy(
            allow_hosts=index.allow_hosts, env=setup_env(plan, index, default_path()),
            limits=self.limits, workdir=WORKDIR,
            mounts=[Mount(source=str(entry / "env"), target=ENV_DIR, writable=True),
                    *index.mounts])
        steps = [[sys.executable, "-m", "venv", VENV_DIR]] if plan.python else []
        steps += [["sh", "-c", command] for command in plan.commands]
        for number, argv in enumerate(steps, 1):
            result = self.sandbox.run(tree, argv, policy)
            if result.exit_code != 0 or result.timed_out or result.killed:
                return _failure(plan, key, number, len(steps), result, started, index.notes)
        kept = []
        for folder in plan.keep:
            source = tree / folder
            if source.is_dir() and not source.is_symlink():
                (entry / "keep" / folder).parent.mkdir(parents=True, exist_ok=True)
                os.rename(source, entry / "keep" / folder)
                kept.append(folder)
        now = self.cache.clock()
        record = EnvRecord(key=key, commands=plan.commands, source=plan.source, keep=kept,
                           size_bytes=tree_size(entry), build_seconds=_since(started),
                           created=now, last_used=now)
        self.cache.commit(entry, record)
        log.info("environment %s built in %.1fs (%d bytes): %s", key[:12], record.build_seconds,
                 record.size_bytes, plan.source)
        return record

    def _ready(self, plan: SetupPlan, record: EnvRecord, reused: bool,
               started: float) -> Environment:
        entry = self.cache.entry(record.key)
        mounts = [Mount(source=str(entry / "env"), target=ENV_DIR),
                  *(Mount(source=str(entry / "keep" / folder), target=f"{WORKDIR}/{folder}")
                    for folder in record.keep)]
        return Environment(key=record.key, commands=plan.commands, source=plan.source,
                           reused=reused, seconds=_since(started),
                           build_seconds=record.build_seconds, size_bytes=record.size_bytes,
                           workdir=WORKDIR, mounts=mounts, env=run_env(plan, default_path()))

    def _tools(self) -> set[str]:
        """The optional tools a command in the sandbox finds on its PATH."""
        return {tool for tool in OPTIONAL_TOOLS if shutil.which(tool, path=default_path())}

    def _runtime(self, plan: SetupPlan, tree: Path) -> dict[str, str]:
        """What an environment depends on besides the repository: the interpreter a
        virtualenv links to, the platform, and the Node and Go versions when they are used."""
        runtime = {"python": platform.python_version(), "implementation": sys.implementation.name,
                   "interpreter": os.path.realpath(sys.executable),
                   "platform": f"{sys.platform}-{platform.machine()}-{platform.libc_ver()[1]}"}
        for used, tool, argv in ((plan.node, "node", ["node", "--version"]),
                                 (plan.go, "go", ["go", "env", "GOVERSION"])):
            if used:
                if tool not in self._versions:
                    done = self.sandbox.run(tree, argv, SandboxPolicy(limits=Limits(
                        wall_seconds=60)))
                    self._versions[tool] = done.stdout.strip() if done.exit_code == 0 \
                        else "absent"
                runtime[tool] = self._versions[tool]
        return runtime


def _reader(tree: Path) -> Callable[[str], str | None]:
    """Reads a file of the tree: a regular file inside it, else None (a link could point
    anywhere on the host)."""
    root = tree.resolve()

    def read(name: str) -> str | None:
        path = root / name
        try:
            if path.is_symlink() or not path.is_file() or not path.resolve().is_relative_to(root):
                return None
            with path.open("rb") as handle:
                return handle.read(FILE_LIMIT).decode("utf-8", "replace")
        except OSError:
            return None

    return read


def _failure(plan: SetupPlan, key: str, number: int, steps: int, result: CommandResult,
             started: float, notes: list[str]) -> EnvironmentFailure:
    command = result.argv[-1] if result.argv[:2] == ["sh", "-c"] else " ".join(result.argv)
    how = (f"was stopped ({result.killed or 'timeout'})" if result.timed_out or result.killed
           else f"failed (exit {result.exit_code})")
    what = "making the virtualenv" if result.argv[1:3] == ["-m", "venv"] else command
    reason = f"setup step {number} of {steps} {how}: {what}"
    text = f"{result.stdout}\n--- stderr ---\n{result.stderr}"
    if len(text) > _LOG_HEAD + _LOG_TAIL:
        cut = len(text) - _LOG_HEAD - _LOG_TAIL
        text = f"{text[:_LOG_HEAD]}\n[... {cut} characters cut ...]\n{text[-_LOG_TAIL:]}"
    if notes:
        text += "\n--- index configuration ---\n" + "\n".join(notes)
    return EnvironmentFailure(key=key, commands=plan.commands, source=plan.source,
                              reason=scrub_text(reason), command=scrub_text(command),
                              exit_code=result.exit_code, log=scrub_text(text),
                              seconds=_since(started))


def _since(started: float) -> float:
    return round(time.monotonic() - started, 3)
