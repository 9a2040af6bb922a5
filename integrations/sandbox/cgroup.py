"""A per-command pids cgroup, used when the host lets us make one.

The process limit in a sandbox is RLIMIT_NPROC, but the kernel does not enforce it for a user
that maps to the host's root (bubblewrap run by root maps the sandbox user to root), and it counts
processes rather than a tree. A pids cgroup caps the whole tree whoever owns it, and lists its
members so that everything can be killed at the end. The group is created under the caller's own
pids cgroup (v1 `pids` hierarchy, or the unified v2 hierarchy when it has the pids controller);
when neither can be written, `PidsCgroup.create` returns None and the rlimits stand alone.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
import uuid
from pathlib import Path

log = logging.getLogger("suture.sandbox")

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_paths() -> list[Path]:
    """Candidate parents: our pids cgroup in v1, then our cgroup in the unified hierarchy."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return []
    found = []
    for line in lines:
        _, controllers, path = line.split(":", 2)
        relative = path.lstrip("/")
        if "pids" in controllers.split(","):
            found.append(CGROUP_ROOT / "pids" / relative)
        elif controllers == "" and (CGROUP_ROOT / "cgroup.controllers").exists():
            found.append(CGROUP_ROOT / relative)
    return found


class PidsCgroup:
    """One cgroup holding a sandboxed command's whole process tree."""

    def __init__(self, path: Path) -> None:
        self.path = path

    @classmethod
    def create(cls, limit: int) -> PidsCgroup | None:
        """A fresh group allowing `limit` tasks, or None when the host does not allow one."""
        for parent in _own_paths():
            path = parent / f"suture-sandbox-{uuid.uuid4().hex[:12]}"
            try:
                path.mkdir()
            except OSError:
                continue
            try:
                (path / "pids.max").write_text(str(limit))
                return cls(path)
            except OSError:
                with contextlib.suppress(OSError):
                    path.rmdir()
        return None

    @property
    def procs_file(self) -> Path:
        """Writing a pid here moves that process (and its future children) into the group."""
        return self.path / "cgroup.procs"

    def pids(self) -> list[int]:
        """The processes in the group now."""
        try:
            return [int(p) for p in self.procs_file.read_text().split()]
        except OSError:
            return []

    def limit_hit(self) -> bool:
        """Whether a fork was refused because the group was full."""
        try:
            events = (self.path / "pids.events").read_text().split()
        except OSError:
            return False
        return len(events) >= 2 and events[0] == "max" and events[1] != "0"

    def kill(self, timeout: float = 5.0) -> bool:
        """SIGKILL every member until the group is empty; False if it was not within `timeout`."""
        deadline = time.monotonic() + timeout
        while pids := self.pids():
            if time.monotonic() > deadline:
                log.warning("sandbox cgroup %s still has %d processes", self.path, len(pids))
                return False
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.01)  # the killed tasks leave the group asynchronously
        return True

    def remove(self) -> None:
        """Delete the (empty) group."""
        try:
            self.path.rmdir()
        except OSError as error:
            log.warning("cannot remove sandbox cgroup %s: %s", self.path, error)
