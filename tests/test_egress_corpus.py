"""No planted secret or personal value leaves suture, by any channel, after a real run.

The sample shop's real crash (sentry-sdk) carries over a hundred generated values of every kind
in `tests.fakes`, in 17 positions, across three signed Sentry webhooks. They go through the real
pipeline on the in-memory broker: ingestion, triage, correlation, a fix (the tool-loop agent asks
the scripted model stand-in first, so the prompt leaves; the template agent then makes the
patch), verification in the bubblewrap sandbox, a draft pull request on the GitHub stand-in (as
an App: a check run with the logs), the Sentry note, Slack and email notices, the weekly digest
to both, JSON logs, `suture status` and `suture runs show`, `/metrics`, the verification log page
and suture's own error report. Then every channel's text is searched for every value, raw,
without separators, URL-, JSON- and base64-encoded; none may be found.
"""

from __future__ import annotations

import random
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sentry_sdk
from sentry_sdk.transport import Transport
from typer.testing import CliRunner

from integrations.git import run_git
from integrations.standins.chat import ChatStandIn
from integrations.standins.sentry import SentryStandIn
from integrations.standins.slack import SlackStandIn
from integrations.standins.smtp import SmtpStandIn
from tests.egress_world import bodies, forms, found_in, json_logs, planted_event
from tests.proposal_hosts import LOGINS, REPO, start_host
from tests.support import SECRET, compact, drain, make_app, sentry_headers, served
from tests.test_scrub_corpus import Corpus
from worker import egress
from worker.app.hosted import make_digest_outlets
from worker.cli import cli
from worker.demo.sample import build_sample_repo, capture_crash
from worker.digest.sending import send_week
from worker.digest.week import IsoWeek
from worker.models import RunState
from worker.observability import init_error_reporting
from worker.settings import load_settings

pytestmark = pytest.mark.skipif(shutil.which("bwrap") is None, reason="bubblewrap is missing")

PLAYBOOKS = Path(__file__).resolve().parents[1] / "playbooks"
# The model gives up at once: its prompt has left, and the template agent makes the fix.
GIVE_UP = [{"content": "I cannot find a safe change."}]


class Capture(Transport):
    """sentry-sdk's transport, keeping each envelope as the bytes it would send."""

    def __init__(self, options: Any = None) -> None:
        super().__init__(options)
        self.sent: list[bytes] = []

    def capture_envelope(self, envelope: Any) -> None:
        self.sent.append(envelope.serialize())


def playbooks_trying_the_model_first(root: Path) -> Path:
    shutil.copytree(PLAYBOOKS, root)
    book = root / "zero-division.yaml"
    text = book.read_text("utf-8")
    templates_first = "  - kind: templates\n  - kind: toolloop\n    max_steps: 20\n"
    assert templates_first in text
    book.write_text(text.replace(templates_first,
                                 "  - kind: toolloop\n    max_steps: 20\n  - kind: templates\n"))
    return root


def webhook(event: dict[str, Any]) -> bytes:
    return compact({"action": "triggered", "installation": {"uuid": "egress"},
                    "data": {"event": event, "triggered_rule": "New errors in shop"},
                    "actor": {"type": "application", "id": "sentry", "name": "Sentry"}})


def error_report(planted: list[str]) -> str:
    """suture's own error reporting, started as a process starts it, reporting an exception, a
    message and a breadcrumb that quote planted values; what it would send."""
    transport = Capture()
    settings = load_settings(None, error_dsn="https://key@errors.invalid/1")
    try:
        assert init_error_reporting(settings, transport=transport, default_integrations=False)
        sentry_sdk.add_breadcrumb(message=f"handled {planted[0]}", category="log")
        try:
            raise RuntimeError(f"could not file the ticket for {planted[1]}")
        except RuntimeError as exc:
            sentry_sdk.capture_exception(exc)
        sentry_sdk.capture_message(f"comment refused: {planted[2]}")
        sentry_sdk.flush()
    finally:
        sentry_sdk.get_client().close()
        sentry_sdk.init(dsn=None)
    assert len(transport.sent) == 2
    return "\n".join(envelope.decode("utf-8", "replace") for envelope in transport.sent)


