"""Whether a change to code can have changed what it does (pure).

A commit that only reworded comments or messages, reflowed whitespace or renamed an identifier
consistently wrote lines that blame will name, yet it cannot have introduced a crash. Each hunk
is compared token by token with the lines it replaced: equal apart from string literals,
comments and one-to-one identifier renames means cosmetic.
"""

from __future__ import annotations

import re

from worker.correlate.models import Hunk

_TOKEN = re.compile(r"""
    (?P<string>[rbfuRBFU]{0,2}(?:"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'))
  | (?P<comment>(?:\#|//).*$)
  | (?P<name>[A-Za-z_$][\w$]*)
  | (?P<number>\d[\w.]*)
  | (?P<other>\S)
""", re.VERBOSE)
_KEYWORDS = frozenset({
    "if", "else", "elif", "for", "while", "return", "raise", "assert", "not", "and", "or", "in",
    "is", "def", "class", "import", "from", "try", "except", "finally", "with", "as", "yield",
    "lambda", "None", "True", "False", "pass", "break", "continue", "del", "global", "await",
    "async", "function", "const", "let", "var", "new", "throw", "catch", "null", "undefined",
    "true", "false", "func", "go", "defer", "nil", "public", "private", "static", "this",
})
_GUARD = re.compile(r"^\s*(assert\b|raise\b|throw\b|panic\(|Assert\.|assert\()")


def tokens(line: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of one line; strings collapse to one token, comments vanish."""
    found = []
    for match in _TOKEN.finditer(line):
        kind = match.lastgroup or "other"
        if kind == "comment":
            break
        found.append((kind, "" if kind == "string" else match.group()))
    return found


def _same_shape(old: list[tuple[str, str]], new: list[tuple[str, str]],
                renames: dict[str, str]) -> bool:
    if len(old) != len(new):
        return False
    for (kind_a, text_a), (kind_b, text_b) in zip(old, new, strict=True):
        if kind_a != kind_b:
            return False
        if text_a == text_b:
            continue
        if kind_a != "name" or text_a in _KEYWORDS or text_b in _KEYWORDS:
            return False
        if renames.setdefault(text_a, text_b) != text_b:
            return False
    return True


def is_cosmetic(hunk: Hunk) -> bool:
    """True when the hunk cannot change behaviour: only comments, blank lines, string texts,
    layout or consistent renames differ from the lines it replaced."""
    old = [token for line in hunk.removed for token in tokens(line)]
    new = [token for line in hunk.added for token in tokens(line)]
    return _same_shape(old, new, {})


def is_guard(line: str | None) -> bool:
    """True for a line that stops the program on purpose (assert, raise, throw, panic): the bug
    is usually whatever broke the condition it guards, not the line itself."""
    return bool(line and _GUARD.match(line))
