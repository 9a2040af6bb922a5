"""Scale-out over real processes: `suture web`, `suture scheduler` and N `suture worker`
processes on one broker (Redis or RabbitMQ) and one PostgreSQL database, fed M distinct Sentry
clusters through signed webhooks, each ending as a ticket on the GitHub stand-in.

What is checked is exactly-once, from the outside: every run entered each state once (its
transitions), and the stand-in received one issue per cluster. What is measured is runs completed
per second from the first webhook to the last ticket, with every worker already up.
"""

from __future__ import annotations

import copy
import json
import os
import re
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from integrations.standins.base import recorded
from integrations.standins.github import GitHubStandIn
from tests.processes import ROOT, Processes, free_port, healthy, wait_until
from worker.models import RunState
from worker.store import SqlStore
from worker.web.signatures import sentry_signature

TOKEN = "scaleout-token"
SECRET = "scaleout-client-secret"
MARKER = re.compile(r"suture:ticket:[\w:-]+")


@dataclass
class Outcome:
    """One measured round: how many clusters, workers and runs, how long, and what repeated."""

    broker: str
    workers: int
    clusters: int
    runs: int
    tickets: int
    markers: int
    seconds: float
    accept_seconds: float
    repeated_states: list[str]
    repeated_tickets: list[str]
    cpu_seconds: float = 0.0

    @property
    def cpu_per_run(self) -> float:
        """CPU seconds suture's processes (and the git they ran) spent per run completed."""
        return self.cpu_seconds / self.runs if self.runs else 0.0

    @property
    def per_second(self) -> float:
        """Runs completed per second, first webhook to last ticket."""
        return self.runs / self.seconds if self.seconds else 0.0


def webhook(index: int) -> bytes:
    """A signed-ready Sentry alert webhook whose event forms a cluster of its own: its
    exception type and every frame's function name carry `index`."""
    payload: dict[str, Any] = copy.deepcopy(recorded("sentry/webhook-event-alert-triggered.json"))
    event = payload["data"]["event"]
    kind = f"ScaleOutError{index:05d}"
    event["event_id"] = uuid.uuid4().hex
    event["issue_id"] = str(9_000_000 + index)
    event["metadata"]["type"] = kind
    for exception in event["exception"]["values"]:
        exception["type"] = kind
        for number, frame in enumerate(exception["stacktrace"]["frames"]):
            frame["function"] = f"handler_{index}_{number}"
            frame["filename"] = f"app/handlers_{index}.js"
            frame["in_app"] = True
    return json.dumps(payload, separators=(",", ":")).encode()


