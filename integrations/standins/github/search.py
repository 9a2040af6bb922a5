"""The `q` language of GitHub's `GET /search/issues`, as far as the stand-in needs it.

A query is free text (words and "quoted phrases") plus qualifiers: `is:`/`type:` (issue, pr,
open, closed), `repo:`, `label:`, `state:` and `in:` (title, body). GitHub refuses a query that
names no result type with 422 "Query must include 'is:issue' or 'is:pull-request'", and so does
`validate`. Matching is case-insensitive substring matching, which is looser than GitHub's
tokenised index but keeps the same meaning for markers and phrases.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from integrations.standins.github.state import IssueRecord

TYPE_REQUIRED = "Query must include 'is:issue' or 'is:pull-request'"

_TYPES = {"issue": "issue", "pr": "pr", "pull-request": "pr"}
_STATES = {"open", "closed"}
_KNOWN_KEYS = {"is", "type", "repo", "label", "state", "in"}
_TOKEN = re.compile(r'(?:(?P<key>[A-Za-z-]+):)?(?:"(?P<quoted>[^"]*)"?|(?P<word>\S+))')


@dataclass
class IssueQuery:
    """A parsed `q`."""

    terms: list[str] = field(default_factory=list)
    types: set[str] = field(default_factory=set)
    repos: list[str] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)
    states: set[str] = field(default_factory=set)
    fields: set[str] = field(default_factory=set)

    def add_qualifier(self, key: str, value: str) -> bool:
        """Record `key:value`; False when it is not a qualifier this stand-in knows."""
        lowered = value.lower()
        if key in {"is", "type"} and lowered in _TYPES:
            self.types.add(_TYPES[lowered])
        elif key in {"is", "state"} and lowered in _STATES:
            self.states.add(lowered)
        elif key == "repo":
            self.repos.append(lowered)
        elif key == "label":
            self.labels.append(lowered)
        elif key == "in":
            self.fields.update(part for part in lowered.split(",") if part)
        else:
            return False
        return True


def parse(q: str) -> IssueQuery:
    """Split `q` into terms and qualifiers; unknown `key:value` tokens stay text."""
    query = IssueQuery()
    for match in _TOKEN.finditer(q):
        key = (match.group("key") or "").lower()
        value = match.group("quoted") if match.group("quoted") is not None else match.group("word")
        if key in _KNOWN_KEYS and query.add_qualifier(key, value):
            continue
        text = f"{match.group('key')}:{value}" if key else value
        if text:
            query.terms.append(text.lower())
    return query


def validate(query: IssueQuery) -> str | None:
    """GitHub's refusal message for `query`, or None when it may run."""
    if not query.types:
        return TYPE_REQUIRED
    return None


def matches(query: IssueQuery, issue: IssueRecord) -> bool:
    """True when the issue satisfies every part of `query` (the repository is checked apart)."""
    if query.types != {"pr" if issue.pull is not None else "issue"}:
        return False  # is:issue with is:pr finds nothing
    if query.states and issue.state not in query.states:
        return False
    labels = {name.lower() for name in issue.labels}
    if any(name not in labels for name in query.labels):
        return False
    fields = query.fields or {"title", "body"}
    texts = {"title": issue.title, "body": issue.body or ""}
    haystack = " ".join(text for name, text in texts.items() if name in fields).lower()
    return all(term in haystack for term in query.terms)
