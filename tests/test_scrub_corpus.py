"""A corpus of generated secrets and personal values planted all over realistic Sentry events
goes through normalisation and ingestion into the store (SQLite and PostgreSQL); afterwards, and
after the retention purge, no planted value is in any table, read generically.

Values sit where real events carry them (message, log lines, exception values, query string,
JSON and form bodies, headers, cookies, breadcrumbs, frame variables, source lines, tags, extra,
contexts, user, title, culprit, frame paths), each with the context it would have there: a
password after the word `password` or under a `password` key, an email anywhere.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlencode

import pytest
from sqlalchemy import select

from tests import fakes
from tests.support import compact
from tests.test_retention import make_deps
from worker.retention_settings import RetentionSettings
from worker.stages import ingest
from worker.stages.ingest import ingest_delivery
from worker.store import SqlStore
from worker.store.retention import purge
from worker.store.tables import Base

# Kinds that need a naming word or key around them to be told from ordinary text.
NAMED = {"password": ("password", "with password {}"), "api-key": ("api_key", "api key {}")}
# A frame's path and function keep all but tokens and emails (they locate the code).
NAME_SAFE = {"email", "stripe-key", "github-token", "slack-token", "aws-access-key", "jwt"}


@dataclass
class Planted:
    kind: str
    position: str
    value: str


@dataclass
class Corpus:
    rng: random.Random
    planted: list[Planted] = field(default_factory=list)
    turn: int = 0

    def value(self, position: str, allowed: set[str] | None = None) -> tuple[str, str]:
        """The next kind in turn (so every kind lands in many positions) and a fresh value."""
        kinds = [k for k in fakes.KINDS if allowed is None or k.name in allowed]
        kind = kinds[self.turn % len(kinds)]
        self.turn += 1
        value = kind.make(self.rng)
        self.planted.append(Planted(kind.name, position, value))
        return kind.name, value

    def text(self, position: str, allowed: set[str] | None = None) -> str:
        """A phrase holding a fresh value, with the words its kind needs."""
        kind, value = self.value(position, allowed)
        return (NAMED[kind][1] if kind in NAMED else "for customer {}").format(value)

    def pair(self, position: str, index: int) -> tuple[str, str]:
        """A (key, value): a naming key for the kinds that need one, else a neutral key."""
        kind, value = self.value(position)
        return (NAMED[kind][0] if kind in NAMED else f"note_{index}"), value


def _three(make: Callable[[int], str]) -> list[str]:
    return [make(i) for i in range(3)]


def sentry_event(corpus: Corpus, body: str) -> dict[str, Any]:
    """A stored Sentry event (as a webhook carries it) with values planted everywhere."""
    c = corpus
    query = [c.pair("query", i) for i in range(3)]
    headers = [c.pair("header", i) for i in range(3)]
    cookies = [c.pair("cookie", i) for i in range(3)]
    path_kind, path_value = c.value("url-path", NAME_SAFE - {"jwt"})
    request: dict[str, Any] = {
        "method": "POST",
        "url": f"https://shop.example.com/customers/{quote(path_value, safe='')}/orders",
        "query_string": urlencode(query),
        "headers": [["User-Agent", "Mozilla/5.0"], *[[f"X-{k}", v] for k, v in headers],
                    ["Cookie", "; ".join(f"{k}={v}" for k, v in cookies)]],
        "cookies": cookies,
    }
    if body == "json":
        request["data"] = {"order": {k: v for k, v in (c.pair("json-body", i)
                                                         for i in range(4))}}
        request["headers"].append(["Content-Type", "application/json"])
    else:
        request["data"] = urlencode([c.pair("form-body", i) for i in range(4)])
        request["headers"].append(["Content-Type", "application/x-www-form-urlencoded"])
    frames = [{
        "filename": f"shop/{name}.py", "module": f"shop.{name}", "function": "submit",
        "abs_path": f"/srv/{c.value('frame-path', NAME_SAFE)[1]}/shop/{name}.py",
        "lineno": 40 + i, "in_app": True,
        "context_line": f"    submit({c.text('source-line')!r})",
        "pre_context": _three(lambda _: f"    log.info({c.text('pre-context')!r})"),
        "vars": dict(c.pair("frame-vars", j) for j in range(2)),
    } for i, name in enumerate(("views", "checkout"))]
    return {
        "event_id": uuid.UUID(int=corpus.rng.getrandbits(128)).hex,
        "platform": "python", "level": "error", "timestamp": 1751006912.866,
        "release": "shop@1.4.2", "environment": "production",
        "title": f"ValueError: declined {c.text('title')}",
        "culprit": f"shop.checkout in submit {c.text('culprit')}",
        "logentry": {"formatted": f"Payment declined {c.text('message')}"},
        "exception": {"values": [
            {"type": "AuthError", "value": "2025-06-27 06:48:32,866 ERROR shop.auth "
                                           f"Login failed {c.text('log-line')}"},
            {"type": "ValueError", "value": f"card declined {c.text('exception')}",
             "stacktrace": {"frames": frames}},
        ]},
        "request": request,
        "user": {"id": c.value("user", {"email", "us-ssn", "uk-nino"})[1],
                 "email": c.value("user", {"email"})[1],
                 "ip_address": c.value("user", {"ipv4"})[1],
                 "data": dict(c.pair("user", i) for i in range(2))},
        "tags": [list(c.pair("tags", i)) for i in range(3)],
        "extra": dict(c.pair("extra", i) for i in range(3)),
        "contexts": {"customer": dict(c.pair("contexts", i) for i in range(3))},
        "breadcrumbs": {"values": [
            {"category": "log", "level": "info", "message": f"checkout {c.text('breadcrumb')}",
             "data": dict(c.pair("breadcrumb", i) for i in range(2))} for _ in range(2)]},
    }


def webhook(event: dict[str, Any]) -> dict[str, Any]:
    return {"action": "triggered", "installation": {"uuid": "inst-1"},
            "data": {"event": event, "triggered_rule": "all errors"}}


def forms(value: str) -> set[str]:
    """How a value may appear at rest: as it is, without separators, URL- or JSON-encoded."""
    compact_value = "".join(ch for ch in value if ch not in " -")
    return {value, compact_value, quote_plus(value), quote(value, safe=""),
            json.dumps(value)[1:-1]}


def table_text(store: SqlStore) -> dict[str, str]:
    """Every table of the schema, every row and column, as text."""
    dumped: dict[str, str] = {}
    with store.session() as session:
        for table in Base.metadata.sorted_tables:
            rows = session.execute(select(table)).mappings().all()
            dumped[table.name] = json.dumps([dict(row) for row in rows], default=str)
    return dumped


def leaks(store: SqlStore, planted: list[Planted]) -> list[str]:
    tables = table_text(store)
    return [f"{p.kind} in {p.position} ({p.value!r}) found in {name}"
            for p in planted for name, text in tables.items()
            if any(form in text for form in forms(p.value))]


def test_no_planted_value_is_stored_after_ingestion_or_after_the_purge(
        store: SqlStore, tmp_path: Path) -> None:
    corpus = Corpus(random.Random(2024))
    deps = make_deps(store, tmp_path)
    payloads = [webhook(sentry_event(corpus, body)) for body in ("json", "form", "json")]
    ids = [store.add_delivery("sentry", "event_alert", compact(p), p)[0] for p in payloads]
    before = leaks(store, corpus.planted)

    for delivery_id in ids:
        ingest_delivery(deps, delivery_id)

    kinds = {p.kind for p in corpus.planted}
    positions = {p.position for p in corpus.planted}
    assert len(corpus.planted) >= 100 and len(kinds) >= 25 and len(positions) >= 15
    assert len(before) >= len(corpus.planted)  # all of it was there, raw, before ingestion
    statuses = [d.status if (d := store.get_delivery(i)) else "missing" for i in ids]
    assert statuses == ["processed"] * len(ids)
    [cluster] = store.list_clusters()
    assert len(store.cluster_events(cluster.id)) == len(ids)
    after_ingest = leaks(store, corpus.planted)
    purge(store, RetentionSettings(), datetime.now(UTC) + timedelta(days=2))
    after_purge = leaks(store, corpus.planted)
    print(f"\ncorpus: {len(corpus.planted)} values, {len(kinds)} kinds, {len(positions)} "
          f"positions; found raw before ingestion: {len({b.split(' found')[0] for b in before})}"
          f"; found after ingestion: {len(after_ingest)}; after the purge: {len(after_purge)}")
    assert after_ingest == []
    assert after_purge == []
    assert "[REDACTED:" in cluster.title


def test_the_check_finds_values_when_ingestion_does_not_scrub(
        store: SqlStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The control: with scrubbing at the door switched off, the same corpus leaks into the
    # events, the cluster's title and its culprit, and the check above would see it.
    monkeypatch.setattr(ingest, "scrub_event", lambda event: event)
    corpus = Corpus(random.Random(2024))
    deps = make_deps(store, tmp_path)
    for body in ("json", "form"):
        payload = webhook(sentry_event(corpus, body))
        ingest_delivery(deps, store.add_delivery("sentry", "event_alert", compact(payload),
                                                 payload)[0])
    found = leaks(store, corpus.planted)
    print(f"\nwithout scrubbing at the door: {len(found)} of {len(corpus.planted)} values stored")
    assert any(" in title " in f or "title (" in f for f in found)
    assert len(found) >= len(corpus.planted) // 3
