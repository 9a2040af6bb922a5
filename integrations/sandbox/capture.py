"""Bounded capture of a sandboxed command's output.

A command may print without end; its output is read to the end on a thread (so the command never
blocks on a full pipe) but only a head and a tail within a byte budget are kept, with a marker
saying how much was left out. The tail is the larger part: test runners and compilers put their
verdict at the end.
"""

from __future__ import annotations

import os
import threading
from collections import deque
from collections.abc import Callable

CHUNK = 65536


def omitted_marker(count: int) -> str:
    """The line standing in for `count` left-out bytes or characters."""
    return f"\n[... {count} omitted ...]\n"


class BoundedText:
    """Bytes appended in chunks, of which the first `limit // 4` and the last rest are kept."""

    def __init__(self, limit: int) -> None:
        self._head_limit = limit // 4
        self._tail_limit = limit - self._head_limit
        self._head = bytearray()
        self._tail: deque[bytes] = deque()
        self._tail_size = 0
        self.total = 0

    def add(self, data: bytes) -> None:
        """Take one more chunk."""
        self.total += len(data)
        room = self._head_limit - len(self._head)
        if room > 0:
            self._head += data[:room]
            data = data[room:]
        if not data:
            return
        self._tail.append(data)
        self._tail_size += len(data)
        while self._tail_size - len(self._tail[0]) >= self._tail_limit:
            self._tail_size -= len(self._tail.popleft())

    def text(self) -> str:
        """What was kept, decoded (undecodable bytes replaced), with the omission marked."""
        tail = b"".join(self._tail)
        if len(tail) > self._tail_limit:
            tail = tail[-self._tail_limit:]
        omitted = self.total - len(self._head) - len(tail)
        if omitted <= 0:
            return (bytes(self._head) + tail).decode(errors="replace")
        return (self._head.decode(errors="replace") + omitted_marker(omitted)
                + tail.decode(errors="replace"))


def clip(text: str, limit: int) -> str:
    """`text` cut to about `limit` characters: a quarter from its start, the rest from its end."""
    if len(text) <= limit:
        return text
    head = limit // 4
    tail = limit - head
    return text[:head] + omitted_marker(len(text) - limit) + text[-tail:]


class StreamCapture:
    """Reads a pipe to its end on a daemon thread into a `BoundedText`, passing each chunk to
    `tee` as it arrives (the operator command streams output that way). `text()` may be called
    while the reading goes on (a served command's output so far)."""

    def __init__(self, fd: int, limit: int, tee: Callable[[bytes], None] | None = None) -> None:
        self._fd = fd
        self._tee = tee
        self.buffer = BoundedText(limit)
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, name="sandbox-capture", daemon=True)

    def start(self) -> StreamCapture:
        """Begin reading."""
        self._thread.start()
        return self

    def join(self, timeout: float) -> bool:
        """Wait for the end of the stream; False if it did not come within `timeout`."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def text(self) -> str:
        """What was kept of the stream so far (see `BoundedText.text`)."""
        with self._lock:
            return self.buffer.text()

    def _read(self) -> None:
        try:
            while chunk := os.read(self._fd, CHUNK):
                with self._lock:
                    self.buffer.add(chunk)
                if self._tee:
                    self._tee(chunk)
        except OSError:
            pass  # the pipe was closed under us after a kill; what was read is kept
        finally:
            os.close(self._fd)
