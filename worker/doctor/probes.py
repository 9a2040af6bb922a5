"""The real probes: the database, the broker, the playbooks, folders and free disk space are
looked at here; git, the repositories, the sandbox, TCP connections and the package-index
configuration by the host probes `worker.app` hands in (they live in `integrations`). Looking
changes nothing: no schema is migrated and no SQLite file or folder is created.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Protocol

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from worker.brokers import ping
from worker.doctor.model import DatabaseProbe, RepositoryProbe, SandboxProbe
from worker.env.models import IndexConfig
from worker.playbooks import load_playbooks
from worker.ports import PermanentError
from worker.store.engine import alembic_config

CONNECT_SECONDS = 5


class HostProbes(Protocol):
    """The probes that run programs on the host (git, bubblewrap)."""

    def git_version(self) -> str:
        """`git version ...`."""
        ...

    def sandbox(self) -> SandboxProbe:
        """Run `true` in the sandbox."""
        ...

    def local_repository(self, path: Path, branch: str) -> RepositoryProbe:
        """A repository on this machine."""
        ...

    def remote_repository(self, url: str, branch: str, timeout: float) -> RepositoryProbe:
        """A clone URL."""
        ...

    def connect(self, host: str, port: int, timeout: float) -> None:
        """A TCP connection to `host:port`, opened and closed."""
        ...

    def package_indexes(self) -> IndexConfig:
        """What a repository setup gets from the host's index configuration."""
        ...


class SystemProbes:
    """`Probes` over this machine: its own database, broker, playbook, folder and disk probes,
    and `host` for git, the sandbox, TCP connections and the package indexes."""

    def __init__(self, host: HostProbes) -> None:
        self._host = host

    def git_version(self) -> str:
        """`git version ...`."""
        return self._host.git_version()

    def sandbox(self) -> SandboxProbe:
        """Run `true` in the sandbox."""
        return self._host.sandbox()

    def local_repository(self, path: Path, branch: str) -> RepositoryProbe:
        """A repository on this machine."""
        return self._host.local_repository(path, branch)

    def remote_repository(self, url: str, branch: str, timeout: float) -> RepositoryProbe:
        """A clone URL."""
        return self._host.remote_repository(url, branch, timeout)

    def connect(self, host: str, port: int, timeout: float) -> None:
        """A TCP connection to `host:port`, opened and closed within `timeout` seconds."""
        self._host.connect(host, port, timeout)

    def package_indexes(self) -> IndexConfig:
        """What a repository setup gets from the host's index configuration."""
        return self._host.package_indexes()

    def database(self, url: str) -> DatabaseProbe:
        """Connect (at most `CONNECT_SECONDS` for PostgreSQL) and read the schema revision."""
        parsed = make_url(url)
        connect_args: dict[str, object] = {}
        if parsed.get_backend_name() == "sqlite":
            database = parsed.database
            if database and database != ":memory:" and not Path(database).exists():
                problem = self.unwritable(Path(database).parent)
                if problem:
                    raise PermanentError(f"the SQLite file cannot be created: {problem}")
                return DatabaseProbe(exists=False, current=None, head=_head(_script()))
        elif parsed.drivername == "postgresql":
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "postgresql":
            connect_args["connect_timeout"] = CONNECT_SECONDS
        engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
        try:
            with engine.connect() as connection:
                current = MigrationContext.configure(connection).get_current_revision()
            script = _script()
            known = current is None or _has_revision(script, current)
            return DatabaseProbe(exists=True, current=current, head=_head(script), known=known)
        finally:
            engine.dispose()

    def broker(self, url: str) -> None:
        """Connect to the Redis or RabbitMQ broker (`worker.brokers.ping`: at most a few seconds
        to connect and to answer)."""
        ping(url)

    def playbooks(self, directory: Path) -> int:
        """How many playbooks load from `directory`; PlaybookError lists what does not."""
        return len(load_playbooks(directory))

    def unwritable(self, directory: Path) -> str:
        """Why files cannot be written in `directory` (or, when it is missing, why it cannot be
        made there), or ""; nothing is created."""
        path = _nearest_existing(directory)
        if not path.is_dir():
            return f"{path} is not a folder"
        if not os.access(path, os.W_OK | os.X_OK):
            return f"{path} is not writable by this user"
        return ""

    def unreadable(self, path: Path) -> str:
        """Why the file at `path` cannot be read by this user, or ""."""
        if not path.is_file():
            return f"{path} is not a file"
        if not os.access(path, os.R_OK):
            return f"{path} is not readable by this user"
        return ""

    def program(self, name: str) -> str | None:
        """Where the executable `name` is, or None."""
        return shutil.which(name)

    def free_space(self, directory: Path) -> int:
        """Bytes this user may still write on the disk holding `directory` (or its nearest
        existing parent)."""
        return shutil.disk_usage(_nearest_existing(directory)).free


def _nearest_existing(directory: Path) -> Path:
    """`directory` made absolute, or its nearest parent that exists."""
    path = Path(directory).expanduser().absolute()
    while not path.exists() and path != path.parent:
        path = path.parent
    return path


def _script() -> ScriptDirectory:
    """The bundled migrations (the engine the config carries is never connected)."""
    engine = create_engine("sqlite://", poolclass=NullPool)
    try:
        return ScriptDirectory.from_config(alembic_config(engine))
    finally:
        engine.dispose()


def _head(script: ScriptDirectory) -> str:
    return script.get_current_head() or ""


def _has_revision(script: ScriptDirectory, revision: str) -> bool:
    try:
        return script.get_revision(revision) is not None
    except Exception:  # alembic raises its own errors for an unknown or ambiguous id
        return False
