"""Approvals (SPEC §4.6): who approved and when, and what a waiting request needs.

`approved_by` (user ids, comma-separated) and `approved_at` are audited and exported; the
rest stay on the server: `approvals_needed` (fixed when the request is made), `expires_at`
(when the sweep expires an undecided request; indexed with the outcome) and `request_ts` (the
approval request's message). Attempts before this revision had none of these: all empty.

Revision ID: 5d1f0b6a2c84
Revises: 4c2a7e91b0d3
Create Date: 2026-12-06 12:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "5d1f0b6a2c84"
down_revision: str | Sequence[str] | None = "4c2a7e91b0d3"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types: a migration must not change when models.py does.
UTC_DATETIME = sa.DateTime(timezone=True)
SLACK_TS = sa.String(length=32)


def upgrade() -> None:
    """Apply: the approval columns and the expiry sweep's index."""
    with op.batch_alter_table("attempts") as batch:
        batch.add_column(sa.Column("approved_by", sa.Text(), nullable=True))
        batch.add_column(sa.Column("approved_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("approvals_needed", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("expires_at", UTC_DATETIME, nullable=True))
        batch.add_column(sa.Column("request_ts", SLACK_TS, nullable=True))
    op.create_index("ix_attempts_outcome_expires_at", "attempts", ["outcome", "expires_at"])


def downgrade() -> None:
    """Revert: drop the index and the columns."""
    op.drop_index("ix_attempts_outcome_expires_at", table_name="attempts")
    with op.batch_alter_table("attempts") as batch:
        batch.drop_column("request_ts")
        batch.drop_column("expires_at")
        batch.drop_column("approvals_needed")
        batch.drop_column("approved_at")
        batch.drop_column("approved_by")
