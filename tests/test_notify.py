"""Notices: rendering (mentions, escaping, scrubbing) and each notifier against its stand-in.

The Slack adapters run their real clients (httpx for the webhook, slack-sdk's WebClient for the
bot) against `SlackStandIn` over HTTP; the email adapter runs `smtplib` against `SmtpStandIn`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from integrations.notify import SlackBot, SlackWebhook, SmtpEmail, make_notifiers
from integrations.standins.base import Reply
from integrations.standins.slack import TOKEN, SlackStandIn
from integrations.standins.smtp import SmtpStandIn
from worker.notify import Notice, clip, render_for_email, render_for_slack, slack_escape
from worker.notify_settings import NotifySettings
from worker.ports import Notifier, PermanentError, TransientError
from worker.settings import ConfigError, load_settings

USERS = {"alice@acme.io": "U0ALICE01"}
# Planted secrets, built at run time so no scanner flags this file.
SLACK_TOKEN = "xoxb-" + "1234567890-" + "abcdefghijklmnopqrstuvwx"
HOSTILE = ("KeyError: 'sku' <@U0BOSS001> <!channel> <!here> <http://evil.example|click here> "
           f"&lt;@U0X&gt; token={SLACK_TOKEN} from mallory@evil.example")


def notice(**changes: Any) -> Notice:
    values: dict[str, Any] = {
        "key": "pr-filed:run-1", "kind": "filed", "title": "KeyError in checkout",
        "text": "Draft pull request #7 fixes `KeyError: 'sku'` in shop.",
        "url": "https://github.com/acme/shop/pull/7",
        "owner_emails": ["alice@acme.io", "bob@acme.io", "12345+carol@users.noreply.github.com"],
    }
    values.update(changes)
    return Notice(**values)


def all_text(payload: dict[str, Any]) -> str:
    """Every string a Slack client would show or parse, joined."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, str):
            found.append(value)
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)

    walk(payload)
    return "\n".join(found)


@pytest.fixture
def slack() -> Iterator[SlackStandIn]:
    server = SlackStandIn()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def smtp() -> Iterator[SmtpStandIn]:
    with SmtpStandIn(username="suture", password="mail-pass") as server:
        yield server


def email_notifier(smtp: SmtpStandIn, **changes: Any) -> SmtpEmail:
    values: dict[str, Any] = {"username": "suture", "password": "mail-pass", "starttls": False,
                              "timeout": 5}
    values.update(changes)
    return SmtpEmail(smtp.host, smtp.port, "suture@acme.io", ["oncall@acme.io", "dev@acme.io"],
                     **values)


# -- rendering --------------------------------------------------------------------------------

def test_owners_in_the_map_are_mentioned_and_the_others_named() -> None:
    payload = render_for_slack(notice(), USERS)
    owners = payload["blocks"][2]["elements"][0]["text"]
    assert owners == "Owners: <@U0ALICE01>, bob, carol"
    assert "<@U0ALICE01>" in payload["text"]
    assert "bob@acme.io" not in all_text(payload)


def test_mentions_links_and_entities_in_error_text_are_escaped() -> None:
    payload = render_for_slack(notice(title=HOSTILE, text=HOSTILE, owner_emails=[]), {})
    text = all_text(payload)
    for forged in ("<@U0BOSS001>", "<!channel>", "<!here>", "<http://evil.example|click here>"):
        assert forged not in text
    assert "&lt;!channel&gt;" in text and "&lt;http://evil.example|click here&gt;" in text
    assert "&amp;lt;@U0X&amp;gt;" in text  # a pre-escaped mention stays text too
    assert "<" not in text.replace("<@", "") and ">" not in text
    for block in payload["blocks"]:
        for obj in [block.get("text"), *block.get("elements", [])]:
            if isinstance(obj, dict) and obj.get("type") == "mrkdwn":
                assert obj["verbatim"] is True


def test_planted_token_and_email_are_scrubbed_everywhere() -> None:
    hostile = notice(title=HOSTILE, text=HOSTILE)
    slack_text = all_text(render_for_slack(hostile, USERS))
    email = render_for_email(hostile, sender="suture@acme.io", recipients=["oncall@acme.io"])
    email_text = str(email["Subject"]) + email.get_content()
    for text in (slack_text, email_text):
        assert SLACK_TOKEN not in text and "mallory@evil.example" not in text
        assert "[REDACTED:slack-token]" in text and "[REDACTED:email]" in text


def test_only_plain_http_urls_become_buttons() -> None:
    for bad in ("javascript:alert(1)", "https://x.example/a|b", "https://x.example/<@U1>"):
        blocks = render_for_slack(notice(url=bad), {})["blocks"]
        assert all(block["type"] != "actions" for block in blocks)
    button = render_for_slack(notice(), {})["blocks"][-1]["elements"][0]
    assert button["url"] == "https://github.com/acme/shop/pull/7"


