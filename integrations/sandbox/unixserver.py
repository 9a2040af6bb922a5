"""The host side of a sandbox's way out: a server on a unix socket, bound into the sandbox, that
serves each connection on a thread of its own, at most `MAX_CONNECTIONS` at once, and cuts every
connection still open when it stops (when the sandboxed command ends).

The egress proxy (`egress.py`) and the test-service forwarders (`portforward.py`) are its two
kinds; each says how to serve one connection and how to turn one away.
"""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
from abc import ABC, abstractmethod
from pathlib import Path
from types import TracebackType
from typing import Self

from worker.ports import PermanentError

MAX_CONNECTIONS = 64  # open at once, per server and sandboxed command


class UnixServer(ABC):
    """Accepts on `socket_path` while started (a context manager); subclasses `serve` one
    connection and `overloaded` one that would go beyond `max_connections`."""

    what = "server"  # how errors name it

    def __init__(self, socket_path: Path, max_connections: int = MAX_CONNECTIONS) -> None:
        self.socket_path = socket_path
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        self._slots = threading.BoundedSemaphore(max_connections)
        self._listener: socket.socket | None = None
        self._wake_r, self._wake_w = socket.socketpair()
        self._thread: threading.Thread | None = None

    @abstractmethod
    def serve(self, client: socket.socket) -> None:
        """Serve one accepted connection (closed afterwards); OSError means a side hung up."""

    @abstractmethod
    def overloaded(self, client: socket.socket) -> None:
        """Turn away a connection beyond the limit (closed afterwards)."""

    def start(self) -> Self:
        """Listen on the unix socket and serve on a background thread."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(str(self.socket_path))
            listener.listen(64)
        except OSError as error:
            for sock in (listener, self._wake_r, self._wake_w):
                sock.close()
            raise PermanentError(f"the {self.what} cannot listen on {self.socket_path}: "
                                 f"{error}") from error
        self._listener = listener
        self._thread = threading.Thread(target=self._accept_loop, name=f"sandbox-{self.what}",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting and cut every connection still open."""
        self._wake_w.send(b"x")
        if self._thread:
            self._thread.join(timeout=5)
        with self._lock:
            for sock in self._open:
                close(sock)
            self._open.clear()
        if self._listener:
            self._listener.close()
        self._wake_r.close()
        self._wake_w.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def track(self, sock: socket.socket) -> None:
        """Count `sock` among the connections `stop` cuts."""
        with self._lock:
            self._open.add(sock)

    def untrack_close(self, sock: socket.socket) -> None:
        """Close `sock` and forget it."""
        with self._lock:
            self._open.discard(sock)
        close(sock)

    def _accept_loop(self) -> None:
        assert self._listener is not None
        with selectors.DefaultSelector() as selector:
            selector.register(self._listener, selectors.EVENT_READ)
            selector.register(self._wake_r, selectors.EVENT_READ)
            while True:
                events = selector.select()
                if any(key.fileobj is self._wake_r for key, _ in events):
                    return
                client, _ = self._listener.accept()
                if not self._slots.acquire(blocking=False):
                    # Each connection is a thread in the worker: a command may not make a
                    # thousand of them.
                    self.overloaded(client)
                    close(client)
                    continue
                self.track(client)
                threading.Thread(target=self._handle, args=(client,), daemon=True).start()

    def _handle(self, client: socket.socket) -> None:
        try:
            self.serve(client)
        except OSError:
            pass  # either side hung up mid-way; the client sees the connection drop
        finally:
            self.untrack_close(client)
            self._slots.release()


def close(sock: socket.socket) -> None:
    """Shut `sock` down both ways and close it, whatever state it is in."""
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    sock.close()
