"""What a check says (`Check`), and the probes the checks look at the world through (`Probes`).

Checks are pure functions of the settings and the probes' answers, so each can be tested with a
stand-in probe; the real probes run git, bubblewrap, the database and Redis, open TCP
connections and read the host's package-index configuration (`worker.app` composes them). A
probe may raise anything: the check turns it into an error or warning result.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from worker.env.models import IndexConfig


class Status(StrEnum):
    """How a check came out: ok, a warning (logged, nothing stops) or an error (stops a start)."""

    OK = "ok"
    WARNING = "warning"
    ERROR = "error"


@dataclass(frozen=True)
class Check:
    """One concern of a setup: its name, how it came out, what was found and, unless it is ok,
    one concrete line saying how to fix it."""

    name: str
    status: Status
    found: str
    fix: str = ""

    @property
    def failed(self) -> bool:
        """True for an error."""
        return self.status is Status.ERROR

    def as_dict(self) -> dict[str, str]:
        """The check as JSON-ready strings."""
        return {key: str(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class SandboxProbe:
    """Whether bubblewrap ran `true`; when not, its own words and any kernel setting found to
    forbid unprivileged user namespaces (e.g. `kernel.unprivileged_userns_clone = 0`)."""

    installed: bool
    error: str = ""
    userns_setting: str = ""


@dataclass(frozen=True)
class RepositoryProbe:
    """A repository as git sees it: `error` says why it cannot be read ("" when it can),
    `timed_out` that git gave up waiting; `has_branch` whether the default branch exists and
    `head_branch` the branch HEAD names ("" when unknown or detached)."""

    error: str = ""
    timed_out: bool = False
    has_branch: bool = False
    head_branch: str = ""


@dataclass(frozen=True)
class DatabaseProbe:
    """The database's schema revision against the code's: `exists` is False for a SQLite file
    not created yet, `current` is None for a database without suture's schema, and `known`
    whether `current` is a revision this code has."""

    exists: bool
    current: str | None
    head: str
    known: bool = True


class Probes(Protocol):
    """How the checks look at the machine; each method may raise when it cannot look."""

    def git_version(self) -> str:
        """`git version ...`, as git prints it."""
        ...

    def sandbox(self) -> SandboxProbe:
        """Run `true` through the real sandbox adapter."""
        ...

    def local_repository(self, path: Path, branch: str) -> RepositoryProbe:
        """A repository on this machine, the way the workers open it."""
        ...

    def remote_repository(self, url: str, branch: str, timeout: float) -> RepositoryProbe:
        """A clone URL, asked with `git ls-remote` and the operator's credentials."""
        ...

    def database(self, url: str) -> DatabaseProbe:
        """Connect and read the schema revision (raises when it cannot connect)."""
        ...

    def broker(self, url: str) -> None:
        """Connect to the Redis or RabbitMQ broker (raises when it does not answer)."""
        ...

    def playbooks(self, directory: Path) -> int:
        """Load the playbooks; how many there are (raises `PlaybookError`)."""
        ...

    def unwritable(self, directory: Path) -> str:
        """Why files cannot be written in `directory` (or made there, when it is missing), or
        ""; nothing is created."""
        ...

    def free_space(self, directory: Path) -> int:
        """Bytes this user may still write on the disk holding `directory` (its nearest existing
        folder, when it is missing)."""
        ...

    def unreadable(self, path: Path) -> str:
        """Why the file at `path` cannot be read by this user, or ""."""
        ...

    def program(self, name: str) -> str | None:
        """Where the executable `name` (a path, or a name on PATH) is, or None."""
        ...

    def connect(self, host: str, port: int, timeout: float) -> None:
        """Open a TCP connection to `host:port` and close it (raises when none is made within
        `timeout` seconds)."""
        ...

    def package_indexes(self) -> IndexConfig:
        """The hosts, variables and files a repository setup gets from this host's package-index
        configuration (`worker.env.indexes.index_config`)."""
        ...