def test_clipping_keeps_escapes_whole_and_fits_block_kit() -> None:
    assert clip(slack_escape("ab<cd"), 5) == "ab…"
    payload = render_for_slack(notice(text="<" * 5000, title="&" * 500), {})
    assert all(len(block["text"]["text"]) <= 3000 for block in payload["blocks"]
               if block["type"] == "section")


def test_email_is_one_plain_message_with_a_stable_message_id() -> None:
    hostile = notice(title="boom\r\nBcc: victim@example.com")
    first = render_for_email(hostile, sender="suture@acme.io", recipients=["a@acme.io"])
    again = render_for_email(hostile, sender="suture@acme.io", recipients=["a@acme.io"])
    assert first["Message-ID"] == again["Message-ID"]
    assert first["Message-ID"].endswith("@acme.io>")
    assert "Bcc" not in first and "\n" not in str(first["Subject"])
    body = first.get_content()
    assert "Link: https://github.com/acme/shop/pull/7" in body
    assert "Owners: alice, bob, carol" in body


# -- Slack webhook ----------------------------------------------------------------------------

def test_webhook_posts_the_rendered_message(slack: SlackStandIn) -> None:
    notifier = SlackWebhook(slack.webhook_url, USERS, timeout=5)
    assert isinstance(notifier, Notifier)
    assert notifier.send(notice()) == "pr-filed:run-1"
    [posted] = slack.messages()
    assert posted["via"] == "webhook"
    assert posted["payload"] == render_for_slack(notice(), USERS)


def test_webhook_rate_limit_is_transient_with_retry_after(slack: SlackStandIn) -> None:
    slack.fail_ratelimited(retry_after=17)
    with pytest.raises(TransientError) as caught:
        SlackWebhook(slack.webhook_url, timeout=5).send(notice())
    assert caught.value.retry_after == 17
    assert slack.messages() == []


def test_webhook_refusals_are_permanent_with_slacks_error(slack: SlackStandIn) -> None:
    with pytest.raises(PermanentError, match="no_service") as caught:
        SlackWebhook(slack.url + "/services/T000/B000/WRONG", timeout=5).send(notice())
    assert "WRONG" not in str(caught.value)  # the URL (the secret) is never in the message


def test_webhook_server_errors_and_dead_endpoints_are_transient(slack: SlackStandIn) -> None:
    slack.fail_next(Reply(500, "rollup_error", content_type="text/plain"))
    with pytest.raises(TransientError, match="rollup_error"):
        SlackWebhook(slack.webhook_url, timeout=5).send(notice())
    url = slack.webhook_url
    slack.stop()
    with pytest.raises(TransientError) as caught:
        SlackWebhook(url, timeout=2).send(notice())
    assert "XXXX" not in str(caught.value)


# -- Slack bot --------------------------------------------------------------------------------

def test_bot_posts_to_the_channel_and_returns_its_ts(slack: SlackStandIn) -> None:
    notifier = SlackBot(TOKEN, "#suture-alerts", USERS, base_url=slack.api_url, timeout=5)
    sent = notifier.send(notice(kind="recurred"))
    [posted] = slack.messages()
    assert sent == f"C0SUTURE01:{posted['ts']}"
    assert posted["via"] == "api" and posted["channel"] == "C0SUTURE01"
    assert "<@U0ALICE01>" in posted["text"]
    assert posted["payload"]["metadata"]["event_payload"]["key"] == "pr-filed:run-1"
    assert slack.calls[-1].headers["authorization"] == f"Bearer {TOKEN}"


def test_bot_rate_limit_is_transient_and_the_client_does_not_wait(slack: SlackStandIn) -> None:
    slack.fail_ratelimited(retry_after=30, times=2)
    notifier = SlackBot(TOKEN, "C0SUTURE01", base_url=slack.api_url, timeout=5)
    started = time.monotonic()
    with pytest.raises(TransientError) as caught:
        notifier.send(notice())
    assert caught.value.retry_after == 30
    assert time.monotonic() - started < 5 and len(slack.calls) == 1  # no retry inside


@pytest.mark.parametrize(("token", "channel", "error"), [
    ("xoxb-wrong", "C0SUTURE01", "invalid_auth"),
    ("", "C0SUTURE01", "not_authed"),
    (TOKEN, "#nowhere", "channel_not_found"),
])
def test_bot_refusals_are_permanent(slack: SlackStandIn, token: str, channel: str,
                                    error: str) -> None:
    with pytest.raises(PermanentError, match=error):
        SlackBot(token, channel, base_url=slack.api_url, timeout=5).send(notice())
    assert slack.messages() == []


def test_bot_cannot_reach_slack_is_transient(slack: SlackStandIn) -> None:
    url = slack.api_url
    slack.stop()
    with pytest.raises(TransientError, match="unreachable"):
        SlackBot(TOKEN, "C0SUTURE01", base_url=url, timeout=2).send(notice())


