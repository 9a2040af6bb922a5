"""Database engines and migrations: SQLite (embedded default) and PostgreSQL.

SQLite runs in WAL mode with a busy timeout so the web process and the worker threads can share a
file; PostgreSQL is the production store. Migrations are Alembic's, run programmatically so that
`suture run`, `suture db upgrade` and the tests all take the same path.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url


def make_engine(url: str, *, pre_ping: bool = True, autocommit: bool = False) -> Engine:
    """An engine for `url`; creates the SQLite file's folder when needed.

    `pre_ping=False` skips the `SELECT 1` before each checkout, for a caller that retries on a
    dead connection itself (the web intake). `autocommit=True` (not for SQLite) makes each
    statement its own transaction, without the BEGIN and COMMIT round trips, for a caller whose
    every write is one statement (the web intake again).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return _sqlite_engine(url)
    if parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    if autocommit:
        return create_engine(url, pool_pre_ping=pre_ping, isolation_level="AUTOCOMMIT")
    return create_engine(url, pool_pre_ping=pre_ping, future=True)


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # Let SQLAlchemy's BEGIN take the write lock at once, so concurrent writers queue on the
        # busy timeout instead of failing on a lock upgrade.
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(conn):  # type: ignore[no-untyped-def]
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def alembic_config(engine: Engine) -> Config:
    """An Alembic config pointing at the bundled migrations, bound to `engine`."""
    script_location = str(resources.files("worker.store").joinpath("migrations"))
    config = Config()
    config.set_main_option("script_location", script_location)
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(engine), revision)
