"""releases first seen per project

Revision ID: 0002
Revises: 0001

Filled from the events already kept, so correlation knows the release order at once. Only a
sample of each cluster's newest events is kept, so a backfilled first_seen may be later than the
truth; older events arriving later still move it back.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    releases = op.create_table(
        "releases",
        sa.Column("project", sa.String(length=255), nullable=False),
        sa.Column("release", sa.String(length=255), nullable=False),
        sa.Column("first_seen", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("project", "release"),
    )
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.create_index("ix_releases_project_first_seen", ["project", "first_seen"],
                              unique=False)
    _backfill(releases)


def _backfill(releases: sa.Table) -> None:
    clusters = sa.table("clusters", sa.column("id", sa.Integer()),
                        sa.column("project", sa.String()))
    events = sa.table("events", sa.column("cluster_id", sa.Integer()),
                      sa.column("timestamp", sa.DateTime(timezone=True)),
                      sa.column("payload", sa.JSON()))
    query = sa.select(clusters.c.project, events.c.timestamp, events.c.payload).join(
        clusters, clusters.c.id == events.c.cluster_id)
    first: dict[tuple[str, str], datetime] = {}
    for project, timestamp, payload in op.get_bind().execute(query):
        release = payload.get("release") if isinstance(payload, dict) else None
        if not project or not isinstance(release, str) or not release or len(release) > 255:
            continue
        seen = timestamp.replace(tzinfo=UTC) if timestamp.tzinfo is None else timestamp
        first[project, release] = min(first.get((project, release), seen), seen)
    if first:
        op.bulk_insert(releases, [{"project": project, "release": release, "first_seen": seen}
                                  for (project, release), seen in sorted(first.items())])


def downgrade() -> None:
    with op.batch_alter_table("releases", schema=None) as batch_op:
        batch_op.drop_index("ix_releases_project_first_seen")

    op.drop_table("releases")
