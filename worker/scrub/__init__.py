"""Redaction of secrets and personal data from attacker-controlled text, before it leaves suture.

Everything an error carries (messages, request bodies, headers, URLs, source lines) may contain
credentials or personal data, and much of it is chosen by whoever sent the failing request.
Nothing from an event reaches a ticket, pull request, model prompt or log line without passing
through here. Detection is span-based: rules (`vendors`, `assignment`, `pii`) report spans,
overlapping spans are merged, and each is replaced by `[REDACTED:<kind>]`. Hidden characters are
stripped first (`hidden`). Scrubbing is idempotent and never raises.
"""

from __future__ import annotations

from worker.scrub.denylist import DENYLIST, is_denylisted
from worker.scrub.event import (
    pseudonym,
    scrub_body,
    scrub_event,
    scrub_frame,
    scrub_query,
    scrub_url,
)
from worker.scrub.findings import Finding
from worker.scrub.hidden import strip_hidden
from worker.scrub.records import scrub_patch, scrub_value
from worker.scrub.text import find_secrets, scrub_mapping, scrub_name, scrub_text

__all__ = [
    "DENYLIST",
    "Finding",
    "find_secrets",
    "is_denylisted",
    "pseudonym",
    "scrub_body",
    "scrub_event",
    "scrub_frame",
    "scrub_mapping",
    "scrub_name",
    "scrub_patch",
    "scrub_query",
    "scrub_text",
    "scrub_url",
    "scrub_value",
    "strip_hidden",
]
