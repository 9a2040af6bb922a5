"""End to end over real processes: `suture web` and `suture worker` on PostgreSQL, once on Redis
and once on RabbitMQ.

A signed webhook goes into the web process, the worker process files the ticket on the GitHub
stand-in (PyGithub over HTTP), and the store is PostgreSQL. The crash test `kill -9`s the worker
while its ticket request is in flight, restarts it, and checks the run completes exactly once.
"""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from integrations.standins.base import recorded
from integrations.standins.github import GitHubStandIn
from tests.brokers import BROKERS, broker_environment
from tests.conftest import _reset_postgres
from tests.processes import Processes, free_port, wait_until
from tests.support import SECRET, compact, sentry_headers
from worker.models import RunState
from worker.store import SqlStore

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]
TOKEN = "process-test-token"


class Stack:
    """The processes of one test and the means to look at them."""

    def __init__(self, tmp_path: Path, database_url: str, github: GitHubStandIn,
                 broker: dict[str, str]) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.children = Processes(tmp_path, {
            **os.environ,
            "SUTURE_DATABASE_URL": database_url,
            **broker,
            "SUTURE_STUCK_AFTER_SECONDS": "8",
            "SUTURE_PUBLISH_LEASE_SECONDS": "8",
            # A killed worker's hold on its run lasts this long (the default is a minute): the
            # restarted worker's publish waits it out before taking the run over.
            "SUTURE_RUN_LEASE_SECONDS": "6",
            # The runs go straight to a ticket: building the repository's environment for a
            # fix no agent would make is not what these tests are about, and takes minutes.
            "SUTURE_FIX__ENABLED": "false",
            "SUTURE_FORGE": "github",
            "SUTURE_GITHUB__BASE_URL": github.url,
            "SUTURE_GITHUB__TOKEN": TOKEN,
            "SUTURE_SENTRY__CLIENT_SECRET": SECRET,
            "SUTURE_PORT": str(self.port),
            "SUTURE_SERVICES": '[{"name": "shop", "sentry_project": "front-end", '
                               '"repository": ".", "slug": "acme/shop"}]',
        })
        self.store = SqlStore(database_url)
        self.store.migrate()

    def start(self, command: str) -> subprocess.Popen[bytes]:
        """`suture <command>` in a session of its own."""
        return self.children.start("worker.cli", command)

    def start_web(self) -> None:
        """`suture web`, returned once healthy."""
        self.children.start_web(self.url, 30)

    def stop(self) -> None:
        """Stop every process and close the store."""
        self.children.stop()
        self.store.close()

    def post(self, body: bytes, **kwargs: object) -> httpx.Response:
        """A signed (or, with `secret`, wrongly signed) Sentry webhook into the web process."""
        return httpx.post(f"{self.url}/hooks/sentry", content=body,
                          headers=sentry_headers(body, **kwargs), timeout=10)

    def runs(self) -> list:
        """Every run the store holds."""
        return self.store.list_runs()


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    standin = GitHubStandIn(token=TOKEN)
    standin.add_repo("acme", "shop")
    standin.start()
    yield standin
    standin.stop()


@pytest.fixture(params=BROKERS)
def broker(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment of a Redis or a RabbitMQ broker of this test's own."""
    with broker_environment(request.param) as environment:
        yield environment


@pytest.fixture
def stack(tmp_path, postgres_database, github, broker) -> Iterator[Stack]:
    _reset_postgres(postgres_database)
    processes = Stack(tmp_path, postgres_database, github, broker)
    yield processes
    processes.stop()


def alert() -> bytes:
    return compact(recorded("sentry/webhook-event-alert-triggered.json"))


def test_signed_webhook_makes_exactly_one_ticket_and_replays_make_none(stack, github):
    stack.start_web()
    stack.start("worker")
    body = alert()
    bad = stack.post(body, secret="not-the-secret")
    assert bad.status_code == 401
    assert stack.store.count_deliveries() == 0
    first = stack.post(body)
    assert first.status_code == 202, first.text
    wait_until(lambda: any(run.state == RunState.TICKETED for run in stack.runs()), 60,
               "the ticket")
    again = stack.post(body)
    assert again.status_code == 200 and again.json()["duplicate"] is True
    time.sleep(1)  # give a wrongly re-enqueued message the chance to show itself
    issues = github.issues("acme", "shop")
    assert len(issues) == 1
    assert "suture:ticket:" in issues[0]["body"]
    assert [run.state for run in stack.runs()] == [RunState.TICKETED]
    assert stack.store.count_deliveries() == 1


def test_a_worker_killed_mid_publish_completes_the_run_once_after_restart(stack, github):
    github.slow("POST", r"/repos/acme/shop/issues", 3.0)
    stack.start_web()
    worker = stack.start("worker")
    assert stack.post(alert()).status_code == 202
    wait_until(lambda: any(call.method == "POST" and call.path.endswith("/issues")
                           for call in github.calls), 60, "the ticket request")
    os.killpg(worker.pid, signal.SIGKILL)
    worker.wait(timeout=10)
    run = stack.runs()[0]
    assert run.state == RunState.PUBLISHING
    stack.start("worker")
    wait_until(lambda: stack.runs()[0].state == RunState.TICKETED, 90, "the run to complete")
    time.sleep(2)  # both the broker's redelivery and the reconciler may fire: neither may duplicate
    assert len(github.issues("acme", "shop")) == 1
    assert stack.store.count_publications("ticket") == 1
    ticketed = [t for t in stack.store.transitions(run.id) if t.to_state == RunState.TICKETED]
    assert len(ticketed) == 1
