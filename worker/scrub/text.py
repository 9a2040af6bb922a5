"""Scrubbing of strings and string mappings: the entry points every other module calls.

`scrub_text` strips hidden characters, then redacts every finding of every rule, repeating until
nothing more is found: replacing a span can expose a neighbour a rule had rejected (an address
that followed a redacted email's last letter), and running to a fixed point is what makes
scrubbing idempotent. It never raises: each rule is guarded in `detect`, and if anything else
goes wrong the whole text is withheld rather than passed on unscrubbed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from worker.scrub.assignment import AssignmentRule
from worker.scrub.decoded import DecodedRule
from worker.scrub.denylist import is_denylisted
from worker.scrub.findings import Finding, Rule, detect, marker, redact
from worker.scrub.freetext import FREE_TEXT
from worker.scrub.hidden import strip_hidden
from worker.scrub.national import IBAN, NATIONAL_ID
from worker.scrub.phone import PHONE
from worker.scrub.pii import EMAIL, PII_RULES
from worker.scrub.vendors import VENDOR_RULES

log = logging.getLogger(__name__)

# The rules that read text as it is; `ALL_RULES` adds them again through decodings.
PLAIN_RULES: tuple[Rule, ...] = (
    *VENDOR_RULES, AssignmentRule(), FREE_TEXT, *PII_RULES, IBAN, NATIONAL_ID, PHONE
)
ALL_RULES: tuple[Rule, ...] = (*PLAIN_RULES, DecodedRule(PLAIN_RULES))
# For identifiers and paths (exception types, function names, file paths): only things that are
# unmistakably secret or personal, so `Foo::bar`, `v1.2.3.4` or `auth.py:12` are never touched.
NAME_RULES: tuple[Rule, ...] = (*VENDOR_RULES, EMAIL)

# Each pass only replaces spans with markers, which rules never match, so a fixed point comes
# within a pass or two; the bound only guards against a rule bug that keeps finding something.
_MAX_PASSES = 8
UNSCRUBBABLE = marker("unscrubbable")
FIELD = marker("field")


def find_secrets(text: str) -> list[Finding]:
    """Sorted, non-overlapping findings of every rule in `text` (hidden characters not stripped)."""
    return detect(text, ALL_RULES)


def scrub_text(text: str) -> str:
    """`text` with hidden characters removed and every secret replaced by `[REDACTED:<kind>]`."""
    return _scrub(text, ALL_RULES)


def scrub_name(text: str) -> str:
    """An identifier or path scrubbed of tokens, keys and emails only; otherwise unchanged."""
    return _scrub(text, NAME_RULES)


def _scrub(text: str, rules: Sequence[Rule]) -> str:
    try:
        clean = strip_hidden(text if isinstance(text, str) else str(text))
        for _ in range(_MAX_PASSES):
            findings = detect(clean, rules)
            if not findings:
                break
            clean = redact(clean, findings)
        return clean
    except Exception as exc:  # withhold the text rather than crash the caller or leak it
        log.error("scrubbing failed, text withheld: %s", type(exc).__name__)
        return UNSCRUBBABLE


def scrub_mapping(data: Mapping[str, str]) -> dict[str, str]:
    """`data` with values scrubbed, and values under denylisted keys replaced by `[REDACTED:field]`.

    Keys lose hidden characters (so `pass\\u200bword` is still seen as a password key) and any
    secret they themselves contain.
    """
    try:
        items = list(data.items())
    except Exception as exc:  # not a mapping: nothing safe to return but nothing
        log.error("scrub_mapping got %s, dropped", type(exc).__name__)
        return {}
    scrubbed: dict[str, str] = {}
    for key, value in items:
        name = scrub_text(str(key))
        scrubbed[name] = FIELD if is_denylisted(str(key)) else scrub_text(value)
    return scrubbed
