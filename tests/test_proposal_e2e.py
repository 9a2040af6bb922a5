"""End to end: a signed Sentry webhook for a crash in the sample shop becomes exactly one draft
pull (merge) request on the GitHub and on the GitLab stand-in, with a real push, a verified fix,
the failing request replayed on local previews of the base and the fix, screenshots of both,
the verification evidence on the head commit and the owners asked to review.

Real sentry-sdk event, real bubblewrap sandbox with the shop's own environment, real git over
smart HTTP into bare repositories, real Chromium; the in-memory broker and SQLite."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from integrations.standins.sentry import SentryStandIn
from tests.proposal_hosts import LOGINS, REPO, start_host
from tests.support import SECRET, compact, drain, make_app, sentry_headers, served
from worker.demo.sample import build_sample_repo, capture_crash
from worker.models import RunState

pytestmark = [pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing"),
              pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is missing")]

PREVIEW = ("python -c \"from wsgiref.simple_server import make_server; from shop.web import app;"
           " make_server('127.0.0.1', {port}, app).serve_forever()\"")
PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    return build_sample_repo(tmp_path_factory.mktemp("sample") / "shop")


def webhook(shop) -> bytes:
    event = capture_crash(shop, path="/cart/average", query="cart=empty")
    event = {**event, "issue_id": "4201", "project": "shop"}
    return compact({"action": "triggered", "installation": {"uuid": "e2e"},
                    "data": {"event": event, "triggered_rule": "New errors in shop"},
                    "actor": {"type": "application", "id": "sentry", "name": "Sentry"}})


def settings_for(shop, tmp_path: Path, host, sentry: SentryStandIn) -> dict:
    return {**host.settings(), "data_dir": tmp_path / "data",
            "sentry": {"client_secret": SECRET, "base_url": sentry.url, "org": sentry.org,
                       "token": sentry.token, "projects": ["shop"]},
            "artifacts": {"public_url": "http://suture.example"},
            "correlate": {"logins": LOGINS},
            "services": [{"name": "shop", "sentry_project": "shop",
                          "repository": str(shop.path), "slug": REPO,
                          "test_command": "python -m pytest -q",
                          "preview": {"command": PREVIEW, "health_path": "/cart/total"}}]}


@pytest.mark.parametrize("kind", ["github", "gitlab"])
def test_a_signed_webhook_becomes_one_draft_change_with_its_evidence(shop, tmp_path, kind):
    # On GitHub as an App: its installation token pushes, and the logs go to a check run.
    host = start_host(kind, tmp_path / "host", shop.path, app=kind == "github")
    sentry = SentryStandIn(seed=False).start()
    sentry.add_issue({"id": "4201", "shortId": "SHOP-1", "title": "ZeroDivisionError"})
    app = make_app(tmp_path, settings=settings_for(shop, tmp_path, host, sentry))
    try:
        body = webhook(shop)
        with served(app) as client:
            accepted = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
            assert accepted.status_code in (200, 202), accepted.text
            drain(app)
            again = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
            assert again.status_code in (200, 202)
            drain(app)
        [run] = app.store.list_runs()
        reasons = [t.reason for t in app.store.transitions(run.id)]
        assert run.state == RunState.PROPOSED, reasons

        [change] = host.changes()
        assert change["draft"] is True
        assert change["branch"].startswith("suture/") and "zerodivisionerror" in change["branch"]
        assert "suture" in change["labels"]
        assert change["reviewers"] and set(change["reviewers"]) <= set(LOGINS.values())
        branches = host.branches()
        head = branches[change["branch"]]
        assert head == change["head"] != branches["main"]
        assert run.ticket_url and str(change["number"]) in run.ticket_url

        record = run.record
        fix, pr = record.fix, record.publication.pull_request
        assert record.publication.kind == "pull_request" and pr.head == head
        assert pr.release == shop.head and not pr.conflicts_with_default
        assert {t.step for t in pr.timings} >= {"push", "open", "reviewers", "check"}

        replayed = fix.preview.replay
        assert replayed is not None, fix.preview
        assert replayed.reproduced_on_base and replayed.fixed, replayed.verdict
        assert replayed.base.status == 500 and replayed.fix.status == 200
        shots = {shot.label: shot for shot in fix.preview.screenshots}
        assert set(shots) == {"base", "fix"}
        for shot in shots.values():
            assert Path(shot.path).read_bytes().startswith(PNG) and shot.width > 0
            assert shot.url.startswith(f"http://suture.example/artifacts/{run.id}/")
        steps = {t.step for t in fix.preview.timings}
        assert {"preview start (base)", "preview start (fix)", "replay", "screenshot"} <= steps

        text = change["body"]
        for expected in ("## What broke", "ZeroDivisionError", "## Verification",
                         "replay confirms the fix", shots["base"].url, shots["fix"].url,
                         "```diff", "suture:pr:"):
            assert expected in text, expected
        [check] = host.checks()
        assert head in json.dumps(check)
        if kind == "github":  # a check run, with the full logs of the tests on base and fix
            assert check["conclusion"] == "success" and check["head_sha"] == head
            assert "reproduction on base" in check["output"]["text"]
            assert "passed" in check["output"]["text"]
            assert check["details_url"].endswith(f"/artifacts/{run.id}/verification.log")
        assert "Filed by suture" not in text  # a pull request, not a ticket
        [note] = sentry.notes("4201")  # the Sentry issue points at the change, once
        assert change_url(run) in note["data"]["text"]
    finally:
        app.close()
        host.stop()
        sentry.stop()


def change_url(run) -> str:
    return run.record.publication.url
