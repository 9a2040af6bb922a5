"""Sending the weekly digest: to Slack (webhook and bot) and email through their real clients
against the stand-ins, as a GitHub issue through PyGithub against the GitHub stand-in, once per
week per channel however many times it is sent, and by the scheduled actor ticked twice."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from integrations.github import GitHubTickets
from integrations.standins.github import GitHubStandIn
from integrations.standins.slack import TOKEN as SLACK_TOKEN
from integrations.standins.slack import SlackStandIn
from integrations.standins.smtp import SmtpStandIn
from tests.digest_world import TOKEN, seed
from tests.support import drain, make_app
from worker.app.hosted import make_digest_outlets
from worker.cli.commands import cli
from worker.digest.sending import send_last_week, send_week
from worker.digest.week import IsoWeek
from worker.ports import TransientError
from worker.scheduler import Scheduler
from worker.settings import ConfigError, Settings, load_settings
from worker.store import SqlStore
from worker.store.reports import release_slot, slot_taken

WEEK = IsoWeek.parse("2026-W48")
GITHUB_TOKEN = "ghp_digest_test_token"
REPO = "acme/ops"
# Wednesday of the week after: the scheduled send is for W48.
LATER = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    server = SlackStandIn()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpStandIn]:
    with SmtpStandIn() as server:
        yield server


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    with GitHubStandIn(token=GITHUB_TOKEN, repos=[REPO]) as running:
        yield running  # type: ignore[misc]


def notify_values(slack: SlackStandIn, smtp: SmtpStandIn | None = None) -> dict[str, Any]:
    values: dict[str, Any] = {"slack_webhook_url": slack.webhook_url,
                              "slack_bot_token": SLACK_TOKEN, "slack_channel": "C0GENERAL1",
                              "slack_base_url": slack.api_url, "timeout_seconds": 5}
    if smtp is not None:
        values.update(smtp_host=smtp.host, smtp_port=smtp.port, smtp_from="suture@acme.io",
                      smtp_to=["oncall@acme.io"], smtp_starttls=False)
    return values


def settings_for(tmp_path: Path, **values: Any) -> Settings:
    return load_settings(None, database_url=f"sqlite:///{tmp_path / 'suture.db'}", **values)


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[SqlStore]:
    store = SqlStore(f"sqlite:///{tmp_path / 'suture.db'}")
    store.migrate()
    world = seed(store.url)
    yield world.store
    world.store.close()
    store.close()


def test_slack_and_email_get_the_digest_once(tmp_path, seeded, slack, smtp):
    settings = settings_for(tmp_path, notify=notify_values(slack, smtp),
                            digest={"channels": ["slack", "email"]})
    outlets = make_digest_outlets(settings)

    first = send_week(seeded, settings, outlets, WEEK)
    again = send_week(seeded, settings, outlets, WEEK)

    assert sorted(first.sent) == ["email", "slack-bot", "slack-webhook"]
    assert sorted(again.already) == ["email", "slack-bot", "slack-webhook"] and not again.sent
    webhook, bot = slack.messages()
    assert (webhook["via"], bot["via"]) == ("webhook", "api")
    for message in (webhook, bot):
        shown = "\n".join(block["text"]["text"] for block in message["blocks"]
                          if "text" in block)
        assert "Weekly digest:* 2026-W48" in shown
        assert "Errors: 5 clusters seen (4 new), 8 events" in shown
        assert "Outcomes: 1 merged, 1 closed, 1 stale, 1 held, 0 recurred" in shown
        # The hostile title is text: Slack's control characters escaped, the token redacted.
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown and "<script>" not in shown
        assert TOKEN not in str(message["payload"])
    [mail] = smtp.messages()
    assert mail.message["Subject"] == "[suture] Weekly digest: 2026-W48"
    plain = mail.message.get_body(("plain",))
    html = mail.message.get_body(("html",))
    assert plain is not None and html is not None
    assert "Acceptance 50 %, rework 50 %, model cost $0.40 per merged fix" in plain.get_content()
    page = html.get_content()
    tags = Tags()
    tags.feed(page)
    assert tags.seen.count("svg") == 2 and "script" not in tags.seen
    assert TOKEN not in page


def test_a_github_issue_carries_the_markdown_once(tmp_path, seeded, github):
    settings = settings_for(tmp_path, github={"base_url": github.url, "token": GITHUB_TOKEN},
                            digest={"channels": ["github"], "github_repo": REPO})
    forge = GitHubTickets(settings.github, seconds_between_requests=0, seconds_between_writes=0)
    outlets = make_digest_outlets(settings, forge=forge)
    try:
        report = send_week(seeded, settings, outlets, WEEK)
        send_week(seeded, settings, outlets, WEEK)
        # Even a claim given back (a crash after the issue was filed) finds the issue.
        release_slot(seeded, "digest:github", WEEK.label)
        adopted = send_week(seeded, settings, outlets, WEEK)
    finally:
        forge.close()

    [issue] = github.issues("acme", "ops")
    assert report.sent["github"] == issue["html_url"] == adopted.sent["github"]
    assert issue["title"] == "suture weekly digest 2026-W48"
    assert [label["name"] for label in issue["labels"]] == ["suture", "suture-digest"]
    body = issue["body"]
    assert "| merged | 1 |" in body and "| stale (open over 7 days at the week's end) | 1 |" in body
    assert "suture-digest: 2026-W48" in body and TOKEN not in body


def test_a_rate_limited_channel_is_sent_later_and_the_others_not_again(tmp_path, seeded, slack,
                                                                       smtp):
    values = notify_values(slack, smtp)
    del values["slack_bot_token"], values["slack_channel"]
    settings = settings_for(tmp_path, notify=values, digest={"channels": ["email", "slack"]})
    outlets = make_digest_outlets(settings)
    slack.fail_ratelimited(retry_after=1)

    with pytest.raises(TransientError):
        send_week(seeded, settings, outlets, WEEK)
    retried = send_week(seeded, settings, outlets, WEEK)

    assert retried.already == ["email"] and list(retried.sent) == ["slack-webhook"]
    assert len(smtp.messages()) == 1 and len(slack.messages()) == 1


def test_the_scheduled_actor_sends_last_weeks_digest_once_when_ticked_twice(tmp_path, slack):
    overrides = {"notify": {"slack_webhook_url": slack.webhook_url},
                 "digest": {"channels": ["slack"]}}
    first = make_app(tmp_path, clock=lambda: LATER, settings=overrides)
    second = make_app(tmp_path, clock=lambda: LATER, settings=overrides)  # another scheduler
    try:
        seed(first.settings.database_url).store.close()
        ticks = [Scheduler(first), Scheduler(first), Scheduler(second)]
        jobs = ticks[0].jobs()
        assert jobs["digest"][0] == 3600
        fired = [ticks[0].tick("digest", 3600, first.actors.send_digest.send, now=LATER),
                 ticks[1].tick("digest", 3600, first.actors.send_digest.send,
                               now=LATER.replace(hour=11)),
                 ticks[2].tick("digest", 3600, second.actors.send_digest.send,
                               now=LATER.replace(hour=12))]
        drain(first)
        drain(second)
    finally:
        first.close()
        second.close()

    assert fired == [True, True, True]  # three hourly slots, each sent a message
    [message] = slack.messages()  # but W48's digest went out once
    assert message["text"] == "Weekly digest: 2026-W48"


def test_a_quiet_week_is_sent_as_its_one_line(tmp_path, slack):
    settings = settings_for(tmp_path, notify={"slack_webhook_url": slack.webhook_url},
                            digest={"channels": ["slack"]})
    store = SqlStore(settings.database_url)
    store.migrate()
    try:
        report = send_last_week(store, settings, make_digest_outlets(settings), LATER)
    finally:
        store.close()

    assert report.week == "2026-W48"
    [message] = slack.messages()
    body = message["blocks"][1]["text"]["text"]
    assert body.splitlines()[-1] == ("Quiet week: no errors seen, and no run skipped, "
                                     "attempted, published or decided.")


def test_a_channel_without_its_settings_fails_at_start(tmp_path):
    with pytest.raises(ConfigError, match="no slack channel"):
        make_digest_outlets(settings_for(tmp_path, digest={"channels": ["slack"]}))
    with pytest.raises(ConfigError, match="github.token"):
        make_digest_outlets(settings_for(tmp_path, digest={"channels": ["github"],
                                                           "github_repo": REPO}))
    with pytest.raises(ConfigError, match="github_repo"):
        settings_for(tmp_path, digest={"channels": ["github"]})
    with pytest.raises(ConfigError, match="owner/name"):
        settings_for(tmp_path, digest={"github_repo": "ops"})


def test_no_channel_no_scheduled_job(tmp_path):
    app = make_app(tmp_path)
    try:
        assert "digest" not in Scheduler(app).jobs()
    finally:
        app.close()


def test_slots_are_claimed_and_given_back_on_both_stores(store):
    assert not slot_taken(store, "digest:email", "2026-W48")
    assert store.claim_slot("digest:email", "2026-W48")
    assert slot_taken(store, "digest:email", "2026-W48")
    release_slot(store, "digest:email", "2026-W48")
    assert store.claim_slot("digest:email", "2026-W48")
    assert not store.claim_slot("digest:email", "2026-W48")


class Tags(HTMLParser):
    """The tags of a page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.seen.append(tag)


