"""Removal of characters a reader cannot see, before any detection runs.

Attacker-controlled text can hide a token from a pattern by splitting it with a zero-width space,
or smuggle instructions to a language model in Unicode tag characters or bidi overrides that
render as nothing (or as something else). Stripping them first means every later rule sees the
text a machine would act on, and nothing invisible reaches a ticket, pull request or prompt.
"""

from __future__ import annotations

import re

# C0 and C1 controls except tab, newline and carriage return; soft hyphen; Arabic letter mark;
# Mongolian vowel separator; zero-width and directional marks (U+200B-U+200F); bidi embeddings
# and overrides (U+202A-U+202E); word joiner and invisible operators (U+2060-U+2064, and the
# unassigned U+2065 between them); bidi isolates (U+2066-U+2069); byte order mark / zero-width
# no-break space; interlinear annotation controls; Unicode tag characters (U+E0000-U+E007F);
# lone surrogates, which are invisible and cannot even be encoded to write the text out.
_HIDDEN = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u202a-\u202e"
    "\u2060-\u2069\ud800-\udfff\ufeff\ufff9-\ufffb\U000e0000-\U000e007f]"
)


def strip_hidden(text: str) -> str:
    """`text` without invisible, control, directional-override and tag characters."""
    return _HIDDEN.sub("", text)
