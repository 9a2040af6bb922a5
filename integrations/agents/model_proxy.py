"""The model proxy: how an agent CLI in the sandbox reaches its model without ever holding the
key.

It is a small HTTP/1.1 server on a unix socket in a private host folder; the sandbox reaches it
as `127.0.0.1:<port>` through a route (`SandboxPolicy.routes`). It answers only the model
APIs' own paths: OpenAI-style `POST /v1/chat/completions`, `POST /v1/responses`,
`GET /v1/models[/<id>]`, and Anthropic-style `POST /v1/messages[/count_tokens]` (a models
listing carrying `anthropic-version` goes to Anthropic). Whatever credentials the client sends
are dropped; the configured upstream's key is added (`Authorization: Bearer` or `x-api-key` with
`anthropic-version`) and the request is forwarded. The answer streams back as it arrives
(server-sent events included), with any occurrence of a key cut out of it, while its token
usage is read (`model_usage`) and charged to the attempt's budget (`model_meter`). Once the
budget is spent every call is answered 402 with the reason, in the API's own error shape and
`x-should-retry: false`, so the CLI shows why it stopped instead of retrying.
"""

from __future__ import annotations

import json
import logging
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import httpx

from integrations.agents.model_meter import ModelCall, ModelMeter
from integrations.agents.model_upstream import Streamed, Upstream
from integrations.agents.model_usage import UsageReader, estimate
from integrations.agents.proxy_wire import ProxyError, Redactor, error_response, send_plain
from integrations.sandbox.unixserver import UnixServer
from worker.scrub import scrub_text

log = logging.getLogger("suture.agents.model_proxy")

MAX_BODY = 16 * 1024 * 1024  # bytes of one request body
MAX_IN_FLIGHT = 4  # model calls forwarded at once
_OPENAI_PATHS = re.compile(r"/v1/(chat/completions|responses)")
_ANTHROPIC_PATHS = re.compile(r"/v1/messages(/count_tokens)?")
_MODELS_PATH = re.compile(r"/v1/models(/(?!\.\.?$)[A-Za-z0-9._:@-]{1,200})?")  # no . or ..
_PASSED_HEADERS = ("content-type", "accept", "anthropic-version", "anthropic-beta",
                   "openai-beta", "user-agent")
_RETURNED_HEADERS = ("content-type", "retry-after", "request-id", "x-request-id",
                     "x-should-retry")


