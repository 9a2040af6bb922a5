"""Reading and parsing the head of a proxy request sent by a sandboxed command.

Only two request forms are accepted: `CONNECT host:port` and an absolute `http://` URI. An
absolute-URI request is rewritten to the origin form the upstream server expects, with the
`Proxy-*` headers dropped and `Connection: close`, so one proxied connection carries one request
to the host that was checked. The input is untrusted: its size is bounded and anything odd is a
`RequestError`, never an exception of another kind.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

MAX_HEAD = 65536
LINE_CLIP = 200
HOP_HEADERS = (b"proxy-", b"connection:", b"keep-alive:")


class RequestError(ValueError):
    """A request head the proxy will not handle; `request_line` is what it started with."""

    def __init__(self, message: str, request_line: str = "") -> None:
        super().__init__(message)
        self.request_line = request_line


@dataclass(frozen=True)
class ProxyRequest:
    """Where a client wants to go and what to send there first."""

    method: str
    host: str
    port: int
    line: str  # the request line as received, clipped, for logs
    upstream_head: bytes  # sent upstream before relaying (empty for CONNECT)


def read_head(client: socket.socket) -> tuple[bytes, bytes]:
    """The request head (without its blank line) and whatever arrived after it;
    ConnectionAbortedError when the client leaves without sending a byte."""
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HEAD:
            raise RequestError("request head too large", _first_line(data))
        chunk = client.recv(8192)
        if not chunk and not data:
            raise ConnectionAbortedError("closed without a request")  # not worth a refusal
        if not chunk:
            raise RequestError("connection closed before the request head ended",
                               _first_line(data))
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _first_line(data: bytes) -> str:
    return data.split(b"\r\n", 1)[0][:LINE_CLIP].decode("latin-1")


def parse_request(head: bytes) -> ProxyRequest:
    """Parse a request head into a `ProxyRequest`, or raise `RequestError`."""
    lines = head.split(b"\r\n")
    line = _first_line(head)
    parts = lines[0].decode("latin-1").split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1."):
        raise RequestError("malformed request line", line)
    method, target, version = parts
    if method.upper() == "CONNECT":
        host, port = _authority(target, line)
        return ProxyRequest("CONNECT", host, port, line, b"")
    url = urlsplit(target)
    if url.scheme.lower() != "http" or not url.hostname:
        raise RequestError("only CONNECT and absolute http:// requests are proxied", line)
    try:
        port = url.port or 80
    except ValueError as error:
        raise RequestError("bad port", line) from error
    path = (url.path or "/") + (f"?{url.query}" if url.query else "")
    kept = [h for h in lines[1:] if h and not h.lower().startswith(HOP_HEADERS)]
    upstream = f"{method} {path} {version}\r\n".encode("latin-1")
    upstream += b"".join(h + b"\r\n" for h in kept) + b"Connection: close\r\n\r\n"
    return ProxyRequest(method, url.hostname, port, line, upstream)


def _authority(target: str, line: str) -> tuple[str, int]:
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit() or not host or not 0 < int(port) < 65536:
        raise RequestError("CONNECT needs host:port", line)
    host = host.strip("[]").lower()
    if not host or any(c in host for c in "/@ "):
        raise RequestError("CONNECT needs host:port", line)
    return host, int(port)
