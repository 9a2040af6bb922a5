"""One case of `bench/publish`: the project's release with its regression, the crash captured
in production, and suture with the GitHub stand-in carrying it to a draft pull request."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.publish.hosts import Change, Host, start_host
from worker.demo.world import deliver, follow_run, webhook_body
from worker.models import RunState
from worker.settings import load_settings
from worker.web.server import free_port, serve_in_thread

HERE = Path(__file__).resolve().parent
SECRET = "bench-publish-secret"
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Outcome:
    """What one case showed, and which of its checks failed."""

    name: str
    host: str = "github"
    error_type: str = ""
    environment: str = ""
    state: str = ""
    replay: str = ""
    pulls: int = 0
    check: str = ""
    seconds: float = 0.0
    culprit: str = ""
    reviewers: list[str] = field(default_factory=list)
    tickets: int = 0
    timings: dict[str, float] = field(default_factory=dict)
    screenshots: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def git(repo: Path, *args: str, **env: str) -> str:
    """Run git in `repo`; its standard output."""
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True,
                          text=True, env={**os.environ, **env}).stdout.strip()


def plant_regression(mirror: Path, repo: Path, case: dict[str, Any]) -> str:
    """A clone of `mirror` at the case's release as `main`, with its regression committed on
    top; the new head."""
    subprocess.run(["git", "clone", "-q", "--no-checkout", str(mirror), str(repo)], check=True)
    git(repo, "checkout", "-q", "-B", "main", case["release"])
    regression = case["regression"]
    for cut in regression["remove"]:
        path = repo / cut["file"]
        path.write_text(_without(path.read_text(), cut["from"], cut["through"]))
    name, email = _author(case)
    identity = {"GIT_AUTHOR_NAME": name, "GIT_AUTHOR_EMAIL": email,
                "GIT_COMMITTER_NAME": name, "GIT_COMMITTER_EMAIL": email}
    git(repo, "commit", "-q", "-am", regression["message"], **identity)
    return git(repo, "rev-parse", "HEAD")


def _without(text: str, first: str, last: str) -> str:
    """`text` without the lines from the one equal to `first` through the next one equal to
    `last` (and one blank line after them)."""
    lines = text.splitlines(keepends=True)
    start = next(n for n, line in enumerate(lines) if line.rstrip("\n") == first)
    end = next(n for n in range(start, len(lines)) if lines[n].rstrip("\n") == last)
    if end + 1 < len(lines) and not lines[end + 1].strip():
        end += 1
    return "".join(lines[:start] + lines[end + 1:])


def capture_in_production(repo: Path, head: str, case: dict[str, Any],
                          folder: Path) -> tuple[int, dict[str, Any], float]:
    """Install the release into a production virtualenv with sentry-sdk and send the case's
    request through it; the answer's status, sentry-sdk's event and the install's seconds."""
    checkout, venv = folder / "production", folder / "production-venv"
    subprocess.run(["git", "clone", "-q", str(repo), str(checkout)], check=True)
    started = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = str(venv / "bin" / "python")
    subprocess.run([python, "-m", "pip", "install", "-q", str(checkout), "sentry-sdk[flask]"],
                   check=True, capture_output=True)
    installed = time.monotonic() - started
    request, out = case["request"], folder / "event.json"
    subprocess.run([python, str(HERE / "traffic.py"), str(out), head, case["app"],
                    request["method"], request["path"], request.get("query", "")],
                   check=True, cwd=checkout, env={"PYTHONPATH": str(checkout), "PATH": ""})
    captured = json.loads(out.read_text())
    return int(captured["status"]), captured["event"], installed


def settings_for(case: dict[str, Any], folder: Path, repo: Path, host: Host,
                 port: int) -> dict[str, Any]:
    """suture configured for the case's service as an operator would."""
    project = case["project"].split("/")[-1]
    email = _author(case)[1]
    return {
        **host.settings(),
        "database_url": f"sqlite:///{folder / 'suture.db'}", "data_dir": folder / "data",
        "broker_url": None,
        "correlate": {"logins": {email: email.split("@")[0]}},
        "sentry": {"client_secret": SECRET},
        "artifacts": {"public_url": f"http://127.0.0.1:{port}"},
        "services": [{"name": project, "sentry_project": project, "repository": str(repo),
                      "slug": case["project"], **case["service"]}],
    }


def _author(case: dict[str, Any]) -> tuple[str, str]:
    """(name, email) of the regression's author."""
    name, email = case["regression"]["author"].rstrip(">").split(" <")
    return name, email