class ModelProxy(UnixServer):
    """Serves model calls on `socket_path` while started (a context manager)."""

    what = "model proxy"

    def __init__(self, socket_path: Path, upstreams: list[Upstream], meter: ModelMeter, *,
                 http: httpx.Client | None = None, request_timeout: float = 600.0) -> None:
        super().__init__(socket_path)
        self.upstreams = {upstream.style: upstream for upstream in upstreams}
        self.meter = meter
        self.request_timeout = request_timeout
        self._http = http or httpx.Client()
        self._own_http = http is None
        self._in_flight = threading.BoundedSemaphore(MAX_IN_FLIGHT)
        self.secrets = [u.api_key.get_secret_value().encode() for u in upstreams
                        if u.api_key.get_secret_value()]

    def stop(self) -> None:
        """Stop serving, cut open connections and close the upstream client."""
        super().stop()
        if self._own_http:
            self._http.close()

    def serve(self, client: socket.socket) -> None:
        """Serve HTTP requests on one connection until the client is done."""
        # The handler reaches only the proxy's own methods, never a socketserver's.
        _Handler(client, ("sandbox", 0), self)  # type: ignore[arg-type]

    def overloaded(self, client: socket.socket) -> None:
        """A connection beyond the limit gets a 503 before it is closed."""
        send_plain(client, 503, "too many open connections to the model proxy")

    def route(self, method: str, path: str, headers: dict[str, str]) -> Upstream:
        """The upstream a request goes to; ProxyError for a path the proxy does not serve."""
        bare = path.split("?", 1)[0]
        style = ""
        if method == "POST" and _OPENAI_PATHS.fullmatch(bare):
            style = "openai"
        elif method == "POST" and _ANTHROPIC_PATHS.fullmatch(bare):
            style = "anthropic"
        elif method == "GET" and _MODELS_PATH.fullmatch(bare):
            style = "anthropic" if "anthropic-version" in headers else "openai"
        if not style:
            raise ProxyError(404, "anthropic" if "anthropic-version" in headers else "openai",
                             "not_found_error",
                             f"the model proxy serves only the model APIs; {method} "
                             f"{bare[:100]} is not one of them")
        upstream = self.upstreams.get(style)
        if upstream is None:
            raise ProxyError(503, style, "api_error",
                             f"no {style}-style model endpoint is configured for this worker")
        return upstream

    def open(self, upstream: Upstream, method: str, path: str, headers: dict[str, str],
             body: bytes) -> Streamed:
        """Send the request upstream; a context manager yielding the streamed response."""
        sent = {name: value for name, value in headers.items() if name in _PASSED_HEADERS}
        if upstream.style == "anthropic":
            sent.setdefault("anthropic-version", upstream.anthropic_version)
        sent |= upstream.auth_headers() | {"accept-encoding": "identity"}
        timeout = httpx.Timeout(self.request_timeout, connect=15.0)
        request = self._http.build_request(method, upstream.url(path), headers=sent,
                                           content=body if method == "POST" else None,
                                           timeout=timeout)
        return Streamed(self._http, request)

    def redactor(self) -> Redactor:
        """A fresh filter that cuts the keys out of one response."""
        return Redactor(self.secrets)

    def admit(self) -> bool:
        """Take a slot for a forwarded call (waits while `MAX_IN_FLIGHT` are running)."""
        return self._in_flight.acquire(timeout=self.request_timeout)

    def release(self) -> None:
        """Give a call's slot back."""
        self._in_flight.release()


