"""What one sandboxed command reached on the network and where it was turned away, for its
`CommandResult`.

The egress proxy and the test-service forwarders report each connection they relay
(`allowed`) and each they refuse (`refused`); a `ReachLog` made for one command keeps them as
short lines: `host:port` once each in first-seen order, and `host:port: reason` for refusals.
Both lists are bounded, so a command that opens connections in a loop cannot grow its record
without end. The host, port and request line come from the untrusted command: control and
other unprintable characters are escaped here, and the lines are clipped; they are scrubbed
where they are stored and shown like any other command text.
"""

from __future__ import annotations

import threading

from integrations.sandbox.egress import EgressRefusal
from worker.fix.models import CommandResult

MAX_ENTRIES = 50  # distinct lines kept in each list
MAX_LINE = 200  # characters of one line


def printable(text: str) -> str:
    """`text` with every unprintable character escaped (`\\n`, `\\x1b`, ...)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def where(host: str, port: int | None) -> str:
    """`host:port` as recorded (an IPv6 address in brackets)."""
    shown = f"[{host}]" if ":" in host and not host.startswith("[") else host
    return printable(f"{shown}:{port}" if port is not None else shown)[:MAX_LINE]


def refusal_line(refusal: EgressRefusal) -> str:
    """One refusal as `host:port: reason`, or `request line: reason` without a host."""
    target = where(refusal.host, refusal.port) if refusal.host else \
        printable(repr(refusal.request[:MAX_LINE]))
    return f"{target}: {printable(refusal.reason)}"[:MAX_LINE]


class ReachLog:
    """One command's connections, recorded from the proxy's threads (see the module doc)."""

    def __init__(self, limit: int = MAX_ENTRIES) -> None:
        self._limit = limit
        self._lock = threading.Lock()
        self._reached: dict[str, None] = {}
        self._refused: dict[str, None] = {}
        self._dropped: dict[int, int] = {}  # lines not kept once a list was full, by list

    def allowed(self, host: str, port: int) -> None:
        """A connection to `host:port` was relayed."""
        self._add(self._reached, where(host, port))

    def refused(self, refusal: EgressRefusal) -> None:
        """A connection was refused (or could not be made)."""
        self._add(self._refused, refusal_line(refusal))

    def _add(self, lines: dict[str, None], line: str) -> None:
        with self._lock:
            if line in lines:
                return
            if len(lines) >= self._limit:
                self._dropped[id(lines)] = self._dropped.get(id(lines), 0) + 1
                return
            lines[line] = None

    def fill(self, result: CommandResult) -> CommandResult:
        """`result` with what was reached and refused so far."""
        with self._lock:
            reached, refused = self._listed(self._reached), self._listed(self._refused)
        return result.model_copy(update={"reached": reached, "refused": refused})

    def _listed(self, lines: dict[str, None]) -> list[str]:
        dropped = self._dropped.get(id(lines), 0)
        return list(lines) + ([f"... and {dropped} more not listed"] if dropped else [])
