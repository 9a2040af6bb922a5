"""Shortening titles: at a word boundary, with an ellipsis, never past the limit.

Every place suture bounds a title (tickets, pull and merge requests, notifications, stored
cluster titles, run reasons) cuts it here, so a cut title never ends mid-word as
"ZeroDivisionError in shop.pri…" would. A title whose first word alone is longer than the limit
(a long path or identifier) has no boundary to cut at and is cut inside that word.
"""

from __future__ import annotations

ELLIPSIS = "…"


def shorten(text: str, limit: int) -> str:
    """`text` within `limit` characters; when too long, cut at the last whitespace that leaves
    room for the ellipsis, trailing whitespace dropped, and the ellipsis appended."""
    if limit < 1:
        raise ValueError(f"a title limit must be at least 1, got {limit}")
    if len(text) <= limit:
        return text
    room = limit - len(ELLIPSIS)
    # The character right after the kept part must be whitespace for the cut to end a word.
    boundary = next((index for index in range(room, 0, -1) if text[index].isspace()), 0)
    kept = text[:boundary].rstrip()
    if not kept:
        kept = text[:room]  # one word longer than the limit: nothing else to cut at
    return kept + ELLIPSIS


def one_line(text: str, limit: int, fallback: str = "") -> str:
    """`text` on one line (whitespace runs become one space), shortened to `limit`;
    `fallback` when nothing is left."""
    flat = " ".join(text.split())
    return shorten(flat, limit) if flat else fallback
