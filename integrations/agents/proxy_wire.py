"""What the model proxy says itself, and what it cuts from what it passes on: errors in each
API's own shape (so the CLI's SDK shows the reason and does not retry), and the filter that
removes the upstream keys from a streamed answer.
"""

from __future__ import annotations

import contextlib
import json
import socket
from typing import Any

REDACTED = b"[REDACTED]"
_REASONS = {400: "Bad Request", 402: "Payment Required", 404: "Not Found",
            411: "Length Required", 413: "Payload Too Large", 502: "Bad Gateway",
            503: "Service Unavailable"}


class ProxyError(Exception):
    """A request the proxy answers itself: status, API style and reason."""

    def __init__(self, status: int, style: str, kind: str, message: str) -> None:
        super().__init__(message)
        self.status, self.style, self.kind = status, style, kind


class Redactor:
    """Replaces every occurrence of the secrets in a byte stream, even one split across
    chunks. Only a tail that could begin a secret is held back until more arrives (or the
    stream ends), so an event ending in a newline goes out at once: streaming stays live."""

    def __init__(self, secrets: list[bytes]) -> None:
        self._secrets = [s for s in secrets if s]
        self._pending = b""

    def feed(self, chunk: bytes) -> bytes:
        """The part of the stream so far that is safe to send."""
        text = self._clean(self._pending + chunk)
        cut = len(text) - self._held(text)
        self._pending = text[cut:]
        return text[:cut]

    def flush(self) -> bytes:
        """Whatever is still held back, once the stream has ended."""
        text, self._pending = self._clean(self._pending), b""
        return text

    def _held(self, text: bytes) -> int:
        """The length of the longest tail of `text` that is the start of a secret."""
        longest = 0
        for secret in self._secrets:
            for size in range(min(len(secret) - 1, len(text)), longest, -1):
                if text.endswith(secret[:size]):
                    longest = size
                    break
        return longest

    def _clean(self, text: bytes) -> bytes:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return text


def error_body(error: ProxyError) -> dict[str, Any]:
    """The error in the API's own shape, so its SDK shows the message."""
    if error.style == "anthropic":
        return {"type": "error", "error": {"type": error.kind, "message": str(error)}}
    return {"error": {"message": str(error), "type": error.kind, "code": error.kind,
                      "param": None}}


def error_response(error: ProxyError) -> bytes:
    body = json.dumps(error_body(error)).encode()
    reason = _REASONS.get(error.status, "Error")
    return (f"HTTP/1.1 {error.status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nx-should-retry: false\r\n"
            "Connection: close\r\n\r\n").encode() + body


def send_plain(client: socket.socket, status: int, message: str) -> None:
    body = (message + "\n").encode()
    head = (f"HTTP/1.1 {status} Service Unavailable\r\nContent-Type: text/plain\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    with contextlib.suppress(OSError):
        client.sendall(head + body)
