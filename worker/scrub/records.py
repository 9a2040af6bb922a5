"""Scrubbing of derived records before they are stored: JSON-like values and patches.

What the stages derive from an event (correlation frames and source lines, agents' transcripts,
patches) can carry the event's values onward, so it is scrubbed like the event itself before it
is written to the store. A patch is special: its context and removed lines are the repository's
own text and must stay byte-exact for the patch to apply, so only the lines it adds are scrubbed;
those are what an agent wrote, and the only place event data can enter a patch.
"""

from __future__ import annotations

from typing import Any

from worker.scrub.denylist import is_denylisted
from worker.scrub.text import FIELD, scrub_text


def scrub_value(value: Any) -> Any:
    """A JSON-like value with every string scrubbed and values under denylisted keys replaced,
    at any depth; numbers that hold a secret (a card sent as a number) become markers."""
    if isinstance(value, dict):
        return {scrub_text(str(key)): FIELD if is_denylisted(str(key)) and item not in (
                    None, "", [], {}) else scrub_value(item)
                for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(item) for item in value]
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        cleaned = scrub_text(str(value))
        return value if cleaned == str(value) else cleaned
    return value


def scrub_patch(patch: str) -> str:
    """A unified diff with the lines it adds scrubbed; everything else byte for byte."""
    lines = patch.splitlines(keepends=True)
    for index, line in enumerate(lines):
        if line.startswith("+") and not line.startswith("+++ "):
            body = line[1:]
            ending = body[len(body.rstrip("\r\n")):]
            lines[index] = "+" + scrub_text(body.rstrip("\r\n")) + ending
    return "".join(lines)