class Deployment:
    """The processes of one round, their logs, and the store and stand-in they share."""

    def __init__(self, logs: Path, database_url: str, broker: dict[str, str],
                 github: GitHubStandIn, worker_threads: int = 4, forge: str = "github") -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.logs = logs
        self.threads = worker_threads
        self.forge = forge
        self.github = github
        self.tickets_dir = logs / "tickets"
        self.env = {
            **os.environ, **broker,
            "PYTHONPATH": str(ROOT),
            "SUTURE_DATABASE_URL": database_url,
            "SUTURE_FIX__ENABLED": "false",  # no agents: each cluster becomes a ticket
            "SUTURE_FORGE": forge,
            "SUTURE_GITHUB__BASE_URL": github.url,
            "SUTURE_GITHUB__TOKEN": TOKEN,
            "SUTURE_SENTRY__CLIENT_SECRET": SECRET,
            "SUTURE_PORT": str(self.port),
            "SUTURE_DATA_DIR": str(logs / "data"),
            "SUTURE_TICKETS_DIR": str(self.tickets_dir),
            "SUTURE_SERVICES": '[{"name": "shop", "sentry_project": "front-end", '
                               '"repository": ".", "slug": "acme/shop"}]',
        }
        self.children = Processes(logs, self.env)
        self.worker_logs: list[Path] = []
        self.store = SqlStore(database_url)
        self.store.migrate()

    @property
    def procs(self) -> list[subprocess.Popen[bytes]]:
        """Every process started, in order."""
        return self.children.procs

    def start(self, *command: str) -> subprocess.Popen[bytes]:
        """`suture <command>` in a session of its own, logging to a file."""
        proc = self.children.start("worker.cli", *command)
        if command[0] == "worker":
            self.worker_logs.append(self.children.paths[-1])
        return proc

    def up(self, workers: int) -> None:
        """Web, scheduler and `workers` workers, returning once every one of them is ready."""
        self.start("web")
        self.start("scheduler")
        wait_until(lambda: healthy(self.url), 120, "the web process")
        self.add_workers(workers)

    def add_workers(self, workers: int) -> None:
        """Start `workers` more workers at once; return when every worker is ready."""
        for _ in range(workers):
            self.start("worker", "--threads", str(self.threads))
        wait_until(lambda: all(b"worker started" in path.read_bytes()
                               for path in self.worker_logs), 180, "every worker")
        for proc in self.procs:
            assert proc.poll() is None, f"{proc.args} exited with {proc.returncode}"

    def post(self, body: bytes) -> None:
        """Send one signed webhook; AssertionError unless it is accepted."""
        headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": "event_alert",
                   "Sentry-Hook-Timestamp": str(int(time.time())),
                   "Sentry-Hook-Signature": sentry_signature(body, SECRET)}
        response = httpx.post(f"{self.url}/hooks/sentry", content=body, headers=headers,
                              timeout=60)
        assert response.status_code == 202, response.text

    def tickets(self) -> list[str]:
        """The text of every ticket filed: issues at the GitHub stand-in, or Markdown files."""
        if self.forge == "files":
            return [path.read_text() for path in sorted(self.tickets_dir.rglob("*.md"))]
        return [issue["body"] for issue in self.github.issues("acme", "shop")]

    def cpu_seconds(self) -> float:
        """CPU time the processes have used so far, their waited-for children (git) included."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0
        for proc in self.procs:
            try:
                fields = Path(f"/proc/{proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # after the command name: state is field 3, utime..cstime are fields 14..17
            total += sum(int(value) for value in fields[11:15])
        return total / ticks

    def stop(self) -> None:
        """SIGTERM every process, SIGKILL what does not stop, close logs and the store."""
        self.children.stop(grace=20)
        self.store.close()


def measure(deployment: Deployment, broker: str, workers: int, clusters: int,
            timeout: float = 900, backlog: bool = False) -> Outcome:
    """Post `clusters` distinct webhooks at once, wait for every run to be ticketed, then
    check that nothing happened twice.

    With `backlog`, the deployment has no worker yet: every webhook is accepted first, then
    `workers` workers start together, and the time is the store's, from the first run's first
    transition to the last ticket (the web's pace is then out of it)."""
    bodies = [webhook(index) for index in range(clusters)]
    cpu_before = deployment.cpu_seconds()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(deployment.post, bodies))
    accepted = time.monotonic() - started
    if backlog:
        wait_until(lambda: deployment.store.count_deliveries() >= clusters, 60, "deliveries")
        deployment.add_workers(workers)
        # after the workers' start-up (imports, migrations check), which is not per-run work
        cpu_before = deployment.cpu_seconds()

    def done() -> bool:
        runs = deployment.store.list_runs()
        return len(runs) >= clusters and all(run.state == RunState.TICKETED for run in runs)

    wait_until(done, timeout, f"{clusters} tickets")
    finished = time.monotonic()
    cpu = deployment.cpu_seconds() - cpu_before
    time.sleep(2)  # a message wrongly delivered twice gets the chance to show itself
    runs = deployment.store.list_runs()
    repeated: list[str] = []
    moments = []
    for run in runs:
        history = deployment.store.transitions(run.id)
        entries = Counter(t.to_state for t in history)
        repeated += [f"run {run.id}: {state} x{n}" for state, n in entries.items() if n > 1]
        moments += [t.at for t in history]
    seconds = finished - started
    if backlog:
        seconds = (max(moments) - min(moments)).total_seconds()
    issues = deployment.tickets()
    # a ticket may carry its marker more than once (front matter and body): count tickets
    markers = Counter(marker for text in issues for marker in set(MARKER.findall(text)))
    return Outcome(broker=broker, workers=workers, clusters=clusters, runs=len(runs),
                   tickets=len(issues), markers=len(markers), seconds=seconds,
                   accept_seconds=accepted, repeated_states=repeated,
                   repeated_tickets=[marker for marker, n in markers.items() if n > 1],
                   cpu_seconds=cpu)


@contextmanager
def github_standin() -> Iterator[GitHubStandIn]:
    """The GitHub stand-in with the one repository the tickets go to."""
    standin = GitHubStandIn(token=TOKEN)
    standin.add_repo("acme", "shop")
    standin.start()
    try:
        yield standin
    finally:
        standin.stop()

