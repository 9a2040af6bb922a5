"""`suture web --workers N`: how many processes, and a real two-process server on PostgreSQL
and Redis storing what it acknowledges."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

from integrations.standins.base import recorded
from tests.support import SECRET, compact, make_settings, sentry_headers
from worker.store import SqlStore
from worker.web.serve import worker_count
from worker.web.server import free_port

ROOT = Path(__file__).resolve().parents[1]


def test_the_number_of_web_processes(tmp_path, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda _pid: {0, 1, 2}, raising=False)
    shared = make_settings(tmp_path, broker_url="redis://127.0.0.1:6379/0")
    assert worker_count(shared, None) == 3
    assert worker_count(shared, 2) == 2
    pinned = make_settings(tmp_path, broker_url="redis://127.0.0.1:6379/0",
                           intake={"workers": 5})
    assert worker_count(pinned, None) == 5
    # the in-memory broker lives in one process: its messages would be lost in the others
    assert worker_count(make_settings(tmp_path), 4) == 1


@pytest.mark.postgres
def test_two_web_processes_store_every_webhook_they_acknowledge(postgres_database, tmp_path):
    from tests.conftest import _reset_postgres

    _reset_postgres(postgres_database)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "SUTURE_DATABASE_URL": postgres_database,
           "SUTURE_BROKER_URL": "redis://127.0.0.1:6379/0",
           "SUTURE_BROKER__NAMESPACE": f"test-{uuid.uuid4().hex[:8]}",
           "SUTURE_SENTRY__CLIENT_SECRET": SECRET, "SUTURE_PORT": str(port),
           "SUTURE_DATA_DIR": str(tmp_path / "data"), "SUTURE_TICKETS_DIR": str(tmp_path)}
    server = subprocess.Popen([sys.executable, "-m", "worker.cli", "web", "--workers", "2"],
                              env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 240  # each process imports and wires all of suture
        while True:
            assert server.poll() is None, server.stdout.read().decode()[-2000:]  # type: ignore[union-attr]
            try:
                if httpx.get(base + "/healthz", timeout=2).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "suture web did not come up"
            time.sleep(0.5)
        accepted = set()
        with httpx.Client(base_url=base, timeout=30) as client:
            for n in range(40):
                payload = recorded("sentry/webhook-event-alert-triggered.json")
                payload["data"]["event"]["event_id"] = f"{n:032x}"
                body = compact(payload)
                response = client.post("/hooks/sentry", content=body,
                                       headers=sentry_headers(body))
                assert response.status_code == 202, response.text
                accepted.add(response.json()["delivery"])
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        output = server.communicate(timeout=60)[0].decode()
    store = SqlStore(postgres_database)
    try:
        assert store.count_deliveries() == len(accepted) == 40
    finally:
        store.close()
    started = {line.split("[")[1].split("]")[0] for line in output.splitlines()
               if "Started server process" in line}
    assert len(started) == 2, output[-2000:]
