"""The review pages' login state lives in the database every web process shares: wrong tokens
count across processes, and logging out ends a session everywhere, a copied cookie included."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tests.pages_seed import Clock
from tests.support import make_app
from tests.test_pages import TOKEN, client_of, csrf_of, log_in
from worker.store.page_guards import (
    login_failures,
    record_login_failure,
    revoke_session,
    session_revoked,
)
from worker.store.tables import LoginFailureRow, RevokedSessionRow
from worker.web.pages.auth import SESSION_COOKIE, LoginThrottle


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    url = request.getfixturevalue("postgres_database")
    from tests.conftest import _reset_postgres
    _reset_postgres(url)
    return url


@pytest.fixture
def two_processes(tmp_path, database):
    """Two suture web apps on one database, as `suture web --workers 2` runs them."""
    clock = Clock()
    apps = [make_app(tmp_path / name, clock=clock,
                     settings={"database_url": database, "pages": {"token": TOKEN}})
            for name in ("one", "two")]
    yield apps, clock
    for app in apps:
        app.close()


def rows(app, table) -> int:
    with app.store.session() as session:
        return session.query(table).count()


def test_wrong_tokens_count_across_web_processes(two_processes):
    (one, two), clock = two_processes
    first, second = client_of(one), client_of(two)
    for n in range(10):  # five through each process, alternating
        assert log_in(first if n % 2 else second, token="guess").status_code == 401
    for client in (first, second):  # either process now refuses, even the right token
        refused = log_in(client)
        assert refused.status_code == 429 and "too many wrong tokens" in refused.text
    clock.advance(minutes=11)
    assert log_in(first).status_code == 303 and log_in(second).status_code == 303


def test_logging_out_ends_the_session_for_a_copied_cookie_in_every_process(two_processes):
    (one, two), _ = two_processes
    client = client_of(one)
    assert log_in(client).status_code == 303
    cookie = client.cookies[SESSION_COOKIE]
    copy = client_of(two)
    copy.cookies.set(SESSION_COOKIE, cookie)
    assert copy.get("/").status_code == 200  # the same session, served by the other process
    answer = client.post("/logout", data={"csrf": csrf_of(client.get("/").text)})
    assert answer.status_code == 303
    for other in (client_of(one), client_of(two)):
        other.cookies.set(SESSION_COOKIE, cookie)
        assert other.get("/").status_code == 303  # sent to log in again
        assert other.post("/runs/1/retry", data={"csrf": "x"}).status_code == 403
    assert log_in(client).status_code == 303  # a new login is a new session


def test_old_failures_and_expired_revocations_are_deleted_as_new_ones_come(two_processes):
    (one, _), clock = two_processes
    throttle = LoginThrottle(one.store, limit=3, window=timedelta(minutes=10))
    for address in ("203.0.113.1", "203.0.113.2", "203.0.113.3"):
        throttle.failed(address, clock())
    assert rows(one, LoginFailureRow) == 3 and not throttle.blocked("203.0.113.1", clock())
    clock.advance(minutes=11)
    throttle.failed("203.0.113.4", clock())
    assert rows(one, LoginFailureRow) == 1
    now = datetime(2026, 12, 1, tzinfo=UTC)
    revoke_session(one.store, "s-old", now + timedelta(hours=1), now)
    revoke_session(one.store, "s-old", now + timedelta(hours=1), now)  # twice is once
    assert session_revoked(one.store, "s-old") and rows(one, RevokedSessionRow) == 1
    revoke_session(one.store, "s-new", now + timedelta(hours=12), now + timedelta(hours=2))
    assert not session_revoked(one.store, "s-old") and session_revoked(one.store, "s-new")


def test_an_address_longer_than_the_column_is_counted_by_its_prefix(two_processes):
    (one, _), clock = two_processes
    address = "x" * 200
    record_login_failure(one.store, address, clock(), timedelta(minutes=10))
    assert login_failures(one.store, address, clock() - timedelta(minutes=1)) == 1