class _Handler(BaseHTTPRequestHandler):
    """One connection's requests (`BaseHTTPRequestHandler` runs them as it is constructed)."""

    protocol_version = "HTTP/1.1"
    server: ModelProxy  # type: ignore[assignment]
    timeout = 300  # seconds an idle client connection is kept

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base's name
        log.debug("model proxy: " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 - the base class's naming
        """A models listing."""
        self._proxy("GET")

    def do_POST(self) -> None:  # noqa: N802
        """A model call."""
        self._proxy("POST")

    def _proxy(self, method: str) -> None:
        headers = {name.lower(): value for name, value in self.headers.items()}
        started = time.monotonic()
        style = "anthropic" if "anthropic-version" in headers else "openai"
        try:
            upstream = self.server.route(method, self.path, headers)
            style = upstream.style
            body, stream, model = self._body(method, headers, upstream)
        except ProxyError as error:
            self._refuse(error, started)
            return
        if not self.server.admit():
            self._refuse(ProxyError(503, style, "overloaded_error",
                                    "too many model calls at once"), started)
            return
        try:
            # Asked once the call holds its slot: the calls it waited for have been charged.
            refusal = self.server.meter.refusal()
            if refusal:
                self._refuse(ProxyError(402, style, "budget_exhausted", refusal), started)
            else:
                self._forward(upstream, method, headers, body, stream, model, started)
        finally:
            self.server.release()

    def _body(self, method: str, headers: dict[str, str],
              upstream: Upstream) -> tuple[bytes, bool, str]:
        """The request body to send, whether it asks for a stream, and the model it names."""
        if method != "POST":
            return b"", False, ""
        if "chunked" in headers.get("transfer-encoding", "").lower():
            raise ProxyError(411, upstream.style, "invalid_request_error",
                             "send the body with a Content-Length")
        try:
            length = int(headers.get("content-length", ""))
        except ValueError:
            raise ProxyError(411, upstream.style, "invalid_request_error",
                             "a model call needs a Content-Length") from None
        if not 0 <= length <= MAX_BODY:
            raise ProxyError(413, upstream.style, "request_too_large",
                             f"request bodies are limited to {MAX_BODY} bytes")
        raw = self.rfile.read(length)
        try:
            payload = json.loads(raw)
        except ValueError:
            payload = None
        if not isinstance(payload, dict):
            raise ProxyError(400, upstream.style, "invalid_request_error",
                             "the request body must be a JSON object")
        stream = payload.get("stream") is True
        if stream and self.path.startswith("/v1/chat/completions") \
                and "stream_options" not in payload:
            # Without it a streamed chat completion reports no usage to count.
            payload["stream_options"] = {"include_usage": True}
            raw = json.dumps(payload).encode()
        return raw, stream, str(payload.get("model") or "")[:100]

    def _forward(self, upstream: Upstream, method: str, headers: dict[str, str], body: bytes,
                 stream: bool, model: str, started: float) -> None:
        call = ModelCall(style=upstream.style, path=self.path.split("?", 1)[0], status=0,
                         stream=stream, model=model)
        reader, sent = UsageReader(stream), 0
        redactor = self.server.redactor()
        charged = False
        try:
            with self.server.open(upstream, method, self.path, headers, body) as response:
                call.status = response.status_code
                self._start(response)
                for chunk in response.iter_bytes():
                    reader.feed(chunk)
                    sent += len(chunk)
                    self._chunk(redactor.feed(chunk))
            # Charged before the answer ends, so the client's next call meets the new total.
            charged = self._charge(call, upstream, reader, len(body), sent, started)
            self._chunk(redactor.flush())
            self._end()
        except httpx.HTTPError as error:
            call.refused = f"upstream failed: {type(error).__name__}"
            answered = call.status != 0
            charged = self._charge(call, upstream, reader, len(body), sent, started)
            if not answered:  # nothing sent yet: the client can still get an answer
                self._error(ProxyError(502, upstream.style, "api_error",
                                       f"the model endpoint could not be reached: "
                                       f"{type(error).__name__}"))
            self.close_connection = True
        finally:
            if not charged:
                self._charge(call, upstream, reader, len(body), sent, started)

    def _charge(self, call: ModelCall, upstream: Upstream, reader: UsageReader,
                request_bytes: int, response_bytes: int, started: float) -> bool:
        call.seconds = round(time.monotonic() - started, 3)
        usage = reader.usage()
        if call.path.endswith("/count_tokens"):  # counting costs nothing; its count is no usage
            usage = None
        elif usage is None and call.status == 200 and request_bytes:
            usage = estimate(request_bytes, response_bytes)
        self.server.meter.charge(call, usage, upstream.price_per_1k_tokens)
        log.info("model call %s %s: %s, %s tokens", upstream.style, call.path, call.status,
                 call.input_tokens + call.output_tokens)
        return True

    def _start(self, response: httpx.Response) -> None:
        self.send_response(response.status_code)
        for name in _RETURNED_HEADERS:
            if name in response.headers:
                self.send_header(name, response.headers[name])
        if self.request_version == "HTTP/1.1":
            self.send_header("Transfer-Encoding", "chunked")
        else:  # an HTTP/1.0 client reads the body until the connection closes
            self.close_connection = True
        self.end_headers()

    def _chunk(self, data: bytes) -> None:
        """Send one piece of the body as it came (nothing for an empty piece)."""
        if not data:
            return
        if self.request_version == "HTTP/1.1":
            data = b"%x\r\n%s\r\n" % (len(data), data)
        self.wfile.write(data)

    def _end(self) -> None:
        if self.request_version == "HTTP/1.1":
            self.wfile.write(b"0\r\n\r\n")

    def _refuse(self, error: ProxyError, started: float) -> None:
        call = ModelCall(style=error.style, path=self.path.split("?", 1)[0][:200],
                         status=error.status, refused=str(error),
                         seconds=round(time.monotonic() - started, 3))
        self.server.meter.charge(call, None, 0.0)  # counted before the client hears of it
        log.warning("model call refused (%s): %s", error.status, scrub_text(str(error)))
        self._error(error)

    def _error(self, error: ProxyError) -> None:
        # The connection closes after an error: an unread body may still be on the wire.
        self.close_connection = True
        self.wfile.write(error_response(error))
