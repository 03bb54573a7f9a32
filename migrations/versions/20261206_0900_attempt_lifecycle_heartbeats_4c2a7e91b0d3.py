"""Attempt lifecycle and instance heartbeats: `attempts.action` and `owner`, `instances`.

Every attempt now names its action (`terminate` for every attempt before this revision). The
fixed ownership lease (`lease_owner`, `lease_until`) gives way to instance heartbeats: `owner`
names the instance running a pending attempt and `instances` holds each instance's latest
heartbeat, so a dead instance's work is reconciled seconds after its death instead of minutes.
`view_id` was never written and goes.

Revision ID: 4c2a7e91b0d3
Revises: 91801954cccd
Create Date: 2026-12-06 09:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "4c2a7e91b0d3"
down_revision: str | Sequence[str] | None = "91801954cccd"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types: a migration must not change when models.py does.
UTC_DATETIME = sa.DateTime(timezone=True)
ID = sa.String(length=64)
SLACK_ID = sa.String(length=64)
ENUM = sa.String(length=32)


def upgrade() -> None:
    """Apply: name each attempt's action, swap the lease for an owner, add `instances`."""
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("action", ENUM, server_default="terminate", nullable=False))
        batch.drop_index("ix_attempts_outcome_lease_until")
        batch.alter_column(
            "lease_owner", new_column_name="owner", existing_type=sa.Text(), type_=ID
        )
        batch.drop_column("lease_until")
        batch.drop_column("view_id")
    # After the batch: on SQLite it recreates the table, and an index on a column it is renaming
    # in the same batch cannot be reflected yet.
    op.create_index("ix_attempts_outcome_owner", "attempts", ["outcome", "owner"])
    op.create_table(
        "instances",
        sa.Column("id", ID, nullable=False),
        sa.Column("started_at", UTC_DATETIME, nullable=False),
        sa.Column("heartbeat_at", UTC_DATETIME, nullable=False),
        sa.Column("stopped_at", UTC_DATETIME, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_instances")),
    )


def downgrade() -> None:
    """Revert: drop `instances`, bring back the lease columns and `view_id`, drop `action`."""
    op.drop_table("instances")
    op.drop_index("ix_attempts_outcome_owner", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("view_id", SLACK_ID, nullable=True))
        batch.add_column(sa.Column("lease_until", UTC_DATETIME, nullable=True))
        batch.alter_column(
            "owner", new_column_name="lease_owner", existing_type=ID, type_=sa.Text()
        )
        batch.drop_column("action")
    op.create_index("ix_attempts_outcome_lease_until", "attempts", ["outcome", "lease_until"])
