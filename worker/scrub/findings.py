"""Findings (spans of text holding a secret) and the machinery every detection rule shares.

A rule turns text into findings; `detect` runs a list of rules, each guarded so a bug in one
never stops the others or the caller, and merges what they found into sorted, non-overlapping
spans. Merging takes the union of overlapping spans rather than picking one, so a secret that
two rules see differently is always covered completely. `redact` replaces each span with a
`[REDACTED:<kind>]` marker; rules never match inside an existing marker, which keeps
redaction idempotent.
"""

from __future__ import annotations

import logging
import re
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger(__name__)

# Every kind a marker can name. Markers are recognised only with one of these kinds, so text
# dressed up as a marker (`"[REDACTED:hunter2]"`) is not mistaken for one and left unscrubbed.
KINDS: frozenset[str] = frozenset(
    {
        *("private-key", "url-credentials", "slack-webhook", "slack-token", "github-token"),
        *("sentry-token", "gitlab-token", "npm-token", "aws-access-key-id", "aws-secret-key"),
        *("stripe-key", "anthropic-key", "openai-key", "google-api-key", "datadog-key", "jwt"),
        *("bearer", "basic-auth", "password", "secret", "email", "credit-card", "ipv4", "ipv6"),
        *("phone", "iban", "national-id", "field", "unscrubbable"),
    }
)
MARKER = re.compile(r"\[REDACTED:(?:" + "|".join(sorted(KINDS)) + r")\]")


def marker(kind: str) -> str:
    """The text that replaces a redacted span of `kind`."""
    return f"[REDACTED:{kind}]"


@dataclass(frozen=True, slots=True)
class Finding:
    """A secret of `kind` at `text[start:end]`."""

    kind: str
    start: int
    end: int


class Rule(Protocol):
    """One detector: a stable name (used in logs) and a way to find spans in text."""

    # Read-only: rules are frozen dataclasses or classes with a constant name.
    @property
    def name(self) -> str:
        """The rule's stable name."""
        ...

    def find(self, text: str) -> Iterable[Finding]:
        """Every span of `text` this rule considers secret (may overlap other rules' spans)."""
        ...


@dataclass(frozen=True)
class PatternRule:
    """A rule that is one regular expression.

    `group` selects the secret part of a match (a URL rule keeps the host, say); `accept`
    rejects matches a pattern alone cannot rule out (a failed Luhn check, a loopback address);
    trailing characters in `trim` are given back (a sentence's full stop after a token).
    """

    name: str
    pattern: re.Pattern[str]
    group: int | str = 0
    accept: Callable[[re.Match[str]], bool] | None = None
    trim: str = ""

    def find(self, text: str) -> Iterator[Finding]:
        """Spans of `text` matched by the pattern and accepted."""
        for match in self.pattern.finditer(text):
            if self.accept is not None and not self.accept(match):
                continue
            start, end = match.span(self.group)
            while end > start and text[end - 1] in self.trim:
                end -= 1
            if end > start:
                yield Finding(self.name, start, end)


def detect(text: str, rules: Sequence[Rule]) -> list[Finding]:
    """Merged findings of `rules` over `text`, sorted, non-overlapping.

    Where spans overlap, the kind of the one starting first wins (on a tie, the longer one,
    then the rule earlier in `rules`).
    """
    found: list[tuple[int, int, int, str]] = []
    for rank, rule in enumerate(rules):
        try:
            found.extend((f.start, -f.end, rank, f.kind) for f in rule.find(text))
        except Exception as exc:  # one broken rule must not stop the others
            log.warning("scrub rule %s failed: %s", rule.name, type(exc).__name__)
    markers = [m.span() for m in MARKER.finditer(text)]
    starts = [m_start for m_start, _ in markers]
    spans = sorted(f for f in found if not _inside_marker(f[0], -f[1], markers, starts))
    return _merge(spans)


def _inside_marker(start: int, end: int, markers: list[tuple[int, int]], starts: list[int]) -> bool:
    # Markers never overlap, so only the last one starting at or before `start` can contain it.
    index = bisect_right(starts, start) - 1
    return index >= 0 and end <= markers[index][1]


def _merge(spans: Iterable[tuple[int, int, int, str]]) -> list[Finding]:
    merged: list[Finding] = []
    for start, negative_end, _rank, kind in spans:
        end = -negative_end
        if merged and start < merged[-1].end:
            last = merged[-1]
            if end > last.end:
                merged[-1] = Finding(last.kind, last.start, end)
            continue
        merged.append(Finding(kind, start, end))
    return merged


def redact(text: str, findings: Sequence[Finding]) -> str:
    """`text` with each finding (sorted, non-overlapping) replaced by its marker."""
    pieces: list[str] = []
    cursor = 0
    for finding in findings:
        pieces.append(text[cursor : finding.start])
        pieces.append(marker(finding.kind))
        cursor = finding.end
    pieces.append(text[cursor:])
    return "".join(pieces)
