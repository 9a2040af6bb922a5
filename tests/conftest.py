"""Shared fixtures: the store on SQLite and on the real PostgreSQL server, and recorded payloads.

PostgreSQL is reached at 127.0.0.1:5432 (override with SUTURE_TEST_POSTGRES_URL); each test
session gets its own throwaway database, dropped at the end.
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from worker.store import SqlStore

ADMIN_URL = os.environ.get("SUTURE_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under pytest-xdist, hand out the tests that start processes (marked `slow`, a minute or
    two each, mostly waiting) first: the quick ones then fill the gaps on both workers, instead
    of a chaos test starting last and running on alone. The order is the same in every worker,
    as xdist requires; a run without xdist keeps the files' order."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        items.sort(key=lambda item: item.get_closest_marker("slow") is None)


@pytest.fixture(scope="session", autouse=True)
def shared_environment_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One repository-environment cache for the session (processes the tests start inherit
    it): the sample shop's environment is built once, not once per test.

    Under pytest-xdist every worker is a session of its own; they share one cache in the run's
    common temporary folder (the cache locks each environment while it is built, as it does
    for suture's own workers), so each environment is still built once per run."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.getbasetemp().parent / "envs"
        folder.mkdir(exist_ok=True)
    else:
        folder = tmp_path_factory.mktemp("envs")
    previous = os.environ.get("SUTURE_ENV__CACHE_DIR")
    os.environ["SUTURE_ENV__CACHE_DIR"] = str(folder)
    yield folder
    if previous is None:
        os.environ.pop("SUTURE_ENV__CACHE_DIR", None)
    else:
        os.environ["SUTURE_ENV__CACHE_DIR"] = previous


@pytest.fixture(autouse=True)
def logging_as_it_was() -> Iterator[None]:
    """Put the root logger back after each test: a command a test runs configures logging
    (`configure_logging` writes to whatever stderr is at the time), and a handler left behind
    would write into the output a later test's command runner captures."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for handler in list(root.handlers):
        if handler not in handlers:
            root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session; its SQLAlchemy URL."""
    name = f"suture_test_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base = ADMIN_URL.rsplit("/", 1)[0]
    yield f"{base}/{name}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _reset_postgres(url: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("DROP SCHEMA public CASCADE")
        conn.execute("CREATE SCHEMA public")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path) -> Iterator[SqlStore]:
    """A migrated, empty store, once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'suture.db'}"
    else:
        url = request.getfixturevalue("postgres_database")
        _reset_postgres(url)
    sql_store = SqlStore(url)
    sql_store.migrate()
    yield sql_store
    sql_store.close()