def test_no_planted_value_leaves_through_any_channel(tmp_path, monkeypatch):
    shop = build_sample_repo(tmp_path / "sample" / "shop")
    crash = {**capture_crash(shop), "issue_id": "4201", "project": "shop"}
    corpus = Corpus(random.Random(2026))
    payloads = [webhook(planted_event(corpus, crash, body)) for body in ("json", "form", "json")]
    values = [(p.kind, p.position, p.value) for p in corpus.planted]

    host = start_host("github", tmp_path / "host", shop.path, app=True)
    sentry = SentryStandIn(seed=False).start()
    sentry.add_issue({"id": "4201", "shortId": "SHOP-1", "title": "ZeroDivisionError"})
    slack = SlackStandIn().start()
    smtp = SmtpStandIn().start()
    model = ChatStandIn(GIVE_UP).start()
    settings = {
        **host.settings(), "data_dir": tmp_path / "data",
        "sentry": {"client_secret": SECRET, "base_url": sentry.url, "org": sentry.org,
                   "token": sentry.token, "projects": ["shop"]},
        "artifacts": {"public_url": "http://suture.example"},
        "correlate": {"logins": LOGINS},
        "playbooks_dir": playbooks_trying_the_model_first(tmp_path / "playbooks"),
        "fix": {"agent": {"base_url": model.url, "api_key": "sk-test-model-key"}},
        "notify": {"slack_webhook_url": slack.webhook_url, "smtp_host": smtp.host,
                   "smtp_port": smtp.port, "smtp_from": "suture@acme.io",
                   "smtp_to": ["oncall@acme.io"], "smtp_starttls": False},
        "digest": {"channels": ["slack", "email"]},
        "services": [{"name": "shop", "sentry_project": "shop", "repository": str(shop.path),
                      "slug": REPO, "test_command": "python -m pytest -q"}]}
    app = make_app(tmp_path, settings=settings)
    egress.reset_counts()
    channels: dict[str, str] = {}
    try:
        with json_logs() as logs, served(app) as client:
            for body in payloads:
                answer = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
                assert answer.status_code in (200, 202), answer.text
            drain(app)
            [run] = app.store.list_runs()
            reasons = [t.reason for t in app.store.transitions(run.id)]
            assert run.state == RunState.PROPOSED, reasons
            report = send_week(app.store, app.settings, make_digest_outlets(app.settings),
                               IsoWeek.containing(datetime.now(UTC)))
            assert report.sent, report
            channels["web: /metrics"] = client.get("/metrics").text
            page = client.get(f"/artifacts/{run.id}/verification.log")
            assert page.status_code == 200
            channels["web: verification log"] = page.text
        channels["logs (JSON)"] = logs.getvalue()

        monkeypatch.setenv("SUTURE_DATABASE_URL", app.settings.database_url)
        for argv in (["status"], ["runs", "show", str(run.id)],
                     ["runs", "show", str(run.id), "--json"]):
            shown = CliRunner().invoke(cli, argv)
            assert shown.exit_code == 0, shown.output
            channels[f"cli: suture {' '.join(argv)}"] = shown.output

        [change] = host.changes()
        assert change["draft"] and "suture:pr:" in change["body"]
        assert model.calls, "the tool-loop agent never asked the model"
        channels["github: pushed commit messages"] = run_git(
            host.standin.git.repo_path(REPO), "log", "--format=%B", change["branch"])
        channels["github (every request)"] = bodies(host.standin.calls)
        channels["github: pull request"] = f"{change['title']}\n{change['body']}"
        channels["github: checks"] = repr(host.checks())
        channels["sentry (every request)"] = bodies(sentry.calls)
        channels["slack (every request)"] = bodies(slack.calls)
        channels["model (every prompt)"] = bodies(model.calls)
        channels["email"] = "\n".join(str(mail.message) for mail in smtp.messages())
        channels["error report"] = error_report([value for _, _, value in values[:3]])
    finally:
        app.close()
        for standin in (host, sentry, slack, smtp, model):
            standin.stop()

    # The control: the webhooks carried every value, in a form the search recognises.
    sent_in = {"webhooks": "\n".join(body.decode() for body in payloads)}
    carried = {value for _, _, value in values if any(f in sent_in["webhooks"]
                                                      for f in forms(value))}
    kinds = {kind for kind, _, _ in values}
    positions = {position for _, position, _ in values}
    found = found_in(channels, values)
    used = [c for c in egress.counts() if c.sent]
    print(f"\ncorpus: {len(values)} values, {len(kinds)} kinds, {len(positions)} positions; "
          f"channels checked: {len(channels)}; values found: {len(found)}")
    print("egress: " + ", ".join(f"{c.channel.value} {c.sent} sent/{c.redacted} redacted"
                                 for c in used))
    assert len(values) >= 100 and len(kinds) >= 25 and len(positions) >= 15
    assert len(carried) == len({value for _, _, value in values})
    assert all(text.strip() for text in channels.values()), [
        name for name, text in channels.items() if not text.strip()]
    assert found == [], "\n".join(found)
    assert {c.channel for c in used} >= {egress.Channel.PR_BODY, egress.Channel.CHECK_OUTPUT,
                                         egress.Channel.PROMPT, egress.Channel.LOG,
                                         egress.Channel.CLI, egress.Channel.WEB,
                                         egress.Channel.SLACK, egress.Channel.EMAIL,
                                         egress.Channel.DIGEST, egress.Channel.ERROR_REPORT,
                                         egress.Channel.UPSTREAM_NOTE,
                                         egress.Channel.COMMIT_MESSAGE}
