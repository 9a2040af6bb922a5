"""Whether a change to code can have changed what it does (pure).

A commit that only reworded comments or messages, reflowed whitespace or renamed an identifier
consistently wrote lines that blame will name, yet it cannot have introduced a crash. Each hunk
is compared token by token with the lines it replaced: equal apart from string literals,
comments and one-to-one identifier renames means cosmetic.
"""

from __future__ import annotations

import re
from collections import Counter

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


# What formatters and annotation upgrades change without changing behaviour: a Python return
# annotation, and the commas and brackets that wrapping a call or a signature adds or drops.
_RETURN_ANNOTATION = re.compile(r"\)\s*->[^:]*:\s*(#.*)?$")
_LAYOUT = frozenset(",()[]\\")
_DEF = re.compile(r"^\s*(?:async\s+)?def\s+\w+\s*\(")
_BOT = re.compile(r"\[bot\]|^(dependabot|renovate|pre-commit-ci|github-actions)\b", re.I)


def without_parameter_annotations(line: str) -> str:
    """A Python `def` line with its parameters' annotations taken out (`x: int = 1` reads
    `x = 1`): adding or changing annotations does not change what the function does."""
    opening = _DEF.match(line)
    if not opening:
        return line
    kept, depth, skipping = [line[: opening.end()]], 1, False
    for match in _TOKEN.finditer(line, opening.end()):
        text = match.group()
        if match.lastgroup == "other":
            if depth == 1 and text == ":" and not skipping:
                skipping = True
                continue
            depth += (text in "([{") - (text in ")]}")
            if skipping and (depth == 0 or (depth == 1 and text in ",=")):
                skipping = False
        if not skipping:
            kept.append(text)
        if depth == 0:  # the parameters are closed: keep the rest as it is
            kept.append(line[match.end():])
            break
    return " ".join(kept)


def tokens(line: str) -> list[tuple[str, str]]:
    """(kind, text) tokens of one line; strings collapse to one token, comments, annotations
    and layout punctuation vanish."""
    found = []
    line = without_parameter_annotations(_RETURN_ANNOTATION.sub("):", line))
    for match in _TOKEN.finditer(line):
        kind = match.lastgroup or "other"
        if kind == "comment":
            break
        if kind == "other" and match.group() in _LAYOUT:
            continue
        found.append((kind, "" if kind == "string" else match.group()))
    return found


def is_bot(author: str, email: str) -> bool:
    """True for an automated author (formatters, dependency bumps): its changes are mechanical."""
    return bool(_BOT.search(author) or _BOT.search(email))


def renames(hunk: Hunk) -> Counter[tuple[str, str]] | None:
    """The identifier renames that explain the hunk (counted), or None when something that
    changes behaviour differs: code added or removed, a keyword, number or operator changed."""
    old = [token for line in hunk.removed for token in tokens(line)]
    new = [token for line in hunk.added for token in tokens(line)]
    if len(old) != len(new):
        return None
    found: Counter[tuple[str, str]] = Counter()
    for (kind_a, text_a), (kind_b, text_b) in zip(old, new, strict=True):
        if kind_a != kind_b:
            return None
        if text_a == text_b:
            continue
        if kind_a != "name" or text_a in _KEYWORDS or text_b in _KEYWORDS:
            return None
        found[(text_a, text_b)] += 1
    return found


def is_cosmetic(hunks: list[Hunk]) -> bool:
    """True when a commit's hunks cannot change behaviour: only comments, blank lines, string
    texts, layout or renames differ from the lines they replaced. A rename must be consistent
    (one new name per old name) and made at least twice: one name swapped once may as well
    be a call to another function."""
    total: Counter[tuple[str, str]] = Counter()
    for hunk in hunks:
        found = renames(hunk)
        if found is None:
            return False
        total.update(found)
    targets: dict[str, str] = {}
    for (old, new), count in total.items():
        if count < 2 or targets.setdefault(old, new) != new:
            return False
    return bool(hunks)


def is_guard(line: str | None) -> bool:
    """True for a line that stops the program on purpose (assert, raise, throw, panic): the bug
    is usually whatever broke the condition it guards, not the line itself."""
    return bool(line and _GUARD.match(line))
