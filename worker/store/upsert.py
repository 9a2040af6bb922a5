"""The one idempotency primitive: insert a row unless it would violate a unique constraint."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert_ignoring_conflict(session: Session, table: type[Any], values: dict[str, Any]) -> bool:
    """Insert `values` into `table`; False when a row with the same unique key already exists."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    key = table.__table__.primary_key.columns.values()[0]
    # RETURNING rather than rowcount: some drivers report -1 for rows skipped on conflict.
    statement = module.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return session.execute(statement).first() is not None
