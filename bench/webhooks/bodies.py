"""Distinct, correctly signed Sentry webhooks for the load clients.

A recorded alert (`sentry/webhook-event-alert-triggered.json`) is the template; each body
differs in its event id (a run tag and a counter), so none is a duplicate of another. The files
hold the template once and one "signature id" line per body, which keeps the clients' memory
small: `template.txt` (prefix, suffix) and `signed.txt`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path

from integrations.standins.base import recorded

MARKER = "@@EVENT-ID@@"


@dataclass(frozen=True)
class Bodies:
    """Where the bodies are, and how to rebuild one."""

    folder: Path
    prefix: bytes
    suffix: bytes
    count: int

    def body(self, event_id: str) -> bytes:
        """The body with `event_id`."""
        return self.prefix + event_id.encode() + self.suffix

    def lines(self) -> list[tuple[str, str]]:
        """(signature, event id) of every body."""
        return [tuple(line.split(" ")) for line in  # type: ignore[misc]
                (self.folder / "signed.txt").read_text().splitlines()]


def write_bodies(folder: Path, count: int, secret: str) -> Bodies:
    """`count` distinct bodies signed with `secret`, in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    payload["data"]["event"]["event_id"] = MARKER
    text = json.dumps(payload, separators=(",", ":")).encode()
    prefix, suffix = text.split(MARKER.encode())
    (folder / "template.txt").write_bytes(prefix + b"\n" + suffix + b"\n")
    base = hmac.new(secret.encode(), prefix, hashlib.sha256)
    tag = secrets.token_hex(4)
    with (folder / "signed.txt").open("w") as out:
        for n in range(count):
            event_id = f"{tag}{n:024x}"
            mac = base.copy()
            mac.update(event_id.encode() + suffix)
            out.write(f"{mac.hexdigest()} {event_id}\n")
    return Bodies(folder, prefix, suffix, count)
