"""a lease on each run while a worker runs one of its stages

Revision ID: 0003
Revises: 0002

A stage holds its run's lease and renews it while it works, so a second message for the same
run (a redelivery, a reconciler re-send) waits instead of running the stage twice at once, and
the reconciler leaves a run alone while its lease is live. `dispatched` names the state whose
next message has been sent, so duplicate messages do not multiply down the pipeline.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lease_owner", sa.String(length=64), nullable=False,
                                      server_default=""))
        batch_op.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("dispatched", sa.String(length=32), nullable=False,
                                      server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("runs", schema=None) as batch_op:
        batch_op.drop_column("dispatched")
        batch_op.drop_column("lease_until")
        batch_op.drop_column("lease_owner")
