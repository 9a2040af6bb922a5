"""Whether a change to code can have changed what it does (pure).

A commit that only reworded comments or messages, reflowed or reformatted code, annotated
signatures, sorted imports or renamed an identifier consistently wrote lines that blame will
name, yet it cannot have introduced a crash. Each run of nearby hunks is compared token by token
with the lines it replaced: equal apart from string literals, comments, layout punctuation,
signature annotations and one-to-one identifier renames means cosmetic.
"""

from __future__ import annotations

import ast
import re
import textwrap
from collections import Counter

from worker.vcs import Hunk

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


# What formatters and annotation upgrades change without changing behaviour: the annotations of
# a Python signature, and the commas and brackets that wrapping a call or a signature adds or
# drops.
_LAYOUT = frozenset(",()[]\\")
_BOT = re.compile(r"\[bot\]|^(dependabot|renovate|pre-commit-ci|github-actions)\b", re.I)
Token = tuple[str, str]


def _raw(line: str) -> list[Token]:
    """(kind, text) tokens of one line up to its comment; a string is one token."""
    found = []
    for match in _TOKEN.finditer(line):
        kind = match.lastgroup or "other"
        if kind == "comment":
            break
        found.append((kind, "" if kind == "string" else match.group()))
    return found


def tokens(lines: list[str]) -> list[Token]:
    """The tokens of consecutive lines that count for behaviour: comments, the annotations of
    `def` signatures (over as many lines as the signature takes) and layout punctuation go."""
    stream = _unannotated([token for line in lines for token in _raw(line)])
    return [token for token in stream if not (token[0] == "other" and token[1] in _LAYOUT)]


def _unannotated(stream: list[Token]) -> list[Token]:
    kept: list[Token] = []
    index = 0
    while index < len(stream):
        kept.append(stream[index])
        if (stream[index] == ("name", "def") and index + 2 < len(stream)
                and stream[index + 1][0] == "name" and stream[index + 2] == ("other", "(")):
            kept.extend(stream[index + 1: index + 3])
            index = _parameters(stream, index + 3, kept)
            index = _past_return_annotation(stream, index)
            continue
        index += 1
        if stream[index - 1] == ("other", ")"):  # the end of a signature begun above the hunk
            index = _past_return_annotation(stream, index)
    return kept


def _parameters(stream: list[Token], index: int, kept: list[Token]) -> int:
    """Keeps a parameter list without its annotations; returns the index after its `)`."""
    depth, state = 1, "name"  # name, then annotation (skipped), then default (kept)
    while index < len(stream) and depth:
        kind, text = stream[index]
        index += 1
        if kind == "other":
            depth += (text in "([{") - (text in ")]}")
            if depth == 1 and text == ":" and state == "name":
                state = "annotation"
                continue
            ends = depth == 0 or (depth == 1 and text == ",")
            if ends or (depth == 1 and text == "=" and state != "default"):
                state = "name" if ends else "default"
                kept.append((kind, text))
                continue
        if state != "annotation":
            kept.append((kind, text))
    return index


def _past_return_annotation(stream: list[Token], index: int) -> int:
    """The index of the `:` after `-> annotation`, or `index` when there is no annotation."""
    if stream[index: index + 2] != [("other", "-"), ("other", ">")]:
        return index
    depth = 0
    for position in range(index + 2, len(stream)):
        kind, text = stream[position]
        if kind == "other":
            depth += (text in "([{") - (text in ")]}")
            if depth == 0 and text == ":":
                return position
    return index


def is_bot(author: str, email: str) -> bool:
    """True for an automated author (formatters, dependency bumps): its changes are mechanical."""
    return bool(_BOT.search(author) or _BOT.search(email))


def renames(hunk: Hunk) -> Counter[tuple[str, str]] | None:
    """The identifier renames that explain the hunk (counted), or None when something that
    changes behaviour differs: code added or removed, a keyword, number or operator changed."""
    return _renames(hunk.removed, hunk.added)


def _renames(removed: list[str], added: list[str]) -> Counter[tuple[str, str]] | None:
    old, new = tokens(removed), tokens(added)
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
    be a call to another function.

    Hunks of a file only a few unchanged lines apart are compared as one: a formatter that
    rewraps code moves tokens across the unchanged lines that split its hunks. Hunks further
    apart are compared alone, so code moved elsewhere in the file is not mistaken for layout.
    Python imports sorted, split or moved count as layout when each file imports the same
    names as before."""
    total: Counter[tuple[str, str]] = Counter()
    imports: dict[str, tuple[Counter[Imported], Counter[Imported]]] = {}
    for path, removed, added in _runs(hunks):
        found = _renames(removed, added)
        if found is not None:
            total.update(found)
            continue
        before, after = imported(removed), imported(added)
        if before is None or after is None:
            return False
        pooled = imports.setdefault(path, (Counter(), Counter()))
        pooled[0].update(before)
        pooled[1].update(after)
    if any(before != after for before, after in imports.values()):
        return False
    targets: dict[str, str] = {}
    for (old, new), count in total.items():
        if count < 2 or targets.setdefault(old, new) != new:
            return False
    return bool(hunks)


Imported = tuple[str, str, str]  # module (with its leading dots), name, alias


def imported(lines: list[str]) -> Counter[Imported] | None:
    """What whole Python import statements import, or None when the lines hold anything else."""
    text = textwrap.dedent("\n".join(lines))
    if not text.strip():
        return Counter()
    if not text.lstrip().startswith(("import ", "from ")):  # not worth parsing
        return None
    try:
        statements = ast.parse(text).body
    except (SyntaxError, ValueError):
        return None
    found: Counter[Imported] = Counter()
    for statement in statements:
        if isinstance(statement, ast.Import):
            found.update((alias.name, "", alias.asname or "") for alias in statement.names)
        elif isinstance(statement, ast.ImportFrom):
            module = "." * statement.level + (statement.module or "")
            found.update((module, alias.name, alias.asname or "") for alias in statement.names)
        else:
            return None
    return found


RUN_GAP = 3  # unchanged lines that may separate the hunks of one rewrapped statement


def _runs(hunks: list[Hunk]) -> list[tuple[str, list[str], list[str]]]:
    """Path, removed and added lines of each run of nearby hunks in the same file."""
    runs: list[tuple[str, list[str], list[str]]] = []
    previous: Hunk | None = None
    for hunk in sorted(hunks, key=lambda h: (h.path, h.old_start)):
        near = (previous is not None and previous.path == hunk.path
                and hunk.old_start - (previous.old_start + previous.old_count) <= RUN_GAP)
        if not near:
            runs.append((hunk.path, [], []))
        runs[-1][1].extend(hunk.removed)
        runs[-1][2].extend(hunk.added)
        previous = hunk
    return runs


def is_guard(line: str | None) -> bool:
    """True for a line that stops the program on purpose (assert, raise, throw, panic): the bug
    is usually whatever broke the condition it guards, not the line itself."""
    return bool(line and _GUARD.match(line))
