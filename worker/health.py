"""Is this deployment's process healthy: the heartbeat a worker or scheduler writes, and the
checks `suture health` runs on it (database, broker, heartbeat), each with its reason.

Liveness is the heartbeat: a thread writes the time to the configured file only while the
process's own threads are running (a Dramatiq worker's consumers and workers, the scheduler's
timer), so a process whose threads died stops beating and its health check fails.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import dramatiq
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from worker.brokers import ping
from worker.health_settings import HealthSettings
from worker.settings import Settings

log = logging.getLogger("suture.health")

CONNECT_SECONDS = 5


@dataclass(frozen=True)
class HealthCheck:
    """One check's outcome and why."""

    name: str
    ok: bool
    detail: str


class Heartbeat:
    """Writes the time to a file every few seconds while `alive()` says the process is."""

    def __init__(self, path: Path, every: float, alive: Callable[[], bool],
                 clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.path = path
        self.every = every
        self.alive = alive
        self.clock = clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="suture-heartbeat", daemon=True)

    def start(self) -> None:
        """Beat once now, then every `every` seconds."""
        self.beat()
        self._thread.start()

    def stop(self) -> None:
        """Stop beating (the file stays, and goes stale)."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def beat(self) -> bool:
        """Write the time if the process is alive; whether it was written."""
        if not self.alive():
            log.warning("not writing the heartbeat: the process's threads have stopped")
            return False
        # Written beside the file and renamed, so a reader never sees half a timestamp.
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(dir=self.path.parent, prefix=".heartbeat-")
        with os.fdopen(fd, "w") as handle:
            handle.write(self.clock().isoformat())
        os.replace(name, self.path)
        return True

    def _loop(self) -> None:
        while not self._stop.wait(self.every):
            try:
                self.beat()
            except OSError as exc:  # a full disk must not kill the process: the check will say
                log.warning("could not write the heartbeat %s: %s", self.path, exc)


def start_heartbeat(settings: HealthSettings, alive: Callable[[], bool]) -> Heartbeat | None:
    """Start the configured heartbeat; None when no heartbeat file is configured."""
    if settings.heartbeat_file is None:
        return None
    heartbeat = Heartbeat(settings.heartbeat_file, settings.heartbeat_seconds, alive)
    heartbeat.start()
    return heartbeat


def worker_alive(worker: dramatiq.Worker) -> Callable[[], bool]:
    """Whether every consumer and worker thread of a started Dramatiq worker is running."""
    def alive() -> bool:
        threads = [*worker.consumers.values(), *worker.workers]
        return bool(threads) and all(thread.is_alive() for thread in threads)
    return alive


def heartbeat_check(settings: HealthSettings, now: datetime) -> HealthCheck:
    """The heartbeat file is there and younger than `stale_after_seconds`."""
    path = settings.heartbeat_file
    if path is None:
        return HealthCheck("heartbeat", True, "no heartbeat file configured")
    try:
        written = datetime.fromisoformat(path.read_text().strip())
    except (OSError, ValueError) as exc:
        return HealthCheck("heartbeat", False, f"no readable heartbeat in {path}: {exc}")
    age = (now - written).total_seconds()
    if age > settings.stale_after_seconds:
        return HealthCheck("heartbeat", False, f"last beat {age:.0f} s ago (more than "
                                               f"{settings.stale_after_seconds:g} s)")
    return HealthCheck("heartbeat", True, f"last beat {max(age, 0):.0f} s ago")


def database_check(url: str) -> HealthCheck:
    """The database answers `SELECT 1`."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    connect_args = ({"connect_timeout": CONNECT_SECONDS}
                    if parsed.get_backend_name() == "postgresql" else {})
    engine = create_engine(parsed, poolclass=NullPool, connect_args=connect_args)
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach it is the answer, with its reason
        return HealthCheck("database", False, f"{type(exc).__name__}: {str(exc)[:200]}")
    finally:
        engine.dispose()
    return HealthCheck("database", True, f"{parsed.get_backend_name()} answers")


def broker_check(url: str | None) -> HealthCheck:
    """The Redis or RabbitMQ broker answers (no broker configured: nothing to check)."""
    if not url:
        return HealthCheck("broker", True, "in-memory broker")
    try:
        answered = ping(url)
    except Exception as exc:  # any failure to reach it is the answer, with its reason
        return HealthCheck("broker", False, f"{type(exc).__name__}: {str(exc)[:200]}")
    return HealthCheck("broker", True, answered)


def check_health(settings: Settings, now: datetime | None = None) -> list[HealthCheck]:
    """Every check of this process's health, in order: heartbeat, database, broker."""
    moment = now or datetime.now(UTC)
    return [heartbeat_check(settings.health, moment), database_check(settings.database_url),
            broker_check(settings.broker_url)]
