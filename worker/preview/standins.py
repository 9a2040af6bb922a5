"""Placeholders for values the scrubber removes from a request before it is replayed.

A replayed request must never carry a secret from production to a preview, yet the application
should still get a value of the right shape where one was (an email where an email was, so form
validation does not turn a crash into a 400). `stand_in` scrubs a value and swaps each
`[REDACTED:<kind>]` marker, and Sentry's own `[Filtered]`, for a harmless value of that kind.
`Placeholders` collects the names of the fields that got one, for the pull request to list.
"""

from __future__ import annotations

import re
from typing import Any

from worker.scrub import is_denylisted, scrub_text
from worker.scrub.findings import MARKER

PLACEHOLDER = "suture-placeholder"
# Documentation ranges and test numbers: valid in shape, owned by nobody.
_BY_KIND = {
    "email": "placeholder@example.com",
    "ipv4": "192.0.2.1",
    "ipv6": "2001:db8::1",
    "credit-card": "4111111111111111",
    "url-credentials": "placeholder:placeholder",
}
# What Sentry's server-side scrubbing leaves in place of a value it removed.
_UPSTREAM = re.compile(r"\[Filtered\]")
_LABEL_CHARS = 80
_MAX_LABELS = 50


def _for_marker(match: re.Match[str]) -> str:
    kind = match.group()[len("[REDACTED:"):-1]
    return _BY_KIND.get(kind, PLACEHOLDER)


def stand_in(value: str) -> tuple[str, bool]:
    """`value` scrubbed, with each removed span replaced by a placeholder; True if any was."""
    scrubbed = scrub_text(value)
    replaced = _UPSTREAM.sub(PLACEHOLDER, MARKER.sub(_for_marker, scrubbed))
    return replaced, replaced != scrubbed


def flagged(value: str) -> bool:
    """True when the scrubber would remove any part of `value` (or Sentry already did)."""
    return stand_in(value)[1]


class Placeholders:
    """The fields of one request that were given placeholders, in order, each named once."""

    def __init__(self) -> None:
        self.labels: list[str] = []

    def add(self, label: str) -> None:
        """Record that the field `label` (e.g. `query:token`) holds a placeholder."""
        clean = scrub_text(label)[:_LABEL_CHARS]
        if clean not in self.labels and len(self.labels) < _MAX_LABELS:
            self.labels.append(clean)

    def text(self, label: str, value: str) -> str:
        """`value` with placeholders where the scrubber removed something, recorded as `label`."""
        replaced, changed = stand_in(value)
        if changed:
            self.add(label)
        return replaced

    def secret(self, label: str, name: str, value: Any) -> bool:
        """True, and `label` recorded, when `value` stored under `name` must be a placeholder
        outright: the name is secret-bearing (`password`, `api_key`...) and the value not empty."""
        if is_denylisted(name) and value not in (None, "", [], {}):
            self.add(label)
            return True
        return False

    def json(self, value: Any, label: str) -> Any:
        """A parsed JSON value with secret-bearing keys and scrubbed spans replaced, any depth."""
        if isinstance(value, dict):
            result: dict[str, Any] = {}
            for key, item in value.items():
                name = self.text(f"{label}.<key>", str(key))
                where = f"{label}.{name}"
                secret = self.secret(where, str(key), item)
                result[name] = PLACEHOLDER if secret else self.json(item, where)
            return result
        if isinstance(value, list):
            return [self.json(item, f"{label}[{index}]") for index, item in enumerate(value)]
        if isinstance(value, str):
            return self.text(label, value)
        if isinstance(value, int | float) and not isinstance(value, bool):
            # A card number sent as a JSON number is still a card number.
            replaced = self.text(label, str(value))
            if replaced == str(value):
                return value
            return int(replaced) if replaced.isdigit() else replaced
        return value
