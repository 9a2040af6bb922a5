"""A small threaded HTTP server that vendor stand-ins build on.

A stand-in is a real HTTP server on 127.0.0.1 that speaks a vendor's wire format with recorded
payloads, so suture's real clients (httpx, datadog-api-client, PyGithub) run unchanged against it.
Routes are `(method, regex)` pairs; handlers get a `Call` and return a `Reply`. Every request is
kept in `calls` so tests can assert what the client sent, and `fail_next` injects faults such as
429s for rate-limit handling.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlsplit


def recorded(path: str) -> Any:
    """Load a recorded vendor payload shipped in `integrations/standins/recorded/`."""
    text = resources.files("integrations.standins").joinpath("recorded", path).read_text("utf-8")
    return json.loads(text)


@dataclass
class Call:
    """One request the stand-in received."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        """The request body parsed as JSON (None when empty)."""
        return json.loads(self.body) if self.body else None

    def arg(self, name: str, default: str | None = None) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else default


@dataclass
class Reply:
    """What a handler answers."""

    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"

    def encode(self) -> bytes:
        """The body on the wire."""
        if self.body is None:
            return b""
        if isinstance(self.body, bytes):
            return self.body
        if isinstance(self.body, str):
            return self.body.encode()
        return json.dumps(self.body).encode()


Handler = Callable[[Call], Reply]


class StandIn:
    """Base class: register routes, then `start()`; `url` is where it listens."""

    def __init__(self, port: int = 0) -> None:
        self.routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.calls: list[Call] = []
        self._faults: list[Reply] = []
        # method, path pattern, seconds, how many more requests (None: every one)
        self._slow: list[list[Any]] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", port), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """Base URL, e.g. http://127.0.0.1:51234."""
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve `method` requests whose path fully matches `pattern` (named groups → params)."""
        self.routes.append((method.upper(), re.compile(pattern), handler))

    def fail_next(self, reply: Reply, times: int = 1) -> None:
        """Answer the next `times` requests with `reply` instead of routing them."""
        with self._lock:
            self._faults.extend([reply] * times)

    def slow(self, method: str, pattern: str, seconds: float, times: int | None = None) -> None:
        """Hold matching requests (the next `times` of them, or all) for `seconds` before
        handling them: a client that gives up first has its request carried out anyway, as a
        real server does when the answer is lost."""
        with self._lock:
            self._slow.append([method.upper(), re.compile(pattern), seconds, times])

    def start(self) -> StandIn:
        """Serve in a daemon thread; returns self for chaining."""
        self._thread = threading.Thread(target=self._server.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._thread is not None:  # shutdown() waits for a loop that must have started
            self._server.shutdown()
            self._thread.join(timeout=5)
        self._server.server_close()

    def __enter__(self) -> StandIn:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def dispatch(self, call: Call) -> Reply:
        """Route one call: injected faults first, then the first matching route, else 404."""
        with self._lock:
            self.calls.append(call)
            if self._faults:
                return self._faults.pop(0)
            delay = self._delay(call)
        if delay:
            time.sleep(delay)
        for method, pattern, handler in self.routes:
            match = pattern.fullmatch(call.path)
            if method == call.method and match:
                call.params = {k: v for k, v in match.groupdict().items() if v is not None}
                return handler(call)
        return Reply(404, {"detail": f"no route for {call.method} {call.path}"})

    def _delay(self, call: Call) -> float:
        """How long to hold `call` (the longest matching rule), counting down limited rules."""
        delay = 0.0
        for rule in self._slow:
            method, pattern, seconds, times = rule
            if method != call.method or not pattern.fullmatch(call.path) or times == 0:
                continue
            delay = max(delay, seconds)
            if times is not None:
                rule[3] = times - 1
        return delay

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        standin = self

        class _Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # otherwise every kept-alive reply waits ~40 ms

            def _serve(self) -> None:
                body = self._body()
                parts = urlsplit(self.path)
                call = Call(
                    method=self.command,
                    path=parts.path,
                    query=parse_qs(parts.query, keep_blank_values=True),
                    headers={k.lower(): v for k, v in self.headers.items()},
                    body=body,
                )
                try:
                    reply = standin.dispatch(call)
                except Exception as exc:  # a stand-in bug must surface as a 500, not a hang
                    reply = Reply(500, {"detail": f"stand-in error: {exc!r}"})
                payload = reply.encode()
                self.send_response(reply.status)
                self.send_header("Content-Type", reply.content_type)
                self.send_header("Content-Length", str(len(payload)))
                for name, value in reply.headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)

            def _body(self) -> bytes:
                # git sends large pushes chunked; everything else gives a length.
                if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
                    length = int(self.headers.get("Content-Length") or 0)
                    return self.rfile.read(length) if length else b""
                chunks = []
                while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                    chunks.append(self.rfile.read(size))
                    self.rfile.readline()
                while self.rfile.readline().strip():
                    pass  # trailers
                return b"".join(chunks)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                return  # requests are kept in `calls`; stderr stays quiet

        return _Handler
