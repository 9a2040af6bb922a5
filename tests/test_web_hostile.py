"""Thousands of hostile requests through the real application, on SQLite and PostgreSQL.

A seeded generator sends every kind of bad request suture must refuse to its four receivers
(Sentry, Datadog, GitHub, GitLab): numbers that overflow to infinity, NaN literals, nesting far
beyond the limit, invalid UTF-8 and escaped lone surrogates, bodies over the size limit, wrong
content types, bad and stale signatures, wrong methods, truncated and non-object JSON. Each is
otherwise well-formed and correctly signed, so the refusal is for the one thing wrong with it.
Every answer must be the 4xx for that fault with a reason in `{"error": ...}`, on a connection
the server keeps open, and nothing may be stored or enqueued; then a good delivery is accepted.
"""

from __future__ import annotations

import http.client
import json
import random
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

import httpx
import pytest

from integrations.standins.base import recorded
from tests.support import DD_SECRET, compact, make_app, sentry_headers, served
from worker.web.codehost_signatures import github_signature

GH_SECRET = "hostile-github-secret"
GL_SECRET = "hostile-gitlab-token"
MAX_BYTES = 65_536
REQUESTS = 2_000
METHODS = ["GET", "PUT", "DELETE", "PATCH"]


@dataclass(frozen=True)
class Case:
    """One request and the status it must get."""

    kind: str
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    status: int


Signer = Callable[[bytes], dict[str, str]]


def _sentry(body: bytes) -> dict[str, str]:
    return sentry_headers(body)


def _datadog(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Suture-Token": DD_SECRET}


def _github(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-GitHub-Event": "pull_request",
            "X-GitHub-Delivery": str(uuid.uuid4()),
            "X-Hub-Signature-256": github_signature(body, GH_SECRET)}


def _gitlab(body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "X-Gitlab-Event": "Merge Request Hook",
            "X-Gitlab-Token": GL_SECRET, "Idempotency-Key": str(uuid.uuid4())}


RECEIVERS: dict[str, tuple[str, Signer]] = {
    "/hooks/sentry": ("sentry/webhook-event-alert-triggered.json", _sentry),
    "/hooks/datadog": ("datadog/monitor-webhook.rendered-example.json", _datadog),
    "/hooks/github": ("github/webhook-pull_request.opened.json", _github),
    "/hooks/gitlab": ("gitlab/webhook-merge_request.open.json", _gitlab),
}


def _with_field(body: bytes, raw_value: bytes) -> bytes:
    """`body` (a compact JSON object) with one more member whose value is `raw_value` as is."""
    return body[:-1] + b',"hostile":' + raw_value + b"}"


def _overflow(rng: random.Random) -> bytes:
    sign = rng.choice([b"", b"-"])
    mantissa = rng.choice([b"1", b"9.99", b"123456789.5", b"0.1"])
    exponent = str(rng.randint(310, 100_000)).encode()
    return sign + mantissa + rng.choice([b"e", b"E", b"e+"]) + exponent


def _deep(rng: random.Random) -> bytes:
    depth = rng.randint(65, 5_000)
    if rng.random() < 0.5:
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"a":' * depth + b"1" + b"}" * depth


BAD_UTF8 = [b"\xff", b"\xfe", b"\xc0\xaf", b"\xe0\x80\xaf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
            b"\xf5\x80\x80\x80", b"\xe6\x97", b"\x80", b"\xf0\x9f\x98"]
LONE_SURROGATES = [b"\\ud800", b"\\udfff", b"\\uD83D", b"\\ude00\\ud83d", b"x\\udbff y",
                   b"\\ud800\\u0041"]
WRONG_TYPES = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
               "application/xml", "application/json; charset=latin-1", "text/html",
               "application/octet-stream"]
NON_OBJECTS = [b"[]", b"[1,2,3]", b'"text"', b"42", b"null", b"true", b"-0.5", b'[{"a":1}]']


def _stale_sentry(body: bytes, rng: random.Random) -> dict[str, str]:
    age = rng.choice([-1, 1]) * rng.randint(301, 10**8)
    return sentry_headers(body, timestamp=time.time() - age)


