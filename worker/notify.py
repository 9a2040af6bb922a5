"""Notices to people (a pull request or ticket filed, a merged fix held, a fix recurred) and how
each is rendered for a Slack message and for an email.

A `Notice` is what a stage hands a `Notifier` (`worker.ports.Notifier`); the renderers here are
the only way its text reaches an adapter. Its title and text carry event data an attacker may
choose (an error message), so every piece is scrubbed (`worker.scrub`) first, and for Slack the
three characters Slack gives meaning to (`&`, `<`, `>`) are escaped afterwards: an error message
reading `<!channel>` or `<http://evil|click>` shows as that text, never as a mention or a link.
Mrkdwn text objects are sent `verbatim`, so Slack does not turn bare URLs or `@here` in them into
links or mentions either. Owners are mentioned (`<@U…>`) only through the operator's map of
emails to Slack user ids; anyone else is named by the local part of their address.
"""

from __future__ import annotations

import hashlib
import re
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from worker.scrub import scrub_name, scrub_text, scrub_url
from worker.titles import ELLIPSIS, shorten

NoticeKind = Literal["filed", "held", "recurred", "digest"]

KIND_LABELS: dict[str, str] = {"filed": "Filed", "held": "Fix held", "recurred": "Recurred",
                               "digest": "Weekly digest"}
_KIND_EMOJI = {"filed": ":memo:", "held": ":white_check_mark:", "recurred": ":rotating_light:",
               "digest": ":bar_chart:"}

# Block Kit limits: a text object holds at most 3000 characters, a button's URL 3000.
SLACK_TEXT_LIMIT = 3000
SLACK_TITLE_LIMIT = 200
EMAIL_SUBJECT_LIMIT = 200
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,}")
_SAFE_URL = re.compile(r"https?://[^\s<>|\"'`]+")
_NOREPLY_PREFIX = re.compile(r"^\d+\+")  # GitHub's `12345+login@users.noreply.github.com`


class Notice(BaseModel):
    """Something people are told about once.

    `key` is the idempotency key (e.g. `pr-filed:<run>`): a caller records it when a notice was
    sent and never sends the same key twice. `text` is Markdown-ish plain text; `url` points at
    the pull request or ticket; `owner_emails` are the people to mention.
    """

    model_config = ConfigDict(frozen=True)

    key: str = Field(min_length=1)
    kind: NoticeKind
    title: str
    text: str = ""
    url: str | None = None
    owner_emails: list[str] = Field(default_factory=list)
    # An HTML rendering of `text` made by suture's own autoescaping templates (the weekly
    # digest), sent as the email's alternative part; chat channels use `text`.
    html: str | None = None


def slack_escape(text: str) -> str:
    """`text` with Slack's control characters escaped (`&` first, so nothing is escaped twice)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def clip(text: str, limit: int) -> str:
    """`text` cut at a word to at most `limit` characters, ending in an ellipsis when cut; an
    escape sequence (`&amp;`) is never cut in half."""
    if len(text) <= limit:
        return text
    cut = shorten(text, limit).removesuffix(ELLIPSIS)
    amp = cut.rfind("&")
    if amp != -1 and ";" not in cut[amp:]:
        cut = cut[:amp]
    return cut + "…"


def owner_name(email: str) -> str:
    """How an owner is named when they cannot be mentioned: their address's local part."""
    local = email.strip().split("@", 1)[0]
    return scrub_name(_NOREPLY_PREFIX.sub("", local)) or "someone"


def safe_url(url: str | None) -> str | None:
    """`url` if it is a plain http(s) URL that can sit inside a Slack link; otherwise None."""
    if not url:
        return None
    url = url.strip()
    if len(url) > SLACK_TEXT_LIMIT or not _SAFE_URL.fullmatch(url):
        return None
    return url


def slack_owners(emails: list[str], user_ids: dict[str, str]) -> list[str]:
    """Each owner once: `<@U…>` when the map knows their email, else their escaped name."""
    known = {email.strip().lower(): uid for email, uid in user_ids.items()}
    seen: set[str] = set()
    rendered: list[str] = []
    for email in emails:
        key = email.strip().lower()
        if not key or key in seen:
            continue
        seen.add(key)
        uid = known.get(key, "")
        rendered.append(f"<@{uid}>" if SLACK_USER_ID.fullmatch(uid)
                        else slack_escape(owner_name(email)))
    return rendered


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text, "verbatim": True}


def render_for_slack(notice: Notice, user_ids: dict[str, str]) -> dict[str, Any]:
    """A Slack message (Block Kit, with a plain `text` fallback for notifications) for both an
    incoming webhook and `chat.postMessage`; `user_ids` maps owner emails to Slack user ids."""
    label = KIND_LABELS[notice.kind]
    title = clip(slack_escape(" ".join(scrub_text(notice.title).split())),
                 SLACK_TITLE_LIMIT) or label
    owners = slack_owners(notice.owner_emails, user_ids)
    heading = f"{_KIND_EMOJI[notice.kind]} *{label}:* {title}"
    blocks: list[dict[str, Any]] = [{"type": "section", "text": _mrkdwn(heading)}]
    body = slack_escape(scrub_text(notice.text).strip())
    if body:
        blocks.append({"type": "section", "text": _mrkdwn(clip(body, SLACK_TEXT_LIMIT))})
    if owners:
        line = clip("Owners: " + ", ".join(owners), SLACK_TEXT_LIMIT)
        blocks.append({"type": "context", "elements": [_mrkdwn(line)]})
    url = safe_url(scrub_url(notice.url or ""))
    if url:
        blocks.append({"type": "actions", "elements": [{
            "type": "button", "text": {"type": "plain_text", "text": "Open"}, "url": url}]})
    fallback = f"{label}: {title}" + (f" ({', '.join(owners)})" if owners else "")
    # No unfurling (Slack would fetch links from the text), no linking of bare @names.
    return {"text": clip(fallback, SLACK_TEXT_LIMIT), "blocks": blocks, "link_names": False,
            "unfurl_links": False, "unfurl_media": False}


def _one_line(text: str, limit: int) -> str:
    return clip(" ".join(text.split()), limit)


def message_id(key: str, sender: str) -> str:
    """The same Message-ID for the same notice, so a resent email can be recognised."""
    digest = hashlib.sha256(key.encode()).hexdigest()[:32]
    domain = sender.rsplit("@", 1)[-1].strip(" >") if "@" in sender else "suture.invalid"
    return f"<suture.{digest}@{domain or 'suture.invalid'}>"


def render_for_email(notice: Notice, *, sender: str, recipients: list[str]) -> EmailMessage:
    """A plain-text email from `sender` to `recipients` (the operator's addresses)."""
    label = KIND_LABELS[notice.kind]
    title = _one_line(scrub_text(notice.title), EMAIL_SUBJECT_LIMIT) or label
    lines = [f"{label}: {title}", ""]
    body = scrub_text(notice.text).strip()
    if body:
        lines += [body, ""]
    url = safe_url(scrub_url(notice.url or ""))
    if url:
        lines.append(f"Link: {url}")
    names = list(dict.fromkeys(owner_name(email) for email in notice.owner_emails
                               if email.strip()))
    if names:
        lines.append("Owners: " + ", ".join(names))
    message = EmailMessage()
    message["Subject"] = f"[suture] {label}: {title}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = message_id(notice.key, sender)
    message["X-Suture-Notice"] = _one_line(scrub_text(notice.key), 200)
    message.set_content("\n".join(lines).rstrip() + "\n")
    if notice.html:
        message.add_alternative(notice.html, subtype="html")
    return message
