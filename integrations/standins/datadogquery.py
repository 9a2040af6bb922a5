"""The subset of Datadog's search syntax the Datadog stand-in evaluates: all suture sends.

`SearchQuery` parses `key:value`, `key:(a OR b)` (values may use `*` wildcards), `@attribute:*`,
free text (searched in the message), AND/OR/NOT (and `-term`) and parentheses. It knows nothing
about logs or issues: `matches` reads a resource's fields through a `Lookup`, which gives the
values of a key (the message for the empty key).
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable

Lookup = Callable[[str], list[str]]

_TOKEN = re.compile(r'\s*(?:(?P<group>[^\s()]+:\([^)]*\))|(?P<open>\()|(?P<close>\))'
                    r'|(?P<word>"[^"]*"|[^\s()]+))')


class SearchQuery:
    """A parsed search query: `matches(lookup)` where `lookup(key)` gives a field's values."""

    def __init__(self, text: str) -> None:
        self._tokens = [m.group(m.lastgroup or "word").strip() for m in _TOKEN.finditer(text)
                        if m.group(m.lastgroup or "word").strip()]
        self._pos = 0
        self._predicate = self._disjunction()
        if self._pos != len(self._tokens):
            raise ValueError(f"unexpected {self._tokens[self._pos]!r} in query")

    def matches(self, lookup: Lookup) -> bool:
        """True when the resource whose fields `lookup` reads satisfies the query."""
        return self._predicate(lookup)

    def _peek(self) -> str | None:
        return self._tokens[self._pos] if self._pos < len(self._tokens) else None

    def _disjunction(self) -> Callable[[Lookup], bool]:
        parts = [self._conjunction()]
        while self._peek() == "OR":
            self._pos += 1
            parts.append(self._conjunction())
        return lambda lookup: any(part(lookup) for part in parts)

    def _conjunction(self) -> Callable[[Lookup], bool]:
        parts = [self._unary()]
        while self._peek() not in (None, "OR", ")"):
            if self._peek() == "AND":
                self._pos += 1
            parts.append(self._unary())
        return lambda lookup: all(part(lookup) for part in parts)

    def _unary(self) -> Callable[[Lookup], bool]:
        token = self._peek()
        if token is None or token in (")", "OR", "AND"):
            raise ValueError("incomplete query")
        self._pos += 1
        if token == "NOT" or (token.startswith("-") and len(token) > 1):
            if token != "NOT":
                self._tokens.insert(self._pos, token[1:])
            inner = self._unary()
            return lambda lookup: not inner(lookup)
        if token == "(":
            inner = self._disjunction()
            if self._peek() != ")":
                raise ValueError("unbalanced parentheses in query")
            self._pos += 1
            return inner
        return _term(token)


def _term(token: str) -> Callable[[Lookup], bool]:
    if token == "*":
        return lambda lookup: True
    key, sep, value = token.partition(":")
    if not sep or token.startswith('"'):  # free text searches the message
        return lambda lookup: any(token.strip('"').lower() in v.lower() for v in lookup(""))
    if value.startswith("(") and value.endswith(")"):
        options = [v.strip().strip('"') for v in value[1:-1].split(" OR ")]
    else:
        options = [value.strip('"')]

    def matches(lookup: Lookup) -> bool:
        found = lookup(key)
        if options == ["*"]:
            return bool(found)
        return any(fnmatch.fnmatchcase(v.lower(), o.lower()) for v in found for o in options)

    return matches
