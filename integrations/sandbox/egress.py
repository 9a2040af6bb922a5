"""The host-side egress proxy of a sandbox: a small HTTP proxy on a unix socket that lets a
sandboxed command reach only the hosts its policy allows, and records every connection it refuses.

It speaks just enough HTTP/1.x to read where a client wants to go: `CONNECT host:port` (tunnels,
used for HTTPS) and absolute-URI requests (`GET http://host/path`, plain HTTP). The host must
match an allowlist entry exactly (case-insensitive); an entry `host` allows ports 443 and 80, an
entry `host:port` allows that port only. Everything else gets a 403 and is logged on
`suture.sandbox.egress` and handed to `on_refused`; each connection relayed is handed to
`on_allowed`. Request heads come from an untrusted command,
so they are parsed as data, bounded in size, and logged with their control characters escaped.
"""

from __future__ import annotations

import contextlib
import logging
import socket
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from integrations.sandbox.forwarder import relay
from integrations.sandbox.request import ProxyRequest, RequestError, parse_request, read_head
from integrations.sandbox.unixserver import UnixServer

log = logging.getLogger("suture.sandbox.egress")

DEFAULT_PORTS = frozenset({80, 443})
HEAD_TIMEOUT = 30.0  # seconds a client may take to say where it wants to go
MAX_CONNECTIONS = 64  # open at once, per sandboxed command


class EgressRefusal(BaseModel):
    """One connection the proxy refused: where it wanted to go and why it may not."""

    host: str = ""
    port: int | None = None
    request: str = ""  # the request line, clipped
    reason: str


class Allowlist:
    """Which host:port pairs may be reached; see the module docstring for the entry syntax."""

    def __init__(self, entries: list[str]) -> None:
        self._ports: dict[str, frozenset[int]] = {}
        for entry in entries:
            host, port = _split_entry(entry)
            known = self._ports.get(host, frozenset())
            self._ports[host] = known | ({port} if port else DEFAULT_PORTS)

    def allows(self, host: str, port: int) -> bool:
        """Whether `host:port` is on the list (host compared case-insensitively)."""
        ports = self._ports.get(normal_host(host))
        return ports is not None and port in ports


def normal_host(host: str) -> str:
    """A host name as compared: lower case, no brackets, no trailing dot."""
    return host.strip().strip("[]").rstrip(".").lower()


def _split_entry(entry: str) -> tuple[str, int | None]:
    text = entry.strip()
    host, sep, port = text.rpartition(":")
    # A bare IPv6 address has colons but no port; a bracketed one may have both.
    if sep and port.isdigit() and (text.startswith("[") or ":" not in host):
        return normal_host(host), int(port)
    return normal_host(text), None


class EgressProxy(UnixServer):
    """An allowlisting HTTP proxy listening on `socket_path` while started (a context manager)."""

    what = "egress proxy"

    def __init__(self, socket_path: Path, allow_hosts: list[str],
                 on_refused: Callable[[EgressRefusal], None] | None = None,
                 connect_timeout: float = 10.0,
                 on_allowed: Callable[[str, int], None] | None = None) -> None:
        super().__init__(socket_path, MAX_CONNECTIONS)
        self.allowlist = Allowlist(allow_hosts)
        self.refused: list[EgressRefusal] = []
        self._on_refused = on_refused
        self._on_allowed = on_allowed
        self._connect_timeout = connect_timeout

    def overloaded(self, client: socket.socket) -> None:
        """Refuse a connection beyond the limit with a 503."""
        self._refuse(client, EgressRefusal(reason="too many open connections"), 503)

    def serve(self, client: socket.socket) -> None:
        """Read where the client wants to go; tunnel it there if allowed, else refuse it."""
        upstream: socket.socket | None = None
        try:
            try:
                client.settimeout(HEAD_TIMEOUT)
                head, rest = read_head(client)
                client.settimeout(None)
                request = parse_request(head)
            except RequestError as error:
                self._refuse(client, EgressRefusal(request=error.request_line,
                                                   reason=str(error)), status=400)
                return
            if not self.allowlist.allows(request.host, request.port):
                self._refuse(client, EgressRefusal(
                    host=request.host, port=request.port, request=request.line,
                    reason="host not in the allowlist"))
                return
            upstream = self._connect(client, request)
            if upstream is not None:
                upstream.sendall(request.upstream_head + rest)
                relay(client, upstream)
        finally:
            if upstream is not None:
                self.untrack_close(upstream)

    def _connect(self, client: socket.socket, request: ProxyRequest) -> socket.socket | None:
        try:
            upstream = socket.create_connection((request.host, request.port),
                                                timeout=self._connect_timeout)
        except OSError as error:
            log.info("egress to %s:%s failed: %s", request.host, request.port, error)
            _respond(client, 502, f"cannot reach {request.host}:{request.port}")
            return None
        upstream.settimeout(None)
        self.track(upstream)
        log.info("egress allowed: %s:%s", request.host, request.port)
        if self._on_allowed:
            self._on_allowed(request.host, request.port)
        if request.method == "CONNECT":
            client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        return upstream

    def _refuse(self, client: socket.socket, refusal: EgressRefusal, status: int = 403) -> None:
        with self._lock:
            self.refused.append(refusal)
        log.warning("egress refused: %r to %s:%s (%s)", refusal.request, refusal.host,
                    refusal.port, refusal.reason)
        if self._on_refused:
            self._on_refused(refusal)
        where = f"{refusal.host}:{refusal.port}" if refusal.host else "this request"
        _respond(client, status, f"suture sandbox: egress to {where} is not allowed "
                                 f"({refusal.reason})")


def _respond(client: socket.socket, status: int, message: str) -> None:
    reasons = {400: "Bad Request", 403: "Forbidden", 502: "Bad Gateway",
               503: "Service Unavailable"}
    body = (message + "\n").encode()
    head = (f"HTTP/1.1 {status} {reasons[status]}\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with contextlib.suppress(OSError):
        client.sendall(head + body)