def _bad_signature(path: str, body: bytes, rng: random.Random) -> dict[str, str]:
    headers = RECEIVERS[path][1](body)
    forged = rng.choice(["missing", "garbage", "other-secret"])
    name = {"/hooks/sentry": "Sentry-Hook-Signature", "/hooks/datadog": "X-Suture-Token",
            "/hooks/github": "X-Hub-Signature-256", "/hooks/gitlab": "X-Gitlab-Token"}[path]
    if forged == "missing":
        headers.pop(name)
    elif forged == "garbage":
        headers[name] = "".join(rng.choice("0123456789abcdefXYZ=-") for _ in range(40))
    elif path == "/hooks/sentry":
        headers[name] = sentry_headers(body, secret="not-the-secret")["Sentry-Hook-Signature"]
    elif path == "/hooks/github":
        headers[name] = github_signature(body, "not-the-secret")
    else:
        headers[name] = "not-the-secret"
    return headers


def hostile_cases(seed: int, count: int) -> list[Case]:
    """`count` hostile requests, each kind in turn, their details drawn from `seed`."""
    rng = random.Random(seed)
    bases = {path: compact(recorded(name)) for path, (name, _) in RECEIVERS.items()}
    kinds = ["overflow", "nan", "deep", "bad-utf8", "surrogate", "huge", "content-type",
             "bad-signature", "stale", "method", "truncated", "non-object"]
    cases = []
    for n in range(count):
        kind = kinds[n % len(kinds)]
        path = rng.choice(list(RECEIVERS))
        if kind == "stale":
            path = "/hooks/sentry"  # the one receiver whose signature carries a time
        sign, base, status = RECEIVERS[path][1], bases[path], 400
        if kind == "overflow":
            body = _with_field(base, _overflow(rng))
        elif kind == "nan":
            body = _with_field(base, rng.choice([b"NaN", b"Infinity", b"-Infinity",
                                                 b"[1, NaN]", b'{"x": -Infinity}']))
        elif kind == "deep":
            body = _with_field(base, _deep(rng))
        elif kind == "bad-utf8":
            body = _with_field(base, b'"a' + rng.choice(BAD_UTF8) + b'b"')
        elif kind == "surrogate":
            body = _with_field(base, b'"' + rng.choice(LONE_SURROGATES) + b'"')
        elif kind == "huge":
            body, status = _with_field(base, b'"' + b"x" * rng.randint(MAX_BYTES, 4 * MAX_BYTES)
                                       + b'"'), 413
        elif kind == "truncated":
            body = base[:rng.randint(0, len(base) - 1)]
        elif kind == "non-object":
            body, status = rng.choice(NON_OBJECTS), 422
        else:
            body = base
        headers = sign(body)
        method = "POST"
        if kind == "content-type":
            headers["Content-Type"], status = rng.choice(WRONG_TYPES), 415
        elif kind == "bad-signature":
            headers, status = _bad_signature(path, body, rng), 401
        elif kind == "stale":
            headers, status = _stale_sentry(body, rng), 401
        elif kind == "method":
            method, status = rng.choice(METHODS), 405
        cases.append(Case(kind, method, path, headers, body, status))
    return cases


def test_the_cases_cover_every_kind_and_receiver():
    cases = hostile_cases(18, REQUESTS)
    assert len(cases) >= 2_000
    assert min(Counter(case.kind for case in cases).values()) >= REQUESTS // 12
    assert {case.path for case in cases} == set(RECEIVERS)
    assert all(len(case.body) > MAX_BYTES for case in cases if case.kind == "huge")
    for case in cases:  # each body is hostile only in the way its kind says
        if case.kind in {"content-type", "bad-signature", "stale", "method"}:
            assert isinstance(json.loads(case.body), dict)


def _hostile_app(tmp_path, url: str):
    return make_app(tmp_path, settings={
        "database_url": url, "webhook_max_bytes": MAX_BYTES,
        "github": {"webhook_secret": GH_SECRET}, "gitlab": {"webhook_secret": GL_SECRET}})