def test_the_command_prints_and_sends(tmp_path, seeded, slack, monkeypatch):
    for name in list(os.environ):
        if name.startswith("SUTURE_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("SUTURE_DATABASE_URL", f"sqlite:///{tmp_path / 'suture.db'}")

    printed = CliRunner().invoke(cli, ["digest", "--week", "2026-W48"])
    page = CliRunner().invoke(cli, ["digest", "--week", "2026-W48", "--format", "html"])
    no_channel = CliRunner().invoke(cli, ["digest", "--send"])
    monkeypatch.setenv("SUTURE_NOTIFY__SLACK_WEBHOOK_URL", slack.webhook_url)
    monkeypatch.setenv("SUTURE_DIGEST__CHANNELS", '["slack"]')
    sent = CliRunner().invoke(cli, ["digest", "--week", "2026-W48", "--send"])
    resent = CliRunner().invoke(cli, ["digest", "--week", "2026-W48", "--send"])

    golden = (Path(__file__).parent / "fixtures" / "digest" / "2026-W48.md").read_text("utf-8")
    assert (printed.exit_code, printed.stdout) == (0, golden)
    assert page.exit_code == 0 and page.stdout.startswith("<!DOCTYPE html>")
    assert no_channel.exit_code == 2 and "no digest channel" in no_channel.stderr
    assert sent.exit_code == 0 and "sent to slack-webhook" in sent.stderr
    assert resent.exit_code == 0 and "already had the digest of 2026-W48" in resent.stderr
    assert len(slack.messages()) == 1


@pytest.mark.parametrize(("args", "reason"), [
    (["--week", "2026-W60"], "2026 has no ISO week 60"),
    (["--week", "last"], "is not an ISO week"),
    (["--format", "pdf"], "--format must be one of markdown, html"),
])
def test_the_command_refuses_bad_input_with_a_reason(tmp_path, monkeypatch, args, reason):
    monkeypatch.setenv("SUTURE_DATABASE_URL", f"sqlite:///{tmp_path / 'suture.db'}")
    result = CliRunner().invoke(cli, ["digest", *args])
    assert result.exit_code == 2 and reason in result.stderr


def test_the_doctor_names_a_digest_channel_without_its_settings(tmp_path, slack):
    from worker.doctor.digest import check_digest
    from worker.doctor.model import Status

    off = check_digest(settings_for(tmp_path))
    half = check_digest(settings_for(tmp_path, digest={"channels": ["slack", "github", "email"],
                                                       "github_repo": REPO},
                                     notify={"slack_webhook_url": slack.webhook_url}))
    whole = check_digest(settings_for(tmp_path, digest={"channels": ["slack", "github"],
                                                        "github_repo": REPO},
                                      notify={"slack_webhook_url": slack.webhook_url},
                                      github={"token": GITHUB_TOKEN}))

    assert off.status is Status.OK and "not sent" in off.found
    assert half.status is Status.ERROR
    assert half.found == "digest.channels names github, email, which are not configured"
    assert "SUTURE_GITHUB__TOKEN" in half.fix and "SUTURE_NOTIFY__SMTP_HOST" in half.fix
    assert whole.status is Status.OK and "github (acme/ops)" in whole.found
