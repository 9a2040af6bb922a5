"""The demo's steps; see `worker.demo` for what it shows."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from integrations.standins.github import GitHubStandIn
from worker.demo.sample import build_sample_repo, capture_crash
from worker.models import RunState
from worker.settings import load_settings
from worker.web.server import serve_in_thread
from worker.web.signatures import sentry_signature

SECRET = "demo-client-secret"
TOKEN = "demo-github-token"
REPO = "acme/shop"


def run_demo(keep: bool = False, say: Callable[[str], None] = print) -> int:
    """Run the demo; returns the process exit status."""
    started = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="suture-demo-"))
    try:
        return _demo(workdir, say, started)
    finally:
        if keep:
            say(f"kept the demo's files in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)


def _demo(workdir: Path, say: Callable[[str], None], started: float) -> int:
    repo = build_sample_repo(workdir / "shop")
    say(f"1. sample app: git repository with {len(repo.commits)} commits at {repo.path.name}/, "
        f"release {repo.head[:12]}")
    event = capture_crash(repo)
    exc = event["exception"]["values"][-1]
    say(f"2. production request GET /cart/average?cart=empty crashed: {exc['type']}: "
        f"{exc['value']} (captured by sentry-sdk as event {event['event_id'][:12]})")
    github = GitHubStandIn(token=TOKEN)
    github.add_repo(*REPO.split("/"))
    github.start()
    from worker.app import build_app

    settings = load_settings(None, **_demo_settings(workdir, github.url, repo.path))
    app = build_app(settings)
    worker = app.worker(threads=2)
    worker.start()
    server, url = serve_in_thread(app.web())
    try:
        say(f"3. suture is running at {url} (web + worker, in-memory broker, SQLite); GitHub "
            f"stand-in at {github.url}")
        body = _webhook_body(event)
        first = _deliver(url, body)
        say(f"4. signed Sentry webhook delivered: HTTP {first.status_code} {first.json()}")
        run = _wait_for_run(app, timeout=120)
        for step in app.store.transitions(run.id):
            say(f"   run {run.id}: {step.from_state or '-'} -> {step.to_state.value}: "
                f"{step.reason}")
        environment = run.record.fix.environment if run.record.fix else None
        if environment is not None and environment.key:
            how = ("reused" if environment.reused
                   else f"built in {environment.build_seconds:.1f} s")
            say(f"   the shop's tests ran in its own environment ({environment.source}; {how})")
        second = _deliver(url, body)
        say(f"5. the same webhook again: HTTP {second.status_code} {second.json()}")
        bad = _deliver(url, body, secret="wrong-secret")
        say(f"6. a webhook with a bad signature: HTTP {bad.status_code} {bad.json()}")
        issues = github.issues(*REPO.split("/"))
        say(f"7. tickets on the GitHub stand-in for {REPO}: {len(issues)}")
        for issue in issues:
            say(f"   #{issue['number']} {issue['title']}\n   {issue['html_url']}")
            say("   " + "\n   ".join(issue["body"].splitlines()))
        elapsed = time.monotonic() - started
        verified = any(t.to_state == RunState.VERIFIED for t in app.store.transitions(run.id))
        ok = (len(issues) == 1 and run.state == RunState.TICKETED and bad.status_code == 401
              and verified)
        say(f"demo {'succeeded' if ok else 'FAILED'} in {elapsed:.1f} s")
        return 0 if ok else 1
    finally:
        server.should_exit = True
        worker.stop()
        app.close()
        github.stop()


def _demo_settings(workdir: Path, github_url: str, repo_path: Path) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{workdir / 'suture.db'}",
        "data_dir": workdir / "data",
        "broker_url": None,
        "forge": "github",
        "github": {"base_url": github_url, "token": TOKEN},
        "sentry": {"client_secret": SECRET},
        "services": [{"name": "shop", "sentry_project": "shop", "repository": str(repo_path),
                      "slug": REPO, "language": "python", "test_command": "python -m pytest -q"}],
    }


def _webhook_body(event: dict[str, Any]) -> bytes:
    """Sentry's `event_alert` envelope around the event, serialised compactly as Sentry does."""
    event = {**event, "issue_id": "4201", "project": "shop",
             "web_url": "https://sentry.example/organizations/acme/issues/4201/events/"
                        f"{event['event_id']}/"}
    envelope = {"action": "triggered", "installation": {"uuid": "demo-installation"},
                "data": {"event": event, "triggered_rule": "New errors in shop"},
                "actor": {"type": "application", "id": "sentry", "name": "Sentry"}}
    return json.dumps(envelope, separators=(",", ":")).encode()


def _deliver(url: str, body: bytes, secret: str = SECRET) -> httpx.Response:
    headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": "event_alert",
               "Sentry-Hook-Timestamp": str(int(time.time())),
               "Sentry-Hook-Signature": sentry_signature(body, secret)}
    return httpx.post(f"{url}/hooks/sentry", content=body, headers=headers, timeout=10)


def _wait_for_run(app: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = app.store.list_runs()
        if runs and runs[0].state.terminal:
            return runs[0]
        time.sleep(0.1)
    raise TimeoutError("the run did not finish in time")
