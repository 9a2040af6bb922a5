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
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.standins.github import GitHubStandIn
from worker.demo.sample import build_sample_repo, capture_crash
from worker.models import RunState
from worker.scrub import scrub_text
from worker.settings import load_settings
from worker.store.history import TransitionEntry
from worker.tail import drain
from worker.web.server import free_port, serve_in_thread
from worker.web.signatures import sentry_signature

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
    key_file.write_text(_app_key(github))
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
        body = _webhook_body(event)
        first = _deliver(url, body)
        say(f"4. signed Sentry webhook delivered: HTTP {first.status_code} {first.json()}")
        run = _follow_run(app, say, timeout=120)
        environment = run.record.fix.environment if run.record.fix else None
        if environment is not None and environment.key:
            how = ("reused" if environment.reused
                   else f"built in {environment.build_seconds:.1f} s")
            say(f"   the shop's tests ran in its own environment ({environment.source}; {how})")
        second = _deliver(url, body)
        say(f"5. the same webhook again: HTTP {second.status_code} {second.json()}")
        bad = _deliver(url, body, secret="wrong-secret")
        say(f"6. a webhook with a bad signature: HTTP {bad.status_code} {bad.json()}")
        pulls = github.pulls(*REPO.split("/"))
        say(f"7. draft pull requests on the GitHub stand-in for {REPO}: {len(pulls)}")
        for pull in pulls:
            _show_pull(github, pull, run, say)
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


def _show_pull(github: GitHubStandIn, pull: dict[str, Any], run: Any,
               say: Callable[[str], None]) -> None:
    """One pull request: where it is, its branch on the bare remote, the replay, the
    screenshots, the evidence on its head commit, and how long each publishing step took."""
    owner, name = REPO.split("/")
    head = github.git.branches(REPO).get(pull["head"]["ref"], "")
    say(f"   #{pull['number']} (draft) {pull['title']}\n   {pull['html_url']}")
    say(f"   branch {pull['head']['ref']} pushed to the bare remote at {head[:12]}; "
        f"reviewers: {', '.join(u['login'] for u in pull['requested_reviewers']) or 'none'}; "
        f"labels: {', '.join(label['name'] for label in pull['labels'])}")
    for check in github.check_runs(owner, name):
        say(f"   check run {check['name']!r} on {check['head_sha'][:12]}: {check['conclusion']}, "
            f"{len(check['output']['text'])} characters of logs; full logs at "
            f"{check['details_url']}")
    for status in github.statuses(owner, name):
        say(f"   commit status {status['context']!r}: {status['state']}")
    preview = run.record.fix.preview if run.record.fix else None
    if preview and preview.replay:
        replay = preview.replay
        say(f"   replayed {replay.request.method} {replay.request.path}?{replay.request.query}: "
            f"base {replay.base.status} in {replay.base.seconds:.2f} s, fix "
            f"{replay.fix.status} in {replay.fix.seconds:.2f} s: {replay.verdict}")
        for shot in preview.screenshots:
            served = httpx.get(shot.url, timeout=10)
            say(f"   screenshot of the {shot.label} preview: {shot.path} ({shot.width}x"
                f"{shot.height}), linked as {shot.url} (served: {served.status_code} "
                f"{served.headers.get('content-type')})")
        say("   preview steps: " + ", ".join(f"{t.step} {t.seconds:.2f} s"
                                            for t in preview.timings))
    elif preview:
        say(f"   no preview replay: {preview.failure or preview.no_replay}")
    published = run.record.publication.pull_request if run.record.publication else None
    if published:
        say("   publishing steps: " + ", ".join(f"{t.step} {t.seconds:.2f} s"
                                               for t in published.timings))
    say("   " + "\n   ".join(pull["body"].splitlines()[:40]) + "\n   ...")


def _app_key(github: GitHubStandIn) -> str:
    """A new RSA key for the demo's GitHub App, registered with the stand-in; its private key
    in PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    github.add_app(APP_ID, public.decode(), APP_INSTALLATION, [REPO])
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


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


def _follow_run(app: Any, say: Callable[[str], None], timeout: float) -> Any:
    """Say each transition of the run as it is made, until the run is done; the run."""
    deadline = time.monotonic() + timeout
    seen = 0

    def show(entry: TransitionEntry) -> None:
        say(f"   run {entry.run_id}: {entry.from_state or '-'} -> {entry.to_state.value}: "
            f"{scrub_text(entry.reason)}")

    while time.monotonic() < deadline:
        seen = drain(app.store, show, seen)
        runs = app.store.list_runs()
        if runs and runs[0].state.terminal:
            drain(app.store, show, seen)  # made between the last look and the run's end
            return runs[0]
        time.sleep(0.1)
    raise TimeoutError("the run did not finish in time")