def test_standin_takes_a_form_post_and_rejects_empty_messages(slack: SlackStandIn) -> None:
    form = httpx.post(slack.api_url + "chat.postMessage", timeout=5,
                      data={"token": TOKEN, "channel": "general", "text": "hi"}).json()
    assert form["ok"] and form["channel"] == "C0GENERAL1" and form["message"]["text"] == "hi"
    empty = httpx.post(slack.api_url + "chat.postMessage", timeout=5,
                       headers={"Authorization": f"Bearer {TOKEN}"},
                       json={"channel": "C0SUTURE01"}).json()
    assert empty == {"ok": False, "error": "no_text"}
    bad = httpx.post(slack.webhook_url, content=b"{not json", timeout=5)
    assert (bad.status_code, bad.text) == (400, "invalid_payload")
    none = httpx.post(slack.webhook_url, json={"username": "x"}, timeout=5)
    assert (none.status_code, none.text) == (400, "no_text")


# -- email ------------------------------------------------------------------------------------

def test_email_is_sent_after_login_to_every_recipient(smtp: SmtpStandIn) -> None:
    sent = email_notifier(smtp).send(notice(kind="held"))
    [received] = smtp.messages()
    assert received.authenticated_as == "suture"
    assert received.mail_from == "suture@acme.io"
    assert received.rcpt_to == ["oncall@acme.io", "dev@acme.io"]
    assert received.message["Message-ID"] == sent
    assert str(received.message["Subject"]) == "[suture] Fix held: KeyError in checkout"
    assert "Owners: alice, bob, carol" in received.message.get_content()


def test_email_scrubs_planted_secrets(smtp: SmtpStandIn) -> None:
    email_notifier(smtp).send(notice(title=HOSTILE, text=HOSTILE))
    raw = smtp.messages()[0].message.as_string()
    assert SLACK_TOKEN not in raw and "mallory@evil.example" not in raw


@pytest.mark.parametrize(("command", "code", "kind"), [
    ("MAIL", 451, TransientError), ("RCPT", 450, TransientError), ("DATA", 452, TransientError),
    ("MAIL", 550, PermanentError), ("RCPT", 550, PermanentError), ("DATA", 554, PermanentError),
    ("CONNECT", 421, TransientError),
])
def test_email_replies_map_to_errors(smtp: SmtpStandIn, command: str, code: int,
                                     kind: type[Exception]) -> None:
    smtp.fail_next(command, code, "injected", times=2)  # both recipients, for RCPT
    with pytest.raises(kind):
        email_notifier(smtp).send(notice())
    assert smtp.messages() == []


def test_email_one_refused_recipient_does_not_stop_the_others(smtp: SmtpStandIn) -> None:
    smtp.fail_next("RCPT", 550, "5.1.1 no such user")
    email_notifier(smtp).send(notice())
    [received] = smtp.messages()
    assert received.rcpt_to == ["dev@acme.io"]


def test_email_bad_login_and_missing_starttls_are_permanent(smtp: SmtpStandIn) -> None:
    with pytest.raises(PermanentError, match="535"):
        email_notifier(smtp, password="wrong").send(notice())
    with pytest.raises(PermanentError, match="STARTTLS|support"):
        email_notifier(smtp, starttls=True).send(notice())
    assert smtp.messages() == []


def test_email_server_down_is_transient(smtp: SmtpStandIn) -> None:
    host, port = smtp.host, smtp.port
    smtp.stop()
    with pytest.raises(TransientError, match="unreachable"):
        SmtpEmail(host, port, "suture@acme.io", ["a@acme.io"], starttls=False,
                  timeout=2).send(notice())


# -- settings and factory ---------------------------------------------------------------------

def test_make_notifiers_builds_one_per_configured_channel() -> None:
    assert make_notifiers(NotifySettings()) == []
    settings = load_settings(notify={
        "slack_webhook_url": "https://hooks.slack.com/services/T1/B1/x", "slack_bot_token": TOKEN,
        "slack_channel": "C0SUTURE01", "smtp_host": "mail.acme.io", "smtp_from": "s@acme.io",
        "smtp_to": ["o@acme.io"], "slack_users": {"Alice@Acme.io": "U0ALICE01"}})
    notifiers = make_notifiers(settings)
    assert [n.name for n in notifiers] == settings.notify.channels
    assert [n.name for n in notifiers] == ["slack-webhook", "slack-bot", "email"]
    assert settings.notify.slack_users == {"alice@acme.io": "U0ALICE01"}
    assert TOKEN not in repr(settings.notify)


@pytest.mark.parametrize("notify", [
    {"slack_bot_token": TOKEN},
    {"smtp_host": "mail.acme.io"},
    {"slack_users": {"a@acme.io": "<!channel>"}},
])
def test_half_configured_channels_fail_at_start(notify: dict[str, Any]) -> None:
    with pytest.raises(ConfigError, match="notify"):
        load_settings(notify=notify)


def test_blank_secrets_mean_unset() -> None:
    assert NotifySettings(slack_webhook_url="", slack_bot_token=" ").channels == []
