"""The demo's steps; see `worker.demo` for what it shows."""

from __future__ import annotations

import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from integrations.standins.github import GitHubStandIn
from worker.demo.sample import build_sample_repo, capture_crash
from worker.demo.world import app_key, deliver, follow_run, show_pull, webhook_body
from worker.models import RunState
from worker.settings import load_settings
from worker.web.server import free_port, serve_in_thread

SECRET = "demo-client-secret"
TOKEN = "demo-github-token"
REPO = "acme/shop"
APP_ID, APP_INSTALLATION = 1001, 2002
# The shop's authors (by commit email) and their logins on the code host: its reviewers.
LOGINS = {"ada@shop.example": "ada", "grace@shop.example": "grace",
          "katherine@shop.example": "katherine", "alan@shop.example": "alan"}
# How the shop runs as a preview: its WSGI app on the standard library's server.
PREVIEW = ("python -c \"from wsgiref.simple_server import make_server; from shop.web import app;"
           " make_server('127.0.0.1', {port}, app).serve_forever()\"")


def say_now(line: str) -> None:
    """Print a line at once, even when standard output is a pipe."""
    print(line, flush=True)


def run_demo(keep: bool = False, say: Callable[[str], None] = say_now) -> int:
    """Run the demo, saying each step as it happens; returns the process exit status."""
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
    github = GitHubStandIn(token=TOKEN, git_root=workdir / "remote")
    github.add_repo(*REPO.split("/"))
    github.start()
    owner, name = REPO.split("/")
    github.seed_repo(owner, name, repo.path)
    for login in LOGINS.values():
        github.add_collaborator(owner, name, login)
    # suture acts as a GitHub App: a token minted per job for the one repository, and the
    # verification's logs on a check run.
    key_file = workdir / "app.pem"
    key_file.write_text(app_key(github, REPO, APP_ID, APP_INSTALLATION))
    from worker.app import build_app

    port = free_port()  # known before the settings, so evidence links point at this server
    settings = load_settings(None, **_demo_settings(workdir, github.url, repo.path, key_file),
                             artifacts={"public_url": f"http://127.0.0.1:{port}"})
    app = build_app(settings)
    worker = app.worker(threads=2)
    worker.start()
    server, url = serve_in_thread(app.web(), port=port)
    try:
        say(f"3. suture is running at {url} (web + worker, in-memory broker, SQLite); GitHub "
            f"stand-in at {github.url}")
        body = webhook_body(event, "shop")
        first = deliver(url, body, SECRET)
        say(f"4. signed Sentry webhook delivered: HTTP {first.status_code} {first.json()}")
        run = follow_run(app, say, timeout=120)
        environment = run.record.fix.environment if run.record.fix else None
        if environment is not None and environment.key:
            how = ("reused" if environment.reused
                   else f"built in {environment.build_seconds:.1f} s")
            say(f"   the shop's tests ran in its own environment ({environment.source}; {how})")
        second = deliver(url, body, SECRET)
        say(f"5. the same webhook again: HTTP {second.status_code} {second.json()}")
        bad = deliver(url, body, "wrong-secret")
        say(f"6. a webhook with a bad signature: HTTP {bad.status_code} {bad.json()}")
        pulls = github.pulls(*REPO.split("/"))
        say(f"7. draft pull requests on the GitHub stand-in for {REPO}: {len(pulls)}")
        for pull in pulls:
            show_pull(github, REPO, pull, run, say)
        elapsed = time.monotonic() - started
        verified = any(t.to_state == RunState.VERIFIED for t in app.store.transitions(run.id))
        preview = run.record.fix.preview if run.record.fix else None
        replayed = bool(preview and preview.replay and preview.replay.confirms_fix)
        ok = (len(pulls) == 1 and pulls[0]["draft"] and run.state == RunState.PROPOSED
              and bad.status_code == 401 and verified and replayed)
        say(f"demo {'succeeded' if ok else 'FAILED'} in {elapsed:.1f} s")
        return 0 if ok else 1
    finally:
        server.should_exit = True
        worker.stop()
        app.close()
        github.stop()


def _demo_settings(workdir: Path, github_url: str, repo_path: Path,
                   key_file: Path) -> dict[str, Any]:
    return {
        "database_url": f"sqlite:///{workdir / 'suture.db'}",
        "data_dir": workdir / "data",
        "broker_url": None,
        "forge": "github",
        "code_host": "github",
        "github": {"base_url": github_url, "token": TOKEN, "app_id": APP_ID,
                   "app_private_key_file": str(key_file)},
        "correlate": {"logins": LOGINS},
        "sentry": {"client_secret": SECRET},
        "services": [{"name": "shop", "sentry_project": "shop", "repository": str(repo_path),
                      "slug": REPO, "language": "python", "test_command": "python -m pytest -q",
                      "preview": {"command": PREVIEW, "health_path": "/cart/total"}}],
    }


