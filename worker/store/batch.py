"""Storing many deliveries in one transaction and one round trip (the web intake's group commit).

One `INSERT ... ON CONFLICT DO NOTHING RETURNING` for the whole batch (SQLAlchemy sends it as a
single multi-row statement on PostgreSQL and on SQLite 3.35+); only when some body was stored
before does a second statement look up the ids it already has. A body twice in one batch is one
delivery: the first is created, the others answer "duplicate" with its id, as `add_delivery`
answers a body received before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, func, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite

from worker.store.tables import DeliveryRow

_TABLE = DeliveryRow.__table__


class NewDelivery(NamedTuple):
    """A delivery to store: its source, kind, body hash and parsed payload."""

    source: str
    kind: str
    body_sha256: str
    payload: dict[str, Any]

    @classmethod
    def of(cls, source: str, kind: str, body: bytes, payload: dict[str, Any]) -> NewDelivery:
        """The delivery of `body`, keyed by its SHA-256 as `add_delivery` keys it."""
        return cls(source, kind, hashlib.sha256(body).hexdigest(), payload)


class Stored(NamedTuple):
    """Where a delivery ended up: its id, and whether this batch created it."""

    id: int
    created: bool


def _insert_statement(dialect: str) -> Any:
    module = postgresql if dialect == "postgresql" else sqlite
    return (module.insert(_TABLE)
            .on_conflict_do_nothing(index_elements=["source", "body_sha256"])
            .returning(_TABLE.c.id, _TABLE.c.source, _TABLE.c.body_sha256))


def store_deliveries(conn: Connection, items: Sequence[NewDelivery],
                     now: datetime) -> list[Stored]:
    """Store `items` in the caller's transaction; one `Stored` per item, in order."""
    first: dict[tuple[str, str], NewDelivery] = {}
    for item in items:
        first.setdefault((item.source, item.body_sha256), item)
    rows = [{"source": item.source, "kind": item.kind, "body_sha256": item.body_sha256,
             "payload": item.payload, "status": "pending", "reason": "", "attempts": 0,
             "received_at": now, "updated_at": now} for item in first.values()]
    ids: dict[tuple[str, str], int] = {}
    for row in conn.execute(_insert_statement(conn.dialect.name), rows):
        ids[(row.source, row.body_sha256)] = row.id
    created = set(ids)
    missing = [key for key in first if key not in ids]
    if missing:  # received before: their ids, from the rows already there
        found = conn.execute(select(_TABLE.c.id, _TABLE.c.source, _TABLE.c.body_sha256).where(
            tuple_(_TABLE.c.source, _TABLE.c.body_sha256).in_(missing)))
        for row in found:
            ids[(row.source, row.body_sha256)] = row.id
    answers = []
    for item in items:
        key = (item.source, item.body_sha256)
        answers.append(Stored(ids[key], key in created))
        created.discard(key)  # a second copy in the same batch is a duplicate
    return answers


def count_pending(conn: Connection) -> int:
    """How many deliveries wait to be processed."""
    return int(conn.execute(select(func.count()).select_from(_TABLE)
                            .where(_TABLE.c.status == "pending")).scalar_one())
