"""Moved code: a line a commit only moved (it removed the same text elsewhere) was not written by
it (pure).

Blame stops at the commit that last put a line where it is. After a refactor that moved a
function into another module, every line of it blames the refactor, so it outscores the commit
that really changed the code. Only blame is corrected: in a commit's own hunks a moved
statement can change what the code does (it runs in another order, under another condition),
and on the benchmark discounting moved lines there cost three culprits a place. On the
real-regression benchmark no culprit's blamed crashing line was one it had moved, while 5 of
the 40 other top-three suspects with a blamed crashing line had moved theirs.
"""

from __future__ import annotations

from collections.abc import Iterable

# Shorter lines (`else:`, `return None`, `)`) recur everywhere; that one of them was removed
# elsewhere in the same commit says nothing about where this one came from.
MIN_TEXT = 12


def normal(text: str) -> str:
    """A line's text as compared for moves: indentation and trailing space do not count."""
    return text.strip()


def removed_texts(lines: Iterable[str]) -> frozenset[str]:
    """The removed lines of one commit that can tell a move: long enough to be distinctive."""
    return frozenset(text for text in map(normal, lines) if len(text) >= MIN_TEXT)


def is_moved(text: str | None, removed: frozenset[str]) -> bool:
    """Whether a line with this text, added by a commit that removed `removed`, was moved."""
    return bool(text) and normal(text or "") in removed
