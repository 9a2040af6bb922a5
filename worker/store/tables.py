"""SQLAlchemy 2 table definitions: the database is suture's source of truth.

`deliveries` is the inbox of everything received (webhooks, files) before it is processed, so an
accepted payload is never lost; `clusters` group events that are the same bug; `events` keep a
bounded sample per cluster; `runs` are suture's attempts to act on a cluster's episode (a new
cluster is episode 1, each regression a new episode) with every state change in `transitions`;
`cursors` remember where each poller stopped; `publications` hold the idempotency key of every side
effect outside (ticket, PR) before it is made, with a lease so only one worker makes it at a
time; `slots` make scheduled ticks fire once; `releases` remember when each release of a project
was first seen, so correlation knows which release came before an event's.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    """Declarative base; `type_annotation_map` keeps datetimes timezone-aware everywhere."""

    type_annotation_map = {datetime: DateTime(timezone=True), dict[str, Any]: JSON}


class DeliveryRow(Base):
    """A payload accepted from outside, kept until processed."""

    __tablename__ = "deliveries"
    __table_args__ = (UniqueConstraint("source", "body_sha256", name="uq_delivery_body"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(32))
    kind: Mapped[str] = mapped_column(String(64))
    body_sha256: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    received_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class ClusterRow(Base):
    """Events that are the same bug, across sources."""

    __tablename__ = "clusters"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(Text)
    exception_type: Mapped[str] = mapped_column(String(255), default="")
    culprit: Mapped[str] = mapped_column(Text, default="")
    project: Mapped[str] = mapped_column(String(255), default="")
    platform: Mapped[str] = mapped_column(String(64), default="")
    status: Mapped[str] = mapped_column(String(16), default="open")
    episode: Mapped[int] = mapped_column(Integer, default=1)
    event_count: Mapped[int] = mapped_column(Integer, default=0)
    regressions: Mapped[int] = mapped_column(Integer, default=0)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    links: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    upstream: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class ClusterUserRow(Base):
    """Distinct affected users of a cluster (a hash, never the raw identity)."""

    __tablename__ = "cluster_users"

    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"), primary_key=True)
    user_hash: Mapped[str] = mapped_column(String(64), primary_key=True)


class EventRow(Base):
    """One normalised event; only the newest few per cluster are kept."""

    __tablename__ = "events"
    __table_args__ = (
        UniqueConstraint("source", "event_id", name="uq_event_source_id"),
        Index("ix_events_cluster_time", "cluster_id", "timestamp"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"))
    source: Mapped[str] = mapped_column(String(32))
    event_id: Mapped[str] = mapped_column(String(128))
    timestamp: Mapped[datetime]
    payload: Mapped[dict[str, Any]]


class SeenEventRow(Base):
    """Every (source, event id) ever ingested, so a trimmed event is not counted twice."""

    __tablename__ = "seen_events"

    source: Mapped[str] = mapped_column(String(32), primary_key=True)
    event_id: Mapped[str] = mapped_column(String(128), primary_key=True)


class RunRow(Base):
    """suture's work on one episode of a cluster, driven by a state machine."""

    __tablename__ = "runs"
    __table_args__ = (UniqueConstraint("cluster_id", "episode", name="uq_run_episode"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cluster_id: Mapped[int] = mapped_column(ForeignKey("clusters.id"))
    episode: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32), index=True)
    reason: Mapped[str] = mapped_column(Text, default="")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    ticket_url: Mapped[str] = mapped_column(Text, default="")
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    # Held by the worker running one of the run's stages, renewed while it works.
    lease_owner: Mapped[str] = mapped_column(String(64), default="", server_default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # The state whose next message has been sent: a duplicate message finding the run past its
    # stage sends that message only when nobody has.
    dispatched: Mapped[str] = mapped_column(String(32), default="", server_default="")


class TransitionRow(Base):
    """One state change of a run, with its reason."""

    __tablename__ = "transitions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    from_state: Mapped[str] = mapped_column(String(32))
    to_state: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime]


class CursorRow(Base):
    """Where a poller stopped."""

    __tablename__ = "cursors"

    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime]


class PublicationRow(Base):
    """A side effect outside, recorded as an intent before it is made and completed after."""

    __tablename__ = "publications"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255), unique=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("runs.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="intent")
    external_ref: Mapped[str] = mapped_column(String(255), default="")
    url: Mapped[str] = mapped_column(Text, default="")
    lease_owner: Mapped[str] = mapped_column(String(64), default="")
    lease_until: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class SlotRow(Base):
    """A scheduled tick claimed once, whichever scheduler fired it."""

    __tablename__ = "slots"

    job: Mapped[str] = mapped_column(String(64), primary_key=True)
    slot: Mapped[str] = mapped_column(String(64), primary_key=True)
    claimed_at: Mapped[datetime]


class ReleaseRow(Base):
    """A release of a project and the earliest event time it was seen at, from any source."""

    __tablename__ = "releases"
    __table_args__ = (Index("ix_releases_project_first_seen", "project", "first_seen"),)

    project: Mapped[str] = mapped_column(String(255), primary_key=True)
    release: Mapped[str] = mapped_column(String(255), primary_key=True)
    first_seen: Mapped[datetime]


class LoginFailureRow(Base):
    """A wrong token typed into the review pages' login, by client address: every web process
    counts the same failures, so running several does not multiply an address's guesses."""

    __tablename__ = "login_failures"
    __table_args__ = (Index("ix_login_failures_address_at", "address", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    address: Mapped[str] = mapped_column(String(64))
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class RevokedSessionRow(Base):
    """A review pages' session ended by logging out, until its cookie would have expired."""

    __tablename__ = "revoked_sessions"

    session: Mapped[str] = mapped_column(String(64), primary_key=True)
    until: Mapped[datetime] = mapped_column(DateTime(timezone=True))
