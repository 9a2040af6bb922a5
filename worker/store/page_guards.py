"""What the review pages' login keeps in the database so every web process agrees: wrong tokens
by client address within a window, and sessions ended by logging out.

Rows only live as long as they matter: failures older than the window and revocations past the
cookie's expiry are deleted whenever a new one is written, so the tables stay as small as the
rate of failures and logouts.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select

from worker.store.sql import SqlStore
from worker.store.tables import LoginFailureRow, RevokedSessionRow
from worker.store.upsert import insert_ignoring_conflict

ADDRESS_LENGTH = 64


def login_failures(store: SqlStore, address: str, since: datetime) -> int:
    """How many wrong tokens `address` typed since `since`."""
    with store.session() as session:
        return session.scalar(
            select(func.count()).select_from(LoginFailureRow).where(
                LoginFailureRow.address == address[:ADDRESS_LENGTH],
                LoginFailureRow.at > since)) or 0


def record_login_failure(store: SqlStore, address: str, now: datetime,
                         window: timedelta) -> None:
    """Count one wrong token from `address`; forget every failure older than `window`."""
    with store.session() as session:
        session.execute(delete(LoginFailureRow).where(LoginFailureRow.at <= now - window))
        session.add(LoginFailureRow(address=address[:ADDRESS_LENGTH], at=now))


def revoke_session(store: SqlStore, session_id: str, until: datetime, now: datetime) -> None:
    """End session `session_id` (until `until`, when its cookie expires anyway)."""
    with store.session() as session:
        session.execute(delete(RevokedSessionRow).where(RevokedSessionRow.until <= now))
        insert_ignoring_conflict(session, RevokedSessionRow,
                                 {"session": session_id, "until": until})


def session_revoked(store: SqlStore, session_id: str) -> bool:
    """True when session `session_id` was ended by logging out."""
    with store.session() as session:
        return session.get(RevokedSessionRow, session_id) is not None
