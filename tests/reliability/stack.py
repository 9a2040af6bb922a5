"""One deployment of suture as separate processes, for the chaos suite.

`suture web`, `suture scheduler` and any number of `suture worker`s (some armed to kill
themselves at a stage boundary, `dying_worker.py`) on this test's own Redis and PostgreSQL
(`services.py`), with the sample shop on the GitHub stand-in. The test drives it and reads the
outcome from the store and from the stand-ins: what was published, and how many times.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx

from tests.processes import Processes, free_port, wait_until
from tests.reliability.services import PrivatePostgres, PrivateRedis
from tests.support import SECRET, compact, sentry_headers
from worker.demo.sample import SampleRepo, capture_crash
from worker.models import RunState
from worker.runs import Run
from worker.store import SqlStore

REPO = "acme/shop"
__all__ = ["Stack", "crash_webhook", "published", "settings_json", "wait_until"]


def crash_webhook(shop: SampleRepo, path: str, query: str, issue_id: str) -> bytes:
    """A Sentry "event alert" webhook carrying a real sentry-sdk event of the shop's crash."""
    event = {**capture_crash(shop, path=path, query=query), "issue_id": issue_id,
             "project": "shop"}
    return compact({"action": "triggered", "installation": {"uuid": "chaos"},
                    "data": {"event": event, "triggered_rule": "New errors in shop"},
                    "actor": {"type": "application", "id": "sentry", "name": "Sentry"}})


class Stack:
    """The processes of one chaos test, their services, and the means to look at them."""

    def __init__(self, folder: Path, shop: Path, github_url: str, github_token: str,
                 **settings: str) -> None:
        self.folder = folder
        self.redis = PrivateRedis(folder / "redis").start()
        self.postgres = PrivatePostgres().start()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.hits_file = folder / "kills.txt"
        self.env = {
            **os.environ,
            "SUTURE_DATABASE_URL": self.postgres.url,
            "SUTURE_BROKER_URL": self.redis.url,
            "SUTURE_BROKER__NAMESPACE": f"chaos-{uuid.uuid4().hex[:8]}",
            "SUTURE_BROKER__HEARTBEAT_TIMEOUT_MS": "2000",
            "SUTURE_BROKER__MAINTENANCE_CHANCE": "1000000",
            "SUTURE_RECONCILE_INTERVAL_SECONDS": "2",
            "SUTURE_STUCK_AFTER_SECONDS": "10",
            "SUTURE_PUBLISH_LEASE_SECONDS": "10",
            "SUTURE_RUN_LEASE_SECONDS": "6",
            "SUTURE_CODE_HOST": "github",
            "SUTURE_GITHUB__BASE_URL": github_url,
            "SUTURE_GITHUB__TOKEN": github_token,
            "SUTURE_SENTRY__CLIENT_SECRET": SECRET,
            "SUTURE_PORT": str(self.port),
            "SUTURE_DATA_DIR": str(folder / "data"),
            "SUTURE_SERVICES": json.dumps([{
                "name": "shop", "sentry_project": "shop", "repository": str(shop),
                "slug": REPO, "test_command": "python -m pytest -q"}]),
            **{f"SUTURE_{key.upper()}": value for key, value in settings.items()},
        }
        self.children = Processes(folder, self.env)
        self.store = SqlStore(self.postgres.url)
        self.store.migrate()

    # processes ----------------------------------------------------------------------------

    @property
    def procs(self) -> list[subprocess.Popen[bytes]]:
        """Every process started, in order."""
        return self.children.procs

    def start(self, *argv: str, name: str = "") -> subprocess.Popen[bytes]:
        """Start `python -m <argv>` in its own process group, its output in a log file."""
        return self.children.start(*argv, name=name)

    def start_web(self) -> None:
        """`suture web`, waited for until healthy."""
        self.children.start_web(self.url, 60)

    def start_scheduler(self) -> None:
        """`suture scheduler`: the reconciler's passes; waited for until it ticks."""
        proc = self.start("worker.cli", "scheduler")
        log = self.children.paths[-1]
        wait_until(lambda: proc.poll() is None and "Scheduler started" in log.read_text(
            errors="replace"), 180, f"the scheduler\n{self.logs()}")

    def start_worker(self, schedule: list[str] | None = None) -> subprocess.Popen[bytes]:
        """A worker; with a `schedule` of boundaries, one that kills itself at the first one
        still owed a kill (`dying_worker.py`)."""
        if schedule:
            return self.start("tests.reliability.dying_worker", ",".join(schedule),
                              str(self.hits_file), "--threads", "2", name="dying")
        return self.start("worker.cli", "worker", "--threads", "2", name="worker")

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """`kill -9` a process group from outside."""
        self.children.kill(proc)

    def stop(self) -> None:
        """Stop every process, then the services."""
        self.children.stop()
        self.store.close()
        self.redis.stop()
        self.postgres.stop()

    # observing ----------------------------------------------------------------------------

    def post(self, body: bytes) -> httpx.Response:
        """A signed Sentry webhook into the web process."""
        return httpx.post(f"{self.url}/hooks/sentry", content=body,
                          headers=sentry_headers(body), timeout=30)

    def runs(self) -> list[Run]:
        """Every run, as the store has it (an empty list while the database is down)."""
        try:
            return self.store.list_runs()
        except Exception:  # the database restarting: not an answer yet
            return []

    def all_settled(self, expected: int) -> bool:
        """True once `expected` runs exist and every one is in a terminal state."""
        runs = self.runs()
        return len(runs) == expected and all(run.state.terminal for run in runs)

    def kills(self) -> list[str]:
        """Every boundary a dying worker was killed at, in order."""
        if not self.hits_file.exists():
            return []
        return [line.split()[0] for line in self.hits_file.read_text().splitlines()]

    def logs(self) -> str:
        """Every process's output, for a failing test's message."""
        return self.children.tail()

    def give_ups(self) -> list[tuple[int, str]]:
        """Runs that failed, with the reason recorded."""
        return [(run.id, run.reason) for run in self.runs() if run.state == RunState.FAILED]


def published(runs: list[Run]) -> dict[int, str]:
    """Run id → the kind of publication the store recorded for it."""
    return {run.id: run.record.publication.kind for run in runs
            if run.record.publication is not None}


def settings_json(values: dict[str, Any]) -> str:
    """A settings value as the environment carries it."""
    return json.dumps(values)
