"""Replaying an event's failing request on two previews: rebuilding it, scrubbed, from recorded
events, sending it to real local HTTP servers, and judging the answers."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from integrations.standins.base import recorded
from worker.models import ErrorEvent, ExceptionInfo, RequestData, Source
from worker.normalise import (
    detect_and_normalise,
    from_datadog_log,
    from_sentry_api,
    from_sentry_stored,
)
from worker.preview.evidence import NoReplay, ReplayRequest
from worker.preview.replay import replay, replayable
from worker.preview.standins import PLACEHOLDER

SECRET_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"


def event_with(request: RequestData | None, exception: str = "ZeroDivisionError") -> ErrorEvent:
    return ErrorEvent(source=Source.SENTRY, event_id="e1", timestamp=datetime.now(UTC),
                      exceptions=[ExceptionInfo(type=exception, value="division by zero")],
                      request=request)


def rebuilt(event: ErrorEvent) -> ReplayRequest:
    request = replayable(event)
    assert isinstance(request, ReplayRequest), request
    return request


# -- rebuilding from recorded events ---------------------------------------------------------

def test_a_recorded_api_event_becomes_a_get_without_its_credentials():
    event = from_sentry_api(recorded("sentry/api-event-javascript-cloudflare.json"))
    request = rebuilt(event)
    assert (request.method, request.path, request.query, request.body) == ("GET", "/sse", "", None)
    assert request.headers == {"Accept": "text/event-stream", "Accept-Language": "*",
                               "Cache-Control": "no-cache", "Pragma": "no-cache",
                               "User-Agent": "node"}
    # Authorization (already "[Filtered]" by Sentry), Host and proxy headers are not replayed.
    assert {"Authorization", "Host", "Cf-Ray", "X-Forwarded-Proto"} <= set(request.dropped_headers)


def test_a_recorded_webhook_event_without_a_method_is_replayed_as_a_get():
    event = detect_and_normalise(recorded("sentry/webhook-error-created.json"))
    request = rebuilt(event)
    assert (request.method, request.path) == ("GET", "/runner")
    assert request.exception == "ReferenceError"
    assert any("no method" in note for note in request.notes)


def test_a_recorded_event_without_a_request_gives_a_reason():
    event = from_sentry_stored(recorded("sentry/raw-event-python.json"))
    outcome = replayable(event)
    assert isinstance(outcome, NoReplay)
    assert "no HTTP request" in outcome.reason


def test_a_recorded_datadog_log_with_http_attributes_is_replayable():
    log = recorded("datadog/logs-search.response.page1.json")["data"][0]
    request = rebuilt(from_datadog_log(log))
    assert (request.method, request.path, request.query, request.headers) == ("GET", "/", "", {})


def test_the_query_of_a_recorded_api_event_is_kept():
    request = rebuilt(from_sentry_api(recorded("sentry/api-event-javascript.json")))
    assert (request.path, request.query) == ("/organizations/hellboy-meowmeow/issues/",
                                             "project=5236886")


def test_cookies_authorization_and_api_keys_are_never_replayed():
    request = rebuilt(event_with(RequestData(
        method="GET", url="https://shop.example/cart",
        headers={"Cookie": "sessionid=abc", "Authorization": "Bearer abc.def.ghi",
                 "X-Api-Key": "k-123", "X-Forwarded-For": "203.0.113.9",
                 "User-Agent": f"bot {SECRET_TOKEN}", "Accept-Language": "fr"})))
    assert request.headers == {"Accept-Language": "fr"}
    assert set(request.dropped_headers) == {"Cookie", "Authorization", "X-Api-Key",
                                            "X-Forwarded-For", "User-Agent"}
    assert SECRET_TOKEN not in request.model_dump_json()


def test_scrubbed_values_become_placeholders_and_are_listed():
    body = {"user": {"password": "hunter2", "email": "ann@corp.example", "age": 3},
            "card": 4242424242424242, "note": "hello"}
    request = rebuilt(event_with(RequestData(
        method="POST", url=f"https://shop.example/reset/{SECRET_TOKEN}?page=2&api_key=xyz",
        headers={"Content-Type": "application/json"}, body=json.dumps(body))))
    sent = json.loads(request.body or "")
    assert sent == {"user": {"password": PLACEHOLDER, "email": "placeholder@example.com",
                             "age": 3}, "card": 4111111111111111, "note": "hello"}
    assert request.path == f"/reset/{PLACEHOLDER}"
    assert request.query == f"page=2&api_key={PLACEHOLDER}"
    assert request.placeholders == ["path segment 2", "query:api_key", "body.user.password",
                                    "body.user.email", "body.card"]
    assert "query:api_key" in request.placeholder_note
    dumped = request.model_dump_json()
    assert all(secret not in dumped for secret in ("hunter2", "ann@corp", "4242", SECRET_TOKEN))


def test_a_form_recorded_as_an_object_is_sent_url_encoded_with_placeholders():
    request = rebuilt(event_with(RequestData(
        method="POST", url="/login", headers={"content-type": "application/x-www-form-urlencoded"},
        body=json.dumps({"username": "ann", "password": "hunter2", "tags": ["a", "b"]}))))
    assert request.body_kind == "form"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert request.body == f"username=ann&password={PLACEHOLDER}&tags=a&tags=b"
    assert request.placeholders == ["form:password"]


def test_an_empty_password_is_not_a_placeholder():
    request = rebuilt(event_with(RequestData(method="POST", url="/login",
                                             headers={"Content-Type": "application/json"},
                                             body='{"password": ""}')))
    assert request.body == '{"password": ""}' and request.placeholders == []


def test_a_raw_body_is_scrubbed_in_place():
    request = rebuilt(event_with(RequestData(method="PUT", url="/notes/1",
                                             headers={"Content-Type": "text/plain"},
                                             body=f"token {SECRET_TOKEN} end")))
    assert request.body_kind == "raw" and request.body == f"token {PLACEHOLDER} end"
    assert request.placeholders == ["body"]


def test_an_unknown_method_or_scheme_is_not_replayed():
    assert isinstance(replayable(event_with(RequestData(method="TRACE", url="/x"))), NoReplay)
    assert isinstance(replayable(event_with(RequestData(url="ftp://host/file"))), NoReplay)
    assert isinstance(replayable(event_with(RequestData(method="GET"))), NoReplay)


# -- sending to two previews -----------------------------------------------------------------

Preview = Callable[[int, str], str]


@pytest.fixture
def preview() -> Iterator[tuple[Preview, list[dict[str, object]]]]:
    """Start a stdlib HTTP server answering `status` with `body` on every path; its base URL."""
    servers: list[ThreadingHTTPServer] = []
    seen: list[dict[str, object]] = []

    def start(status: int, body: str) -> str:
        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                seen.append({"method": self.command, "path": self.path,
                             "headers": dict(self.headers),
                             "body": self.rfile.read(length).decode()})
                data = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _answer

            def log_message(self, *args: object) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        servers.append(server)
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start, seen
    for server in servers:
        server.shutdown()
        server.server_close()


def posted() -> ReplayRequest:
    return rebuilt(event_with(RequestData(
        method="POST", url="https://shop.example/cart/total?currency=EUR",
        headers={"Content-Type": "application/json", "Cookie": "sessionid=s3cr3t"},
        body='{"items": [], "password": "hunter2"}')))


CRASH = ("<h1>Internal Server Error</h1><pre>Traceback (most recent call last):\n"
         f"ZeroDivisionError: division by zero (key {SECRET_TOKEN}) user ann@corp.example</pre>")


def test_a_500_on_base_and_200_on_fix_is_reproduced_and_fixed(preview):
    start, seen = preview
    evidence = replay(posted(), start(500, CRASH), start(200, "<h1>Total: 0</h1>"), timeout=5)
    assert evidence.reproduced_on_base and evidence.fixed and evidence.confirms_fix
    assert (evidence.base.status, evidence.fix.status) == (500, 200)
    assert evidence.base.names_exception and "ZeroDivisionError" in evidence.base.excerpt
    assert "ann@corp" not in evidence.base.excerpt and SECRET_TOKEN not in evidence.base.excerpt
    assert evidence.verdict.startswith("replay confirms the fix")
    assert "body.password" in evidence.placeholders_note
    assert [call["path"] for call in seen] == ["/cart/total?currency=EUR"] * 2
    for call in seen:
        assert call["method"] == "POST" and "Cookie" not in call["headers"]  # type: ignore[operator]
        assert json.loads(str(call["body"])) == {"items": [], "password": PLACEHOLDER}
    assert "verdict" in evidence.model_dump()


def test_both_200_is_not_reproduced(preview):
    start, _ = preview
    evidence = replay(posted(), start(200, "ok"), start(200, "ok"), timeout=5)
    assert not evidence.reproduced_on_base and not evidence.confirms_fix
    assert "did not reproduce" in evidence.verdict
    assert any("placeholders" in reason for reason in evidence.reasons)


def test_a_200_page_naming_the_exception_counts_as_reproduced(preview):
    start, _ = preview
    evidence = replay(posted(), start(200, CRASH), start(200, "ok"), timeout=5)
    assert evidence.reproduced_on_base and evidence.fixed


def test_both_500_is_not_fixed(preview):
    start, _ = preview
    evidence = replay(posted(), start(500, CRASH), start(503, "down"), timeout=5)
    assert evidence.reproduced_on_base and not evidence.fixed
    assert "the fix still answers 503" in evidence.verdict


def test_an_unreachable_fix_is_not_fixed_and_says_why(preview):
    start, _ = preview
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{sock.getsockname()[1]}"
    evidence = replay(posted(), start(500, CRASH), closed, timeout=5)
    assert evidence.reproduced_on_base and not evidence.fixed
    assert evidence.fix.status is None and evidence.fix.error
    assert "the fix preview did not answer" in evidence.verdict


def test_a_refusing_fix_counts_as_fixed_with_a_caveat(preview):
    start, _ = preview
    evidence = replay(posted(), start(500, CRASH), start(400, "bad request"), timeout=5)
    assert evidence.confirms_fix and "check that is intended" in evidence.verdict


def test_the_replay_adds_no_header_production_did_not_send(preview):
    # Without a recorded Accept, a client default (`*/*`) would change content negotiation.
    start, seen = preview
    bare = rebuilt(event_with(RequestData(method="GET", url="https://img.example/image")))
    with_accept = rebuilt(event_with(RequestData(
        method="GET", url="https://img.example/image",
        headers={"Accept": "image/webp", "User-Agent": "Mozilla/5.0"})))
    replay(bare, start(500, CRASH), start(200, "ok"), timeout=5)
    replay(with_accept, start(500, CRASH), start(200, "ok"), timeout=5)
    sent = [{name.lower(): value for name, value in dict(call["headers"]).items()}  # type: ignore[call-overload]
            for call in seen]
    for headers in sent[:2]:
        assert "accept" not in headers and "user-agent" not in headers, headers
    for headers in sent[2:]:
        assert headers["accept"] == "image/webp" and headers["user-agent"] == "Mozilla/5.0"
