"""Helpers shared by tests: building a wired suture on the in-memory broker, signing webhooks,
and a sandbox without isolation for tests of verification."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from worker.app import App, build_app
from worker.broker import join_all
from worker.fix.models import CommandResult, SandboxPolicy
from worker.settings import load_settings
from worker.web.server import serve_in_thread
from worker.web.signatures import sentry_signature

SECRET = "test-client-secret"
DD_SECRET = "test-datadog-secret"


def make_settings(tmp_path: Path, database_url: str | None = None, **overrides: Any):
    values: dict[str, Any] = {
        "database_url": database_url or f"sqlite:///{tmp_path / 'suture.db'}",
        "tickets_dir": tmp_path / "tickets",
        "sentry": {"client_secret": SECRET},
        "datadog": {"webhook_secret": DD_SECRET},
        # Most tests send events of projects no service maps and follow them to a ticket, so they
        # turn tickets for those on; a test of the default passes its own "policy".
        "policy": {"require_service": False},
    }
    values.update(overrides)
    return load_settings(None, **values)


def make_app(tmp_path: Path, clock=None, **kwargs: Any) -> App:
    settings = make_settings(tmp_path, **kwargs.pop("settings", {}))
    return build_app(settings, clock=clock or (lambda: datetime.now(UTC)), **kwargs)


def sentry_headers(body: bytes, resource: str = "event_alert", secret: str = SECRET,
                   timestamp: float | None = None) -> dict[str, str]:
    return {"Content-Type": "application/json", "Sentry-Hook-Resource": resource,
            "Sentry-Hook-Timestamp": str(int(timestamp if timestamp is not None else time.time())),
            "Sentry-Hook-Signature": sentry_signature(body, secret)}


def compact(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def drain(app: App) -> None:
    """Run the in-memory broker's queue until every message (and retry) is done."""
    worker = app.worker(threads=2)
    worker.start()
    try:
        join_all(app.broker)
        worker.join()
    finally:
        worker.stop()


@contextmanager
def served(app: App) -> Iterator[httpx.Client]:
    """The app's web served over real HTTP; an httpx client pointed at it."""
    # "critical": a 500's traceback is not formatted on the server thread while the test thread
    # parses code too (CPython 3.11's ast is not thread-safe there).
    server, url = serve_in_thread(app.web(), log_level="critical")
    try:
        with httpx.Client(base_url=url, timeout=10) as client:
            yield client
    finally:
        server.should_exit = True


class LocalSandbox:
    """The Sandbox port without isolation: a subprocess in the worktree, output captured."""

    def __init__(self) -> None:
        self.policies: list[SandboxPolicy] = []
        self._audit: list[CommandResult] = []

    def run(self, worktree: Path, argv: list[str], policy: SandboxPolicy,
            stdin: str | None = None) -> CommandResult:
        # Plugins installed on this machine are not the shop's; loading them only slows runs.
        env = {"PATH": os.environ["PATH"], "HOME": str(worktree),
               "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1", **policy.env}
        started = time.monotonic()
        try:
            done = subprocess.run(argv, cwd=worktree, input=stdin, capture_output=True,
                                  text=True, env=env, timeout=policy.limits.wall_seconds,
                                  check=False)
            result = CommandResult(argv=argv, exit_code=done.returncode, stdout=done.stdout,
                                   stderr=done.stderr, seconds=time.monotonic() - started)
        except subprocess.TimeoutExpired:
            result = CommandResult(argv=argv, exit_code=-9, timed_out=True, killed="timeout",
                                   seconds=time.monotonic() - started)
        self.policies.append(policy)
        self._audit.append(result)
        return result

    @property
    def audit(self) -> list[CommandResult]:
        return list(self._audit)
