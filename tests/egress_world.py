"""The pieces of the egress corpus test: the sample shop's real crash with generated secrets and
personal values planted all over it, and the search for them in what left suture.

Values come from `tests.fakes` through `test_scrub_corpus.Corpus` (every kind in turn, each with
the context its kind needs). They go where events carry them but the crash itself is left alone
(its type, value and frames), so the run still reaches a verified fix and a pull request.
"""

from __future__ import annotations

import base64
import copy
import io
import json
import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

from tests.test_scrub_corpus import Corpus
from worker.logs import JsonFormatter


def planted_event(corpus: Corpus, crash: dict[str, Any], body: str) -> dict[str, Any]:
    """`crash` (a sentry-sdk event) with values in 17 positions and a fresh event id."""
    c = corpus
    event = copy.deepcopy(crash)
    event["event_id"] = uuid.UUID(int=c.rng.getrandbits(128)).hex
    request = event["request"]
    # The shop's own query comes first: the crash needs `cart=empty`.
    request["query_string"] += "&" + urlencode([c.pair("query", i) for i in range(3)])
    request["headers"].update({f"X-{k}": v for k, v in (c.pair("header", i) for i in range(3))})
    cookies = [c.pair("cookie", i) for i in range(3)]
    request["headers"]["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies)
    request["cookies"] = dict(cookies)
    if body == "json":
        request["data"] = dict(c.pair("json-body", i) for i in range(4))
    else:
        request["data"] = urlencode([c.pair("form-body", i) for i in range(4)])
    for frame in event["exception"]["values"][-1]["stacktrace"]["frames"]:
        frame["vars"] = dict(c.pair("frame-vars", j) for j in range(2))
    # An earlier exception in the chain; the crash (the last one) stays what it was.
    event["exception"]["values"].insert(0, {
        "type": "AuthError", "value": f"Login failed {c.text('exception-chain')}"})
    event.update({
        "title": f"ZeroDivisionError: integer division {c.text('title')}",
        "culprit": f"shop.pricing in average_item_price {c.text('culprit')}",
        "transaction": f"/cart/average {c.text('transaction')}",
        "logentry": {"formatted": f"Average failed {c.text('message')}"},
        "user": {"id": c.value("user", {"email", "us-ssn", "uk-nino"})[1],
                 "email": c.value("user", {"email"})[1],
                 "ip_address": c.value("user", {"ipv4"})[1],
                 "data": dict(c.pair("user", i) for i in range(2))},
        "tags": [list(c.pair("tags", i)) for i in range(3)],
        "extra": dict(c.pair("extra", i) for i in range(3)),
        "contexts": {**event.get("contexts", {}),
                     "customer": dict(c.pair("contexts", i) for i in range(3))},
        "breadcrumbs": {"values": [
            {"category": "log", "level": "info", "message": f"cart {c.text('breadcrumb')}",
             "data": dict(c.pair("breadcrumb-data", i) for i in range(2))} for _ in range(2)]},
    })
    return event


def forms(value: str) -> set[str]:
    """How a value could appear in what left: raw, without separators, URL-, JSON- or
    base64-encoded."""
    raw = value.encode()
    return {value, "".join(ch for ch in value if ch not in " -"), quote(value, safe=""),
            quote_plus(value), json.dumps(value)[1:-1], base64.b64encode(raw).decode(),
            base64.urlsafe_b64encode(raw).decode().rstrip("=")}


def found_in(channels: dict[str, str], values: list[tuple[str, str, str]]) -> list[str]:
    """Each (kind, position, value) found in a channel's text, said as where it was found."""
    return [f"{kind} from {position} ({value!r}) in {name}"
            for kind, position, value in values for name, text in channels.items()
            if any(form in text for form in forms(value))]


@contextmanager
def json_logs() -> Iterator[io.StringIO]:
    """Every log record of the process, as suture writes it in JSON, into a buffer."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def bodies(calls: list[Any]) -> str:
    """What an HTTP stand-in received: every request's path, query and body, as text."""
    return "\n".join(f"{call.method} {call.path} {json.dumps(call.query)}\n"
                     f"{call.body.decode('utf-8', 'replace')}" for call in calls)
