"""The demo's world around suture, for any repository: a GitHub App on the stand-in, Sentry's
webhook for a captured event, following a run as it goes, and what the pull request shows.

`suture demo` uses it with the sample shop; `bench/publish/` with public projects."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from integrations.standins.github import GitHubStandIn
from worker.scrub import scrub_text
from worker.store.history import TransitionEntry
from worker.tail import drain
from worker.web.signatures import sentry_signature


def app_key(github: GitHubStandIn, repo: str, app_id: int, installation: int) -> str:
    """A new RSA key for a GitHub App installed on `repo` (owner/name), registered with the
    stand-in; its private key in PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    github.add_app(app_id, public.decode(), installation, [repo])
    return key.private_bytes(serialization.Encoding.PEM,
                             serialization.PrivateFormat.TraditionalOpenSSL,
                             serialization.NoEncryption()).decode()


def webhook_body(event: dict[str, Any], project: str, issue_id: str = "4201") -> bytes:
    """Sentry's `event_alert` envelope around the event of `project`, serialised compactly as
    Sentry does."""
    event = {**event, "issue_id": issue_id, "project": project,
             "web_url": f"https://sentry.example/organizations/acme/issues/{issue_id}/events/"
                        f"{event['event_id']}/"}
    envelope = {"action": "triggered", "installation": {"uuid": "demo-installation"},
                "data": {"event": event, "triggered_rule": f"New errors in {project}"},
                "actor": {"type": "application", "id": "sentry", "name": "Sentry"}}
    return json.dumps(envelope, separators=(",", ":")).encode()


def deliver(url: str, body: bytes, secret: str) -> httpx.Response:
    """POST `body` to suture's Sentry webhook at `url`, signed with `secret`."""
    headers = {"Content-Type": "application/json", "Sentry-Hook-Resource": "event_alert",
               "Sentry-Hook-Timestamp": str(int(time.time())),
               "Sentry-Hook-Signature": sentry_signature(body, secret)}
    return httpx.post(f"{url}/hooks/sentry", content=body, headers=headers, timeout=10)


def follow_run(app: Any, say: Callable[[str], None], timeout: float) -> Any:
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


def show_pull(github: GitHubStandIn, repo: str, pull: dict[str, Any], run: Any,
              say: Callable[[str], None]) -> None:
    """One pull request on `repo`: where it is, its branch on the bare remote, the replay, the
    screenshots, the evidence on its head commit, and how long each publishing step took."""
    owner, name = repo.split("/")
    head = github.git.branches(repo).get(pull["head"]["ref"], "")
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