def test_hostile_requests_get_a_4xx_with_a_reason_and_store_nothing(store, tmp_path):
    app = _hostile_app(tmp_path, store.url)
    statuses: Counter[tuple[str, int]] = Counter()
    closed: Counter[str] = Counter()
    try:
        with served(app) as client:
            for case in hostile_cases(18, REQUESTS):
                response = client.request(case.method, case.path, headers=case.headers,
                                          content=case.body)
                statuses[(case.kind, response.status_code)] += 1
                assert response.status_code == case.status, (
                    case.kind, case.path, response.status_code, response.text[:200])
                reason = response.json()["error"]
                assert isinstance(reason, str) and reason.strip(), (case.kind, response.text)
                if response.headers.get("connection", "").lower() == "close":
                    closed[case.kind] += 1
            assert store.count_deliveries() == 0
            assert app.broker.queues["default"].qsize() == 0
            # A refusal keeps the connection: only a body too large to read may close it.
            assert set(closed) <= {"huge"}, closed
            good = compact(recorded("sentry/webhook-event-alert-triggered.json"))
            accepted = client.post("/hooks/sentry", content=good, headers=sentry_headers(good))
            assert accepted.status_code == 202, accepted.text
        delivery = store.get_delivery(accepted.json()["delivery"])
        assert delivery is not None and delivery.status == "pending"
        assert delivery.payload == json.loads(good)
        assert store.count_deliveries() == 1
        assert app.broker.queues["default"].qsize() == 1
    finally:
        app.close()


@pytest.mark.parametrize("path", list(RECEIVERS))
def test_a_body_that_parses_only_leniently_is_refused_before_it_reaches_the_store(
        store, tmp_path, path):
    # Once accepted and stored (SQLite) or a 500 (PostgreSQL's json refuses Infinity).
    app = _hostile_app(tmp_path, store.url)
    base = compact(recorded(RECEIVERS[path][0]))
    bodies = [_with_field(base, b"1e400"), _with_field(base, b'"\\ud800"'),
              _with_field(base, b"[" * 940 + b"]" * 940)]
    try:
        with served(app) as client:
            for body in bodies:
                response = client.post(path, content=body, headers=RECEIVERS[path][1](body))
                assert response.status_code == 400, response.text
        assert store.count_deliveries() == 0
    finally:
        app.close()


def test_one_connection_carries_refusals_and_then_a_good_delivery(store, tmp_path):
    app = _hostile_app(tmp_path, store.url)
    good = compact(recorded("sentry/webhook-event-alert-triggered.json"))
    requests = [("GET", b"", {}), ("POST", b'{"a": 1e999}', {}), ("POST", b"[1]", {}),
                ("POST", b"{}", {"Content-Type": "text/plain"}),
                ("POST", b'{"a": "' + b"x" * (2 * MAX_BYTES) + b'"}', {}),
                ("POST", good, {})]
    try:
        with served(app) as client:
            url = httpx.URL(str(client.base_url))
            connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
            connection.connect()
            first = connection.sock
            answers = []
            for method, body, extra in requests:
                connection.request(method, "/hooks/sentry", body=body,
                                   headers={**sentry_headers(body), **extra})
                response = connection.getresponse()
                answers.append((response.status, json.loads(response.read())))
                assert not response.will_close, (method, response.status)
                assert connection.sock is first
            connection.close()
        assert [status for status, _ in answers] == [405, 400, 422, 415, 413, 202]
        assert all(answer["error"] for _, answer in answers[:-1])
        assert store.count_deliveries() == 1
    finally:
        app.close()


def test_a_backlog_of_pending_deliveries_gets_429_with_retry_after(store, tmp_path):
    store.add_delivery("sentry", "event_alert", b"{}", {})
    app = make_app(tmp_path, settings={"database_url": store.url,
                                       "intake": {"max_pending": 1, "retry_after_seconds": 9}})
    good = compact(recorded("sentry/webhook-event-alert-triggered.json"))
    try:
        with served(app) as client:
            response = client.post("/hooks/sentry", content=good, headers=sentry_headers(good))
        assert response.status_code == 429, response.text
        assert response.headers["retry-after"] == "9"
        assert "retry later" in response.json()["error"]
        assert response.headers.get("connection", "") != "close"
        assert store.count_deliveries() == 1
    finally:
        app.close()
