"""The store: SQLAlchemy models, Alembic migrations and `SqlStore` (SQLite or PostgreSQL)."""

from __future__ import annotations

from worker.store.sql import SqlStore, utc_now

__all__ = ["SqlStore", "utc_now"]