def run_case(case: dict[str, Any], mirror: Path, folder: Path, timeout: float,
             kind: str = "github") -> Outcome:
    """Carry one case from its crash to its pull (or merge) request on a `kind` code host;
    what it showed."""
    outcome = Outcome(case["name"], host=kind)
    folder.mkdir(parents=True)
    repo = folder / "repo"
    head = plant_regression(mirror, repo, case)
    say(f"{case['name']}: {case['project']} at {case['release']} with the regression "
        f"{head[:12]} ({case['description']})")
    status, event, installed = capture_in_production(repo, head, case, folder)
    outcome.timings["production install"] = installed
    outcome.error_type = event["exception"]["values"][-1]["type"]
    say(f"  production: {case['request']['method']} {case['request']['path']}?"
        f"{case['request'].get('query', '')} answered {status}; sentry-sdk captured "
        f"{outcome.error_type} (event {event['event_id'][:12]})")
    _expect(outcome, status == 500, f"the request answered {status}, not 500")
    _expect(outcome, outcome.error_type == case["error_type"],
            f"captured {outcome.error_type}, not {case['error_type']}")
    _through_suture(case, folder, repo, event, timeout, outcome, kind)
    return outcome


def _through_suture(case: dict[str, Any], folder: Path, repo: Path, event: dict[str, Any],
                    timeout: float, outcome: Outcome, kind: str) -> None:
    name = case["project"].split("/")[-1]
    host = start_host(kind, folder, repo, case["project"], _author(case)[1].split("@")[0])
    from worker.app import build_app

    port = free_port()
    app = build_app(load_settings(None, **settings_for(case, folder, repo, host, port)))
    worker = app.worker(threads=2)
    worker.start()
    server, url = serve_in_thread(app.web(), port=port)
    try:
        body = webhook_body(event, name)
        first = deliver(url, body, SECRET)
        say(f"  webhook: HTTP {first.status_code}")
        run = follow_run(app, say, timeout=timeout)
        again = deliver(url, body, SECRET)
        say(f"  the same webhook again: HTTP {again.status_code}")
        changes = host.changes()
        for change in changes:
            say(f"  {kind} change #{change.number} (draft: {change.draft}) on {change.branch} at "
                f"{change.head[:12]}; reviewers: {', '.join(change.reviewers) or 'none'}")
            say("   " + "\n   ".join(change.body.splitlines()[:30]) + "\n   ...")
        _judge(outcome, run, changes, host, case.get("expect", "pull_request"))
    finally:
        server.should_exit = True
        worker.stop()
        app.close()
        host.stop()


def _judge(outcome: Outcome, run: Any, changes: list[Change], host: Host,
           expect: str) -> None:
    """Fill in what the run showed and check each part of what the case expects."""
    outcome.state, outcome.pulls = run.state.value, len(changes)
    tickets = host.tickets()
    outcome.tickets = len(tickets)
    if expect == "ticket":  # no verified fix: a ticket saying so, and no change at all
        _expect(outcome, run.state == RunState.TICKETED, f"the run ended {run.state.value}")
        _expect(outcome, not changes, f"{len(changes)} changes for an unverified fix")
        _expect(outcome, len(tickets) == 1 and "No patch passed verification" in tickets[0],
                f"{len(tickets)} tickets, not one saying no patch passed verification")
        return
    _expect(outcome, run.state == RunState.PROPOSED, f"the run ended {run.state.value}")
    _expect(outcome, len(changes) == 1, f"{len(changes)} pull requests, not 1")
    _expect(outcome, not tickets, f"{len(tickets)} tickets beside the change")
    fix = run.record.fix
    environment = fix.environment if fix else None
    if environment is not None:
        outcome.environment = (f"{environment.source}, built in "
                               f"{environment.build_seconds:.0f} s")
        outcome.timings["environment build"] = environment.build_seconds
    if fix and fix.bisection:
        outcome.culprit = fix.bisection.author or fix.bisection.reason
    _judge_preview(outcome, fix.preview if fix else None)
    if changes:
        change = changes[0]
        outcome.reviewers = change.reviewers
        _expect(outcome, change.draft, "the change is not a draft")
        _expect(outcome, host.branch_head(change.branch) == change.head,
                "the branch is not on the remote at the change's head")
        checks = host.checks()
        outcome.check = ", ".join(state for _, state in checks)
        _expect(outcome, [sha for sha, _ in checks] == [change.head],
                "no single check on the pushed head")
    published = run.record.publication.pull_request if run.record.publication else None
    if published:
        outcome.timings.update({f"publish: {t.step}": t.seconds for t in published.timings})


def _judge_preview(outcome: Outcome, preview: Any) -> None:
    replay = preview.replay if preview else None
    _expect(outcome, replay is not None, f"no replay: {preview}")
    if preview is None or replay is None:
        return
    outcome.replay = f"{replay.base.status} → {replay.fix.status}"
    _expect(outcome, replay.base.status == 500 and replay.fix.status < 500,
            f"the replay gave base {replay.base.status}, fix {replay.fix.status}")
    outcome.timings.update({t.step: t.seconds for t in preview.timings})
    for shot in preview.screenshots:
        _expect(outcome, Path(shot.path).read_bytes().startswith(PNG), f"{shot.path} is not a PNG")
        outcome.screenshots.append(f"{shot.label}: {shot.path} ({shot.width}x{shot.height})")
    _expect(outcome, len(preview.screenshots) == 2,
            f"{len(preview.screenshots)} screenshots, not 2")


def _expect(outcome: Outcome, holds: bool, failure: str) -> None:
    if not holds:
        outcome.failed.append(failure)


def say(line: str) -> None:
    """Print a line at once."""
    print(line, flush=True)
