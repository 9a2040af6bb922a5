"""The host side of a forwarded test service: a unix socket, bound into the sandbox, whose every
connection is carried as raw TCP (a PostgreSQL or Redis session, both ways) to the one
host:port its `Forward` names, and nowhere else.

Inside the sandbox the relay (`forwarder.py`) listens on `127.0.0.1:<port>` and carries each
connection here; what the command sends is never read for a destination, so it cannot choose
one. A connection that cannot be made, or that would go beyond the open-connection limit, is
closed at once, logged on `suture.sandbox.forward` and handed to `on_refused`, as the egress
proxy does with its refusals.
"""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable
from pathlib import Path

from integrations.sandbox.egress import EgressRefusal
from integrations.sandbox.forwarder import relay
from integrations.sandbox.unixserver import UnixServer
from worker.fix.models import Forward

log = logging.getLogger("suture.sandbox.forward")


class PortForward(UnixServer):
    """Relays connections on `socket_path` to `forward`'s target while started."""

    what = "test-service forwarder"

    def __init__(self, socket_path: Path, forward: Forward,
                 on_refused: Callable[[EgressRefusal], None] | None = None,
                 connect_timeout: float = 10.0,
                 on_allowed: Callable[[str, int], None] | None = None) -> None:
        super().__init__(socket_path)
        self.forward = forward
        self.refused: list[EgressRefusal] = []
        self._on_refused = on_refused
        self._on_allowed = on_allowed
        self._connect_timeout = connect_timeout

    def serve(self, client: socket.socket) -> None:
        """Connect to the target and relay both ways until both sides are done."""
        target = (self.forward.target_host, self.forward.target_port)
        try:
            upstream = socket.create_connection(target, timeout=self._connect_timeout)
        except OSError as error:
            self._refuse(f"cannot connect: {error}")
            return
        try:
            upstream.settimeout(None)
            self.track(upstream)
            log.info("forward allowed: sandbox port %s to %s:%s", self.forward.port, *target)
            if self._on_allowed:
                self._on_allowed(*target)
            relay(client, upstream)
        finally:
            self.untrack_close(upstream)

    def overloaded(self, client: socket.socket) -> None:
        """Record a connection turned away for the limit (the caller closes it)."""
        self._refuse("too many open connections")

    def _refuse(self, reason: str) -> None:
        forward = self.forward
        refusal = EgressRefusal(host=forward.target_host, port=forward.target_port,
                                request=f"forward from sandbox port {forward.port}",
                                reason=reason)
        with self._lock:
            self.refused.append(refusal)
        log.warning("forward refused: sandbox port %s to %s:%s (%s)", forward.port,
                    forward.target_host, forward.target_port, reason)
        if self._on_refused:
            self._on_refused(refusal)
