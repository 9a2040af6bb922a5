"""What both crash-capture pytest plugins share: a sentry-sdk transport that keeps events in
memory, and paths made relative to the scratch worktree the test runs in.

Imported inside the pytest subprocess (the runners put this folder on PYTHONPATH), so it must
run on every interpreter the builders use, Python 3.8 included.
"""

from __future__ import annotations

import os
from typing import Any

from sentry_sdk.transport import Transport


class MemoryTransport(Transport):
    """A sentry-sdk transport that keeps the events it is given instead of sending them."""

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        super().__init__(options)
        self.events: list[dict[str, Any]] = []

    def capture_envelope(self, envelope: Any) -> None:
        """Keep the envelope's event, if it carries one."""
        event = envelope.get_event()
        if event is not None:
            self.events.append(event)


def relative(path: str) -> str | None:
    """``path`` relative to the worktree (``BENCH_WORKTREE``, else the working directory), or
    None when it lies outside it."""
    root = os.path.realpath(os.environ.get("BENCH_WORKTREE") or os.getcwd())
    real = os.path.realpath(path)
    if real == root or not real.startswith(root + os.sep):
        return None
    return os.path.relpath(real, root).replace(os.sep, "/")
