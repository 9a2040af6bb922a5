"""the review pages' login failures and revoked sessions, shared by every web process

Revision ID: 0004
Revises: 0003

Wrong login tokens are counted per client address in the database rather than in each process's
memory, and logging out revokes the session's id until the cookie would have expired, so a
copied cookie stops working at once.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "login_failures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("address", sa.String(length=64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_login_failures_address_at", "login_failures", ["address", "at"])
    op.create_table(
        "revoked_sessions",
        sa.Column("session", sa.String(length=64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("session"),
    )


def downgrade() -> None:
    op.drop_table("revoked_sessions")
    op.drop_index("ix_login_failures_address_at", table_name="login_failures")
    op.drop_table("login_failures")
