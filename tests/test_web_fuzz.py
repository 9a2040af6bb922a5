"""Adversarial tests for the webhook receivers, over real HTTP: fuzzed requests, a storm, lies.

Hypothesis throws arbitrary bytes, hostile header values and mutated recorded vendor bodies
(dropped keys, wrong types, huge strings, deep nesting, odd unicode, NaN literals, duplicate keys)
at `/hooks/sentry` and `/hooks/datadog`; every answer must be a known status, every 4xx must say
why in JSON, and only an authenticated, well-formed request may store (and enqueue) a delivery.
A storm of concurrent redeliveries must store and enqueue each distinct body exactly once. The
few inputs still known to crash the receivers are kept out of the fuzz strategies and pinned by
strict xfail tests at the bottom, so each fix shows up as an unexpected pass (then widen the fuzz).
"""

from __future__ import annotations

import http.client
import json
import logging
import math
import random
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

from integrations.standins.base import recorded
from tests.support import DD_SECRET, compact, make_app, sentry_headers, served

ALLOWED = {200, 202, 400, 401, 413, 422}
FUZZ = settings(max_examples=150, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
SENTRY_DOCS = {"sentry/webhook-event-alert-triggered.json": "event_alert",
               "sentry/webhook-error-created.json": "error",
               "sentry/webhook-issue-created.json": "issue",
               "sentry/webhook-metric-alert-resolved.json": "metric_alert",
               "sentry/legacy-plugin-webhook.json": "legacy"}
RESOURCES = ["event_alert", "error", "issue", "installation", "metric_alert", "comment", "legacy"]
DATADOG_DOCS = ["datadog/monitor-webhook.rendered-example.json",
                "datadog/monitor-webhook.extended-template.json", "extended-rendered"]
# The extended template filled in, with a Python traceback in the message so stack parsing runs.
EXTENDED_VALUES = {
    "$EVENT_MSG": "%%%\nError rate high\n```\nTraceback (most recent call last):\n"
                  '  File "/app/shop/cart.py", line 42, in total\n'
                  "    return sum(i.price for i in items)\n"
                  "TypeError: unsupported operand type(s) for +: 'int' and 'NoneType'\n```\n"
                  "[Monitor](https://app.datadoghq.com/monitors/1)\n%%%",
    "$DATE": "1591216985000", "$LAST_UPDATED": "1591216985000", "$ID": "5485379890863845239",
    "$ALERT_TRANSITION": "Triggered", "$ALERT_TYPE": "error", "$EVENT_TITLE": "[Triggered] cart",
    "$TAGS": "env:prod,service:shop,version:1.2.3",
}
TRICKY = ["", "\u0000", "\ud800", "\udfff", "\u202e", "\ufeff", "日本語", "𝔘𝔫𝔦", "é", "\\", '"',
          "$ID", "%%%", "Recovered", "1591216985000", "-1", "1e308"]
STORM_CAP_SECONDS = 45


@pytest.fixture(scope="module")
def served_app(tmp_path_factory):
    """One served app for the fuzz runs: an example is judged by its own before/after delta."""
    app = make_app(tmp_path_factory.mktemp("fuzz"))
    with served(app) as client:
        # A fresh connection per request keeps one example's failure out of the next one's.
        client.headers["Connection"] = "close"
        yield app, client
    app.close()


@pytest.fixture
def app(tmp_path):
    app = make_app(tmp_path)
    yield app
    app.close()


@pytest.fixture
def client(app):
    with served(app) as test_client:
        test_client.headers["Connection"] = "close"
        yield test_client


# ---- strategies --------------------------------------------------------------------------

def _nest(depth: int, kind: str) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if kind == "list" else {"n": value}
    return value


SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=40)
           | st.sampled_from(TRICKY))
