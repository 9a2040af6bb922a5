"""The adapters scrub at the wire, whatever they are handed.

Upstream stages scrub what they store, so in a normal run egress finds little; here text holding
raw secrets is handed straight to each adapter (as a stage composing text from an unscrubbed
source would), and what the stand-in received holds none of them. The control switches egress
off in one adapter and sees the secret arrive.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from pydantic import SecretStr
from typer.testing import CliRunner

import integrations.github.tickets
from integrations.agents.toolloop import ToolLoopAgent
from integrations.files_forge import FilesForge
from integrations.github.pulls import GitHubPulls
from integrations.github.tickets import GitHubTickets
from integrations.notify import SlackWebhook, SmtpEmail
from integrations.standins.chat import ChatStandIn
from integrations.standins.github import GitHubStandIn
from integrations.standins.slack import SlackStandIn
from integrations.standins.smtp import SmtpStandIn
from tests import fakes
from tests.egress_world import bodies
from tests.github_world import REPO, TOKEN, seed_source, seeded_standin
from tests.support import LocalSandbox
from tests.test_toolloop import make_task
from tests.test_toolloop import worktree as worktree  # noqa: F401 (a fixture)
from worker.cli.output import echo
from worker.codehost import CheckReport
from worker.logs import JsonFormatter, TextFormatter
from worker.notify import Notice
from worker.ports import TicketDraft
from worker.settings import GitHubSettings


def secrets() -> list[str]:
    rng = random.Random(11)
    return [kind.make(rng) for kind in fakes.KINDS
            if kind.name in {"email", "github-token", "stripe-key", "aws-access-key", "jwt",
                             "card", "iban", "slack-token"}]


def leaky(values: list[str]) -> str:
    return "Reported by " + ", ".join(values)


@pytest.fixture
def github(tmp_path: Path) -> Iterator[GitHubStandIn]:
    standin = seeded_standin(tmp_path / "remote", seed_source(tmp_path / "source").path)
    yield standin
    standin.stop()


def settings(standin: GitHubStandIn) -> GitHubSettings:
    return GitHubSettings(base_url=standin.url, token=SecretStr(TOKEN))


def test_github_tickets_comments_and_statuses_carry_no_secret(github):
    values = secrets()
    forge = GitHubTickets(settings(github), seconds_between_requests=0, seconds_between_writes=0)
    host = GitHubPulls(settings(github), seconds_between_requests=0, seconds_between_writes=0)
    try:
        ticket = forge.open_ticket(TicketDraft(repo=REPO, title=f"Crash for {values[0]}",
                                               body=leaky(values), marker="suture:egress:1"))
        host.comment(REPO, int(ticket.ref), leaky(values))
        sha = github.git.branches(REPO)["main"]
        host.report_check(REPO, CheckReport(head_sha=sha, conclusion="failure",
                                            title=f"failed for {values[1]}",
                                            summary=leaky(values), text=leaky(values)))
    finally:
        forge.close()
        host.close()
    received = bodies(github.calls)
    assert [v for v in values if v in received] == []
    assert received.count("[REDACTED:") >= len(values)


def test_the_control_without_egress_in_the_adapter_sends_the_secret(github, monkeypatch):
    monkeypatch.setattr(integrations.github.tickets, "outbound", lambda text, channel: text)
    values = secrets()
    forge = GitHubTickets(settings(github), seconds_between_requests=0, seconds_between_writes=0)
    try:
        forge.open_ticket(TicketDraft(repo=REPO, title="Crash", body=leaky(values),
                                      marker="suture:egress:2"))
    finally:
        forge.close()
    assert all(v in bodies(github.calls) for v in values)


def test_a_ticket_file_slack_and_email_carry_no_secret(tmp_path: Path):
    values = secrets()
    ticket = FilesForge(tmp_path / "tickets").open_ticket(
        TicketDraft(repo=REPO, title=f"Crash for {values[0]}", body=leaky(values),
                    marker="suture:egress:3"))
    written = "".join(p.read_text() for p in (tmp_path / "tickets").rglob("*.md"))
    assert ticket.ref == "1" and [v for v in values if v in written] == []
    notice = Notice(key="egress", kind="filed", title=f"Filed for {values[0]}",
                    text=leaky(values), html=f"<p>{leaky(values)}</p>")
    slack = SlackStandIn().start()
    try:
        SlackWebhook(slack.webhook_url).send(notice)  # type: ignore[attr-defined]
        sent_to_slack = bodies(slack.calls)
    finally:
        slack.stop()
    with SmtpStandIn() as smtp:
        SmtpEmail(smtp.host, smtp.port, "suture@acme.io", ["ops@acme.io"],
                  starttls=False).send(notice)
        mail = "".join(str(m.message) for m in smtp.messages())
    for text in (sent_to_slack, mail):
        assert [v for v in values if v in text] == [] and "[REDACTED:" in text


def test_the_prompt_the_model_gets_carries_no_secret(worktree: Path):  # noqa: F811
    values = secrets()
    task = make_task()
    task = task.model_copy(update={"prompt": task.prompt + "\n" + leaky(values)})
    model = ChatStandIn([{"content": "no change"}]).start()
    try:
        ToolLoopAgent(model.url + "/v1", SecretStr("sk-x"), "m",  # type: ignore[attr-defined]
                      sleep=lambda _: None).attempt(task, worktree, LocalSandbox())
        prompts = bodies(model.calls)  # type: ignore[attr-defined]
    finally:
        model.stop()
    assert "Reported by [REDACTED:" in prompts
    assert [v for v in values if v in prompts] == []


def test_log_lines_and_command_line_output_carry_no_secret():
    values = secrets()
    record = logging.LogRecord("suture", logging.INFO, __file__, 1, "refused %s", (values[0],),
                               None)
    record.note = leaky(values)
    for formatter in (TextFormatter(), JsonFormatter()):
        line = formatter.format(record)
        assert [v for v in values if v in line] == []

    def show() -> None:
        echo(leaky(values))

    app = typer.Typer()
    app.command()(show)
    shown = CliRunner().invoke(app, [])
    assert shown.exit_code == 0 and "[REDACTED:" in shown.output
    assert [v for v in values if v in shown.output] == []
