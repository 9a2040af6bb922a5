"""Storing many deliveries in one transaction and one round trip (the web intake's group commit).

One multi-row `INSERT ... ON CONFLICT DO NOTHING RETURNING` for the whole batch (PostgreSQL,
and SQLite 3.35+), written as SQL here rather than built by the ORM: at a thousand deliveries a
second the ORM's per-row work cost more than the database's. Payloads arrive as JSON text (a
webhook's own body, already checked strictly), so nothing is serialised again. Only when some
body was stored before does a second statement look up the ids it already has. A body twice in
one batch is one delivery: the first is created, the others answer "duplicate" with its id, as
`SqlStore.add_delivery` answers a body received before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from sqlalchemy import Connection, func, select, tuple_

from worker.store.tables import DeliveryRow

if TYPE_CHECKING:
    import psycopg

_TABLE = DeliveryRow.__table__
_COLUMNS = ("source", "kind", "body_sha256", "payload", "status", "reason", "attempts",
            "received_at", "updated_at")


class NewDelivery(NamedTuple):
    """A delivery to store: its source, kind, body hash and payload as JSON text."""

    source: str
    kind: str
    body_sha256: str
    payload_json: str

    @classmethod
    def of(cls, source: str, kind: str, body: bytes, payload: dict[str, Any]) -> NewDelivery:
        """The delivery of `body` with `payload` to keep, keyed by the body's SHA-256 as
        `add_delivery` keys it."""
        return cls(source, kind, hashlib.sha256(body).hexdigest(), json.dumps(payload))

    @classmethod
    def of_body(cls, source: str, kind: str, body: bytes) -> NewDelivery:
        """The delivery whose payload is `body` itself: UTF-8 JSON already parsed strictly
        (`worker.web.strict`), stored as sent."""
        return cls(source, kind, hashlib.sha256(body).hexdigest(), body.decode("utf-8"))


class Stored(NamedTuple):
    """Where a delivery ended up: its id, and whether this batch created it."""

    id: int
    created: bool


_TAIL = " ON CONFLICT (source, body_sha256) DO NOTHING RETURNING id, source, body_sha256"
POSTGRES_INSERT = (
    f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) SELECT s, k, h, p, 'pending', '', 0, %s, %s "
    "FROM json_to_recordset(CAST(%s AS JSON)) AS t(s TEXT, k TEXT, h TEXT, p JSON)" + _TAIL)
"""The batch insert on PostgreSQL: parameters received_at, updated_at, `records(items)`."""
POSTGRES_LOOKUP = (
    "SELECT id, source, body_sha256 FROM deliveries WHERE (source, body_sha256) IN "
    "(SELECT * FROM unnest(CAST(%s AS TEXT[]), CAST(%s AS TEXT[])))")
"""The ids of deliveries stored before: parameters the sources, the body hashes."""


def _insert(conn: Connection, items: Sequence[NewDelivery], stamp: Any) -> Any:
    if conn.dialect.name == "postgresql":
        # One statement text whatever the batch size (parsed once, then prepared by the driver),
        # and one JSON document as its only large parameter: the payloads are spliced in as
        # they are, so the driver has nothing to escape (an array of texts cost about 400 us
        # of the web process's CPU per delivery, this about 15).
        return conn.exec_driver_sql(POSTGRES_INSERT, (stamp, stamp, records(items)))
    row = "(?, ?, ?, ?, 'pending', '', 0, ?, ?)"
    params: list[Any] = []
    for item in items:
        params += [item.source, item.kind, item.body_sha256, item.payload_json, stamp, stamp]
    return conn.exec_driver_sql(
        f"INSERT INTO deliveries ({', '.join(_COLUMNS)}) VALUES " + ", ".join([row] * len(items))
        + _TAIL,
        tuple(params))


def records(items: Sequence[NewDelivery]) -> str:
    """`items` as one JSON array of records. Each payload is already a JSON document (the
    constructors of `NewDelivery` make sure), so it is spliced in unparsed."""
    return "[" + ",".join(
        f'{{"s":{json.dumps(item.source)},"k":{json.dumps(item.kind)},'
        f'"h":{json.dumps(item.body_sha256)},"p":{item.payload_json}}}' for item in items) + "]"


def _timestamp(conn: Connection, now: datetime) -> Any:
    # The column type's own conversion, so rows read back exactly as the ORM's would.
    process = _TABLE.c.received_at.type.bind_processor(conn.dialect)
    return process(now) if process is not None else now


def store_deliveries(conn: Connection, items: Sequence[NewDelivery],
                     now: datetime) -> list[Stored]:
    """Store `items` in the caller's transaction, or in autocommit (the one INSERT is atomic by
    itself; the lookup that may follow reads rows committed before); one `Stored` per item, in
    order."""
    first = unique(items)
    ids = {(row[1], row[2]): row[0] for row in _insert(conn, first, _timestamp(conn, now))}
    missing = [(item.source, item.body_sha256) for item in first
               if (item.source, item.body_sha256) not in ids]
    found: dict[tuple[str, str], int] = {}
    if missing:  # received before: their ids, from the rows already there
        rows = conn.execute(select(_TABLE.c.id, _TABLE.c.source, _TABLE.c.body_sha256).where(
            tuple_(_TABLE.c.source, _TABLE.c.body_sha256).in_(missing)))
        found = {(row.source, row.body_sha256): row.id for row in rows}
    return answers(items, ids, found)


def unique(items: Sequence[NewDelivery]) -> list[NewDelivery]:
    """`items` without a second copy of the same body from the same source."""
    first: dict[tuple[str, str], NewDelivery] = {}
    for item in items:
        first.setdefault((item.source, item.body_sha256), item)
    return list(first.values())


def answers(items: Sequence[NewDelivery], created: dict[tuple[str, str], int],
            found: dict[tuple[str, str], int]) -> list[Stored]:
    """One `Stored` per item: `created` holds the ids this batch inserted, `found` those stored
    before, both by (source, body hash)."""
    fresh = set(created)
    result = []
    for item in items:
        key = (item.source, item.body_sha256)
        result.append(Stored(created.get(key) or found[key], key in fresh))
        fresh.discard(key)  # a second copy in the same batch is a duplicate
    return result


COUNT_PENDING = "SELECT count(*) FROM deliveries WHERE status = 'pending'"


def count_pending(conn: Connection) -> int:
    """How many deliveries wait to be processed."""
    return int(conn.execute(select(func.count()).select_from(_TABLE)
                            .where(_TABLE.c.status == "pending")).scalar_one())


async def store_deliveries_async(conn: psycopg.AsyncConnection[Any], items: Sequence[NewDelivery],
                                 now: datetime) -> list[Stored]:
    """`store_deliveries` on PostgreSQL through an asyncio connection in autocommit."""
    first = unique(items)
    cursor = await conn.execute(POSTGRES_INSERT, (now, now, records(first)))
    created = {(row[1], row[2]): row[0] for row in await cursor.fetchall()}
    missing = [item for item in first if (item.source, item.body_sha256) not in created]
    found: dict[tuple[str, str], int] = {}
    if missing:
        cursor = await conn.execute(POSTGRES_LOOKUP, ([item.source for item in missing],
                                                      [item.body_sha256 for item in missing]))
        found = {(row[1], row[2]): row[0] for row in await cursor.fetchall()}
    return answers(items, created, found)