# Nesting stays well under Python's recursion limit: deeper bodies are a known 500 (see below).
VALUES = st.one_of(
    SCALARS,
    st.lists(SCALARS, max_size=4),
    st.dictionaries(st.text(max_size=8), SCALARS, max_size=4),
    # huge strings: most fit the 1 MiB limit, some do not (413)
    st.integers(10_000, 300_000).map(lambda n: "x" * n),
    st.integers(1_050_000, 1_100_000).map(lambda n: "é" * (n // 2)),
    st.tuples(st.integers(1, 60), st.sampled_from(["list", "dict"])).map(lambda t: _nest(*t)),
)


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    """Every path (dict keys and list indexes) into a parsed JSON document."""
    children = (value.items() if isinstance(value, dict)
                else enumerate(value) if isinstance(value, list) else ())
    found = [prefix]
    for key, child in children:
        found.extend(_paths(child, (*prefix, key)))
    return found


def _at(doc: Any, path: tuple) -> Any:
    for key in path:
        doc = doc[key]
    return doc


def _encode(value: Any, style: dict[str, Any], extra: dict[tuple, list], path: tuple = ()) -> str:
    """JSON text in `style`, with `extra` (key, value) pairs emitted after a dict's own (dupes)."""
    dump = json.dumps  # NaN and infinities come out as the non-standard literals, on purpose
    if isinstance(value, dict):
        items = list(value.items()) + extra.get(path, [])
        if style["sort"]:
            items.sort(key=lambda item: item[0], reverse=style["sort"] == "desc")
        return "{" + style["comma"].join(
            dump(key, ensure_ascii=style["ascii"]) + style["colon"]
            + _encode(child, style, extra, (*path, key)) for key, child in items) + "}"
    if isinstance(value, list):
        return "[" + style["comma"].join(_encode(child, style, extra, (*path, index))
                                         for index, child in enumerate(value)) + "]"
    return dump(value, ensure_ascii=style["ascii"])


class Wire(bytes):
    """Request bytes that print short in a falsifying example (some are a megabyte long)."""

    def __repr__(self) -> str:
        return f"Wire({bytes(self[:300])!r} + {max(len(self) - 300, 0)} more bytes)"

    def _repr_pretty_(self, printer: Any, _cycle: bool) -> None:
        printer.text(repr(self))


def _load(name: str) -> Any:
    if name != "extended-rendered":
        return recorded(name)
    template = recorded("datadog/monitor-webhook.extended-template.json")
    org = {key: f"org-{key}" for key in template.pop("org")}
    return {key: EXTENDED_VALUES.get(value, value.strip("$").lower())
            for key, value in template.items()} | {"org": org}


@st.composite
def mutated(draw: st.DrawFn, names: list[str]) -> tuple[str, Wire]:
    """(document name, its bytes after up to four drops, swaps or duplicated keys)."""
    name = draw(st.sampled_from(names))
    doc, extra = _load(name), {}
    for _ in range(draw(st.integers(0, 4))):
        path = draw(st.sampled_from(_paths(doc)))
        action = draw(st.sampled_from(["drop", "set", "dup"]))
        parent = _at(doc, path[:-1]) if path else None
        if action == "drop" and path:
            del parent[path[-1]]
        elif action == "set" and path:
            parent[path[-1]] = draw(VALUES)
        elif action == "dup" and isinstance(_at(doc, path), dict) and _at(doc, path):
            key = draw(st.sampled_from(sorted(_at(doc, path))))
            extra.setdefault(path, []).append((key, draw(VALUES)))
        elif not path:
            doc = draw(VALUES)
    style = {"comma": draw(st.sampled_from([",", ", ", ",\n  "])),
             "colon": draw(st.sampled_from([":", ": "])), "ascii": draw(st.booleans()),
             "sort": draw(st.sampled_from([None, "asc", "desc"]))}
    # surrogatepass: a lone surrogate becomes invalid UTF-8 on the wire, which is a fine test too
    return name, Wire(_encode(doc, style, extra).encode("utf-8", "surrogatepass"))


def any_body(names: list[str]) -> st.SearchStrategy[Wire]:
    """Arbitrary bytes or a mutated recorded document."""
    return st.binary(max_size=600).map(Wire) | mutated(names).map(lambda case: case[1])


def header_text() -> st.SearchStrategy[str]:
    """Header values HTTP allows: visible latin-1 (not DEL, which httptools refuses before the
    application sees the request), inner spaces, no blanks at either end."""
    chars = st.characters(min_codepoint=0x20, max_codepoint=0xFF, exclude_characters="\x7f")
    return st.text(chars, max_size=80).map(str.strip)


TIMESTAMPS = st.one_of(
    st.integers(-200, 200).map(lambda offset: str(int(time.time()) + offset)),
    st.one_of(
        st.integers(400, 10**9).flatmap(lambda age: st.sampled_from([age, -age]))
        .map(lambda age: str(int(time.time()) - age)),
        st.sampled_from(["nan", "NaN", "inf", "-Infinity", "1e999", "1_0", "+1e3", "0x10"]),
        header_text(),
        st.none(),
    ),
)


def _fresh(timestamp: str | None) -> bool:
    """Whether the receiver should take this timestamp as recent (the limit is 300 s).

    Python's own float() is the reference: it is what the header is read with.
    """
    try:
        sent = float(timestamp) if timestamp is not None else math.nan
    except ValueError:
        return False
    return math.isfinite(sent) and abs(time.time() - sent) <= 300


# ---- invariants --------------------------------------------------------------------------

def _state(app) -> tuple[int, int]:
    return app.store.count_deliveries(), app.broker.queues["default"].qsize()


def check(app, before: tuple[int, int], response: httpx.Response) -> None:
    """The invariants every answer keeps: a known status, a reason, and storage only on 202."""
    event(f"status {response.status_code}")
    assert response.status_code in ALLOWED, (response.status_code, response.text[:300])
    if response.status_code >= 400:
        error = response.json()["error"]
        assert isinstance(error, str) and error, response.text[:300]
    count, queued = before
    grew = 1 if response.status_code == 202 else 0
    if grew:
        assert response.json()["accepted"] is True
    assert _state(app) == (count + grew, queued + grew), response.text[:300]


def _latin1(headers: dict[str, str | None]) -> dict[str, bytes]:
    return {key: value.encode("latin-1") for key, value in headers.items() if value is not None}


# ---- fuzz: Sentry ------------------------------------------------------------------------

@FUZZ
@given(case=mutated(list(SENTRY_DOCS)), resource=st.sampled_from([None, *RESOURCES]))
def test_fuzz_sentry_signed_mutated_bodies(served_app, case, resource):
    app, client = served_app
    name, body = case
    before = _state(app)
    headers = sentry_headers(body, resource or SENTRY_DOCS[name])
    check(app, before, client.post("/hooks/sentry", content=body, headers=headers))


@FUZZ
@given(body=any_body(list(SENTRY_DOCS)),
       signing=st.just("valid") | st.sampled_from(["absent", "garbage", "other-secret",
                                                    "other-body"]),
       garbage=header_text(), timestamp=TIMESTAMPS,
       resource=st.sampled_from(RESOURCES) | st.none() | header_text())
def test_fuzz_sentry_any_request(served_app, body, signing, garbage, timestamp, resource):
    app, client = served_app
    signed = {"valid": body, "other-body": body + b" "}.get(signing, body)
    signature = {"absent": None, "garbage": garbage}.get(signing, sentry_headers(
        signed, secret="not-the-secret" if signing == "other-secret" else "test-client-secret"
    )["Sentry-Hook-Signature"])
    before = _state(app)
    response = client.post("/hooks/sentry", content=body, headers=_latin1({
        "Sentry-Hook-Signature": signature, "Sentry-Hook-Timestamp": timestamp,
        "Sentry-Hook-Resource": resource}))
    check(app, before, response)
    # The order of the checks: size, then signature and timestamp, then the resource header.
    if len(body) > app.settings.webhook_max_bytes:
        assert response.status_code == 413, response.text[:300]
    elif signing != "valid" or not _fresh(timestamp):
        assert response.status_code == 401, response.text[:300]
    elif not resource:
        assert response.status_code == 400, response.text[:300]


# ---- fuzz: Datadog -----------------------------------------------------------------------

def _echoes_wide_text(doc: Any) -> bool:
    """A date the 422 reason quotes back with characters beyond latin-1 (a known 500, below)."""
    return isinstance(doc, dict) and any(
        isinstance(doc.get(key), str) and max(doc[key], default="\0") > "\xff"
        for key in ("date", "last_updated"))


@FUZZ
@given(case=mutated(DATADOG_DOCS))
def test_fuzz_datadog_authenticated_mutated_bodies(served_app, case):
    app, client = served_app
    body = case[1]
    assume(not _echoes_wide_text(_loads_or_none(body)))
    before = _state(app)
    response = client.post("/hooks/datadog", content=body, headers={"X-Suture-Token": DD_SECRET})
    check(app, before, response)


@FUZZ
@given(body=any_body(DATADOG_DOCS),
       token=st.just(DD_SECRET) | st.none() | header_text() | st.sampled_from(
           [DD_SECRET[:-1], DD_SECRET + "x", DD_SECRET.upper(), ""]))
def test_fuzz_datadog_any_request(served_app, body, token):
    app, client = served_app
    assume(token != DD_SECRET or not _echoes_wide_text(_loads_or_none(body)))
    before = _state(app)
    response = client.post("/hooks/datadog", content=body,
                           headers=_latin1({"X-Suture-Token": token}))
    check(app, before, response)
    if len(body) > app.settings.webhook_max_bytes:
        assert response.status_code == 413, response.text[:300]
    elif token != DD_SECRET:
        assert response.status_code == 401, response.text[:300]


def _loads_or_none(body: bytes) -> Any:
    try:
        return json.loads(body)
    except (ValueError, RecursionError):
        return None


# ---- a storm of redeliveries -------------------------------------------------------------

def storm_bodies(per_kind: int = 20) -> list[tuple[bytes, str]]:
    """Distinct signed-able bodies: recorded alerts, errors and issues with their ids varied."""
    bodies = []
    for n in range(per_kind):
        alert = recorded("sentry/webhook-event-alert-triggered.json")
        alert["data"]["event"]["event_id"] = f"{n:032x}"
        error = recorded("sentry/webhook-error-created.json")
        error["data"]["error"]["event_id"] = f"{n + 1000:032x}"
        issue = recorded("sentry/webhook-issue-created.json")
        issue["data"]["issue"]["id"] = str(9_000_000 + n)
        bodies += [(compact(alert), "event_alert"), (compact(error), "error"),
                   (compact(issue), "issue")]
    return bodies


def storm_plan(bodies: int, total: int) -> list[tuple[int, bool]]:
    """`total` (body index, is-a-replay) sends, shuffled: each body as many times as the next,
    half of them exact repeats of one delivery, half replays with fresh headers."""
    plan = [(send % bodies, (send // bodies) % 2 == 1) for send in range(total)]
    random.Random(20240611).shuffle(plan)
    return plan


def test_a_storm_of_redeliveries_stores_and_enqueues_each_body_once(client, app):
    bodies = storm_bodies()
    # One delivery as Sentry first sent it, two minutes ago (inside the five-minute window).
    first = [{**sentry_headers(body, resource, timestamp=time.time() - 120),
              "Request-ID": str(uuid.uuid4())} for body, resource in bodies]
    del client.headers["Connection"]  # keep-alive here: eight connections, reused

    def send(item: tuple[int, bool]) -> tuple[int, httpx.Response]:
        index, replay = item
        body, resource = bodies[index]
        headers = ({**sentry_headers(body, resource), "Request-ID": str(uuid.uuid4())}
                   if replay else first[index])
        return index, client.post("/hooks/sentry", content=body, headers=headers)

    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = [pool.submit(send, item) for item in storm_plan(len(bodies), total=600)]
        done, late = wait(futures, timeout=STORM_CAP_SECONDS)
        for future in late:
            future.cancel()
    assert not late, f"{len(late)} sends still unanswered after {STORM_CAP_SECONDS} s (a hang)"
    answers: dict[int, list[httpx.Response]] = {}
    for future in done:
        index, response = future.result()
        answers.setdefault(index, []).append(response)
    statuses = Counter(r.status_code for responses in answers.values() for r in responses)
    assert statuses == {200: 540, 202: 60}, statuses
    ids = set()
    for responses in answers.values():
        assert [r.status_code for r in responses].count(202) == 1
        assert all(r.json().get("duplicate") for r in responses if r.status_code == 200)
        delivery_ids = {r.json()["delivery"] for r in responses}
        assert len(delivery_ids) == 1, delivery_ids
        ids |= delivery_ids
    assert len(ids) == len(bodies) == 60
    assert app.store.count_deliveries() == 60
    assert app.broker.queues["default"].qsize() == 60
    assert {app.store.get_delivery(i).status for i in ids} == {"pending"}


# ---- the raw-bytes rule ------------------------------------------------------------------

def _reserialised(payload: dict[str, Any]) -> dict[str, bytes]:
    """Semantically identical renderings of `payload`, each byte-different from the compact one."""
    keys_reversed = dict(reversed(list(payload.items())))
    return {
        "spaces": json.dumps(payload, ensure_ascii=False).encode(),
        "key-order": json.dumps(keys_reversed, separators=(",", ":"), ensure_ascii=False).encode(),
        "sorted-keys": json.dumps(payload, separators=(",", ":"), ensure_ascii=False,
                                  sort_keys=True).encode(),
        "unicode-escapes": json.dumps(payload, separators=(",", ":")).encode(),
        "escaped-slashes": json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        .replace("/", "\\/").encode(),
        "pretty": json.dumps(payload, indent=2, ensure_ascii=False).encode(),
        "trailing-newline": json.dumps(payload, separators=(",", ":"), ensure_ascii=False)
        .encode() + b"\n",
    }


def test_reserialised_json_with_the_original_signature_is_rejected(client, app):
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    payload["data"]["event"]["title"] = "ReferenceError: héck is not defined — ünïcode"
    original = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    headers = sentry_headers(original)
    variants = _reserialised(payload)
    for label, body in variants.items():
        assert body != original and json.loads(body) == json.loads(original), label
        response = client.post("/hooks/sentry", content=body, headers=headers)
        assert response.status_code == 401 and response.json()["error"], (label, response.text)
    assert app.store.count_deliveries() == 0
    assert client.post("/hooks/sentry", content=original, headers=headers).status_code == 202
    for label, body in variants.items():
        again = client.post("/hooks/sentry", content=body, headers=headers)
        assert again.status_code == 401, (label, again.text)
    assert app.store.count_deliveries() == 1


# ---- Content-Length lies and chunked bodies ----------------------------------------------

def lying_post(base_url: str, path: str, headers: dict[str, str], body: bytes) -> Any:
    """POST with `headers` sent as given (http.client adds no Content-Length of its own)."""
    url = httpx.URL(base_url)
    connection = http.client.HTTPConnection(url.host, url.port, timeout=10)
    try:
        connection.request("POST", path, body=body, headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.mark.parametrize("path", ["/hooks/sentry", "/hooks/datadog"])
def test_a_declared_length_over_the_limit_is_413_before_the_body_arrives(client, app, path):
    body = b"{}"
    headers = {**sentry_headers(body), "X-Suture-Token": DD_SECRET,
               "Content-Length": str(app.settings.webhook_max_bytes * 10)}
    status, answer = lying_post(str(client.base_url), path, headers, body)
    assert status == 413 and answer["error"], answer
    assert app.store.count_deliveries() == 0


def _pieces(body: bytes, size: int = 65_536):
    for start in range(0, len(body), size):
        yield body[start:start + size]


@pytest.mark.parametrize("path", ["/hooks/sentry", "/hooks/datadog"])
def test_a_chunked_body_over_the_limit_is_413(client, app, path):
    body = b'{"pad": "' + b"x" * (app.settings.webhook_max_bytes + 100_000) + b'"}'
    headers = {**sentry_headers(body), "X-Suture-Token": DD_SECRET}
    response = client.post(path, content=_pieces(body), headers=headers)
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 413 and response.json()["error"], response.text
    assert app.store.count_deliveries() == 0


def test_a_chunked_signed_body_under_the_limit_is_accepted(client, app):
    body = compact(recorded("sentry/webhook-event-alert-triggered.json"))
    response = client.post("/hooks/sentry", content=_pieces(body, 1000),
                           headers=sentry_headers(body))
    assert response.request.headers["Transfer-Encoding"] == "chunked"
    assert response.status_code == 202, response.text
    assert app.store.count_deliveries() == 1


# ---- hostile inputs: fixed ones stay as regressions, open ones are strict xfails ----------

ALERT = compact(recorded("sentry/webhook-event-alert-triggered.json"))
DEEP = b'{"a":' * 5_000 + b"1" + b"}" * 5_000
LONG_INT = b'{"id": ' + b"7" * 5_000 + b"}"
WIDE_DATE = json.dumps({**recorded("datadog/monitor-webhook.rendered-example.json"),
                        "date": "日本"}).encode()


def _xfail(reason: str) -> pytest.MarkDecorator:
    return pytest.mark.xfail(strict=True, reason=reason)


class CrashLog(logging.Handler):
    """Takes the server's "Exception in ASGI application" records without formatting them.

    Formatting a traceback runs `ast.parse` on CPython 3.11 (for the ^^^ markers); on the server
    thread, racing pytest's own parsing on the main thread, it can trip CPython's shared AST
    recursion counter ("SystemError: AST constructor recursion depth mismatch") and abort the
    whole session. `wait_if_crashed` holds the test until the record is in.
    """

    def __init__(self) -> None:
        super().__init__()
        self.crashed = threading.Event()

    def emit(self, record: logging.LogRecord) -> None:
        self.crashed.set()

    def wait_if_crashed(self, response: httpx.Response) -> None:
        if response.status_code >= 500:
            self.crashed.wait(timeout=10)


def mute_crashes(monkeypatch: pytest.MonkeyPatch) -> CrashLog:
    """Route uvicorn's error log to a CrashLog (call it once the server has started)."""
    handler = CrashLog()
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "handlers", [handler])
    monkeypatch.setattr(logging.getLogger("uvicorn.error"), "propagate", False)
    return handler


HOSTILE = [
    # once a 500 (TypeError from hmac.compare_digest on a non-ASCII str), without the secret
    pytest.param("/hooks/sentry", ALERT, {"Sentry-Hook-Signature": b"\xe9" * 64}, {401},
                 id="non-ascii-signature"),
    # once a 500 (OverflowError from int(age)), and "nan" once passed as fresh
    pytest.param("/hooks/sentry", ALERT, {"Sentry-Hook-Timestamp": "inf"}, {401},
                 id="infinite-timestamp"),
    pytest.param("/hooks/sentry", ALERT, {"Sentry-Hook-Timestamp": "1e999"}, {401},
                 id="overflowing-timestamp"),
    pytest.param("/hooks/sentry", ALERT, {"Sentry-Hook-Timestamp": "nan"}, {401},
                 id="nan-timestamp"),
    # once 500s: RecursionError, a plain ValueError for over-long integers, and a reason
    # beyond latin-1 copied into the Sentry-Hook-Error header
    pytest.param("/hooks/sentry", DEEP, {}, {400, 422}, id="sentry-deep-nesting"),
    pytest.param("/hooks/datadog", DEEP, {}, {400, 422}, id="datadog-deep-nesting"),
    pytest.param("/hooks/sentry", LONG_INT, {}, {400, 422}, id="sentry-long-int"),
    pytest.param("/hooks/datadog", LONG_INT, {}, {400, 422}, id="datadog-long-int"),
    pytest.param("/hooks/datadog", WIDE_DATE, {}, {422}, id="reason-beyond-latin1"),
]


@pytest.mark.parametrize(("path", "body", "extra", "statuses"), HOSTILE)
def test_hostile_input_gets_a_4xx_with_a_reason(client, app, monkeypatch, path, body, extra,
                                                statuses):
    crashes = mute_crashes(monkeypatch)
    base = sentry_headers(body) if path == "/hooks/sentry" else {"X-Suture-Token": DD_SECRET}
    response = client.post(path, content=body, headers={**base, **extra})
    crashes.wait_if_crashed(response)
    assert response.status_code in statuses, (response.status_code, response.text[:200])
    assert response.json()["error"]
    assert app.store.count_deliveries() == 0


# NaN once reached PostgreSQL's json column (a 500) while SQLite stored it; now both refuse it.
@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgres",
                                                            marks=pytest.mark.postgres)])
def test_a_nan_literal_is_stored_or_refused_alike_on_every_store(request, tmp_path, monkeypatch,
                                                                  backend):
    url = request.getfixturevalue("postgres_database") if backend == "postgres" else None
    app = make_app(tmp_path, settings={"database_url": url} if url else {})
    payload = recorded("sentry/webhook-event-alert-triggered.json")
    payload["data"]["event"]["event_id"] = uuid.uuid4().hex
    body = compact(payload)[:-1] + b',"extra":NaN}'
    try:
        with served(app) as client:
            crashes = mute_crashes(monkeypatch)
            before = app.store.count_deliveries()
            response = client.post("/hooks/sentry", content=body, headers=sentry_headers(body))
            crashes.wait_if_crashed(response)
        assert response.status_code in {202, 400, 422}, (response.status_code, response.text)
        grew = 1 if response.status_code == 202 else 0
        assert app.store.count_deliveries() == before + grew
    finally:
        app.close()
