"""One way out: every text that leaves suture passes `outbound` on its way.

Events are scrubbed at the door (`stages/ingest.py`) and what is derived from them before it is
stored (`stages/scrubbing.py`), but text is also put together after that: a ticket quotes a
comment, a check run carries a test log, a prompt carries source lines, a log line quotes a
vendor's error. So each channel's adapter, as the last step before the wire, hands its text to
`outbound` (or `outbound_value` for a JSON document), which applies every detector of
`worker.scrub` and counts what it sent and what it had to redact, per channel.

`tests/test_egress_channels.py` lists the channels and fails when one has no call site, or when
a module under `integrations/` writes to the outside without importing this module.
"""

from __future__ import annotations

import threading
from collections import Counter
from enum import StrEnum
from typing import Any

from markupsafe import Markup
from pydantic import BaseModel

from worker.scrub import find_secrets, scrub_text, strip_hidden
from worker.scrub.findings import Finding, marker
from worker.scrub.text import UNSCRUBBABLE

# The word joiner suture's own Markdown escaping puts after every `@` so that no one is
# mentioned (`worker.render.escape_markdown`). The scrubber strips it with every other invisible
# character; here it is kept where suture put it, while detection still sees through it.
JOINER = "\u2060"
_PASSES = 8


class Channel(StrEnum):
    """Every way text leaves the process."""

    TICKET = "ticket"  # an issue or a ticket file (title and body)
    PR_BODY = "pr_body"  # a pull or merge request's title and description
    PR_COMMENT = "pr_comment"  # a comment on a pull or merge request
    CHECK_OUTPUT = "check_output"  # a check run's output, a commit status's description
    PROMPT = "prompt"  # what a coding agent's model or command is given
    LOG = "log"  # a log line, text or JSON
    CLI = "cli"  # what the command line prints
    WEB = "web"  # an HTML page the web process renders
    SLACK = "slack"  # a Slack message
    EMAIL = "email"  # a mail
    DIGEST = "digest"  # the weekly digest, as rendered for any outlet
    ERROR_REPORT = "error_report"  # suture's own error reports to its Sentry project
    UPSTREAM_NOTE = "upstream_note"  # the note on the vendor's issue (Sentry) linking the change
    COMMIT_MESSAGE = "commit_message"  # the message of a commit suture pushes


class EgressCount(BaseModel):
    """What one channel sent: texts passed, texts in which something was redacted."""

    channel: Channel
    sent: int = 0
    redacted: int = 0


_lock = threading.Lock()
_sent: Counter[Channel] = Counter()
_redacted: Counter[Channel] = Counter()


def outbound(text: str, channel: Channel) -> str:
    """`text` fit to leave through `channel`: every secret and personal value redacted."""
    clean = scrub_keeping_joiners(text)
    with _lock:
        _sent[channel] += 1
        if clean != text:
            _redacted[channel] += 1
    return clean


def scrub_keeping_joiners(text: str) -> str:
    """`scrub_text`, except that word joiners survive where no secret was found (a token an
    attacker split with one is still found: detection runs on the text without them)."""
    if JOINER not in text:
        return scrub_text(text)
    try:
        segments = [strip_hidden(part) for part in text.split(JOINER)]
        for _ in range(_PASSES):
            findings = find_secrets("".join(segments))
            if not findings:
                return JOINER.join(segments)
            segments = _redact_segments(segments, findings)
    except Exception:  # as the scrubber does: withhold the text rather than leak it
        return UNSCRUBBABLE
    return UNSCRUBBABLE


def _redact_segments(segments: list[str], findings: list[Finding]) -> list[str]:
    """The joined `segments` with `findings` (in joined coordinates) redacted, split again
    where a joiner stood outside every finding."""
    plain = "".join(segments)
    joins: list[int] = []
    for part in segments[:-1]:
        joins.append((joins[-1] if joins else 0) + len(part))
    pieces: list[str] = []
    cursor = 0
    kept: set[int] = set()

    def copy(upto: int) -> None:
        # Text from the cursor to `upto`, with the joiners that stood in it or at either end.
        nonlocal cursor
        for index, at in enumerate(joins):
            if cursor <= at <= upto and index not in kept:
                kept.add(index)
                pieces.append(plain[cursor:at])
                pieces.append(JOINER)
                cursor = at
        pieces.append(plain[cursor:upto])
        cursor = upto

    for finding in findings:
        copy(finding.start)
        pieces.append(marker(finding.kind))
        cursor = finding.end
    copy(len(plain))
    return "".join(pieces).split(JOINER)


def outbound_value(value: Any, channel: Channel) -> Any:
    """A JSON-like document (dicts, lists, strings, numbers) with every string passed through
    `outbound`; keys too, since a mapping's keys are as much the sender's text as its values."""
    if isinstance(value, str):
        return outbound(value, channel)
    if isinstance(value, dict):
        return {outbound(k, channel) if isinstance(k, str) else k: outbound_value(v, channel)
                for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [outbound_value(item, channel) for item in value]
    return value


def counts() -> list[EgressCount]:
    """Per channel, in the enum's order, what has left this process since it started (or since
    `reset_counts`)."""
    with _lock:
        return [EgressCount(channel=c, sent=_sent[c], redacted=_redacted[c]) for c in Channel]


def reset_counts() -> None:
    """Start counting from zero (a test measuring one run)."""
    with _lock:
        _sent.clear()
        _redacted.clear()


def finalize(value: Any) -> Any:
    """A Jinja2 `finalize` hook for web pages: every printed string leaves through `WEB`.

    `Environment(finalize=finalize, autoescape=True)` scrubs each expression's value before it
    is escaped, so a page can print a stored title or comment as it is. Markup a filter made
    safe stays markup (the scrubber's `[REDACTED:<kind>]` needs no escaping)."""
    if isinstance(value, Markup):
        return Markup(outbound(str(value), Channel.WEB))
    if isinstance(value, str):
        return outbound(value, Channel.WEB)
    return value
