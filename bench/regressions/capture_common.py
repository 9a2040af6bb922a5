"""What both crash-capture pytest plugins share: a sentry-sdk transport that keeps events in
memory, paths made relative to the scratch worktree the test runs in, and machine paths
rewritten to a stand-in deployment.

Imported inside the pytest subprocess (the runners put this folder on PYTHONPATH), so it must
run on every interpreter the builders use, Python 3.8 included.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from sentry_sdk.transport import Transport

PYTHON_ROOT = "/usr/local"  # where a deployment's interpreter and site-packages would live


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


def deployed(path: str, deploy_root: str) -> str:
    """Where ``path`` would be in a deployment: the worktree's files under ``deploy_root``, the
    interpreter's under ``PYTHON_ROOT``. Events must not carry this machine's directories."""
    rel = relative(path)
    if rel is not None:
        return f"{deploy_root}/{rel}"
    for prefix in sorted({sys.base_prefix, sys.prefix, sys.exec_prefix}, key=len, reverse=True):
        if path.startswith(prefix + os.sep):
            return PYTHON_ROOT + path[len(prefix):]
    return path
