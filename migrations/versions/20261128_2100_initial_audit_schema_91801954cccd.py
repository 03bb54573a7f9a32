"""Initial audit schema: attempts projection, chained audit events, run claims, alert messages.

Revision ID: 91801954cccd
Revises:
Create Date: 2026-11-28 21:00:00
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "91801954cccd"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copies of the column types: a migration must not change when models.py does.
UTC_DATETIME = sa.DateTime(timezone=True)
ID = sa.String(length=64)
SLACK_ID = sa.String(length=64)
SLACK_TS = sa.String(length=32)
EXTERNAL_ID = sa.String(length=128)
ENUM = sa.String(length=32)
HASH = sa.String(length=64)


def upgrade() -> None:
    """Apply: create the four audit tables and their indexes."""
    op.create_table(
        "attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("request_id", sa.String(length=128), nullable=False),
        sa.Column("requested_at", UTC_DATETIME, nullable=False),
        sa.Column("user_id", SLACK_ID, nullable=False),
        sa.Column("source", ENUM, nullable=False),
        sa.Column("outcome", ENUM, nullable=False),
        sa.Column("completed_at", UTC_DATETIME, nullable=True),
        sa.Column("team_id", SLACK_ID, nullable=True),
        sa.Column("enterprise_id", SLACK_ID, nullable=True),
        sa.Column("user_name", sa.Text(), nullable=True),
        sa.Column("channel_id", SLACK_ID, nullable=True),
        sa.Column("thread_ts", SLACK_TS, nullable=True),
        sa.Column("pipeline_id", EXTERNAL_ID, nullable=True),
        sa.Column("pipeline_name", sa.Text(), nullable=True),
        sa.Column("run_id", EXTERNAL_ID, nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("rule", sa.Text(), nullable=True),
        sa.Column("http_status", sa.Integer(), nullable=True),
        sa.Column("api_status", sa.Text(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("verified_status", sa.Text(), nullable=True),
        sa.Column("pipeline_ref", sa.Text(), nullable=True),
        sa.Column("response_url", sa.Text(), nullable=True),
        sa.Column("view_id", SLACK_ID, nullable=True),
        sa.Column("message_channel", SLACK_ID, nullable=True),
        sa.Column("message_ts", SLACK_TS, nullable=True),
        sa.Column("nonce", sa.String(length=128), nullable=True),
        sa.Column("base_url", sa.Text(), nullable=True),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_until", UTC_DATETIME, nullable=True),
        sa.Column("channel_is_dm", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attempts")),
        sa.UniqueConstraint("nonce", name=op.f("uq_attempts_nonce")),
    )
    op.create_index(op.f("ix_attempts_requested_at"), "attempts", ["requested_at"])
    op.create_index(op.f("ix_attempts_run_id"), "attempts", ["run_id"])
    op.create_index("ix_attempts_outcome_requested_at", "attempts", ["outcome", "requested_at"])
    op.create_index("ix_attempts_outcome_lease_until", "attempts", ["outcome", "lease_until"])
    op.create_index(
        "ix_attempts_user_id_rule_requested_at", "attempts", ["user_id", "rule", "requested_at"]
    )
    op.create_index(
        "ix_attempts_pipeline_id_requested_at", "attempts", ["pipeline_id", "requested_at"]
    )

    op.create_table(
        "audit_events",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("attempt_id", ID, nullable=False),
        sa.Column("at", UTC_DATETIME, nullable=False),
        sa.Column("outcome", ENUM, nullable=False),
        sa.Column("data", sa.Text(), nullable=False),
        sa.Column("prev_hash", HASH, nullable=True),
        sa.Column("hash", HASH, nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_audit_events_attempt_id_attempts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_events")),
    )
    op.create_index(op.f("ix_audit_events_attempt_id"), "audit_events", ["attempt_id"])

    op.create_table(
        "run_claims",
        sa.Column("base_url", sa.String(length=512), nullable=False),
        sa.Column("pipeline_id", EXTERNAL_ID, nullable=False),
        sa.Column("run_id", EXTERNAL_ID, nullable=False),
        sa.Column("attempt_id", ID, nullable=False),
        sa.Column("claimed_at", UTC_DATETIME, nullable=False),
        sa.ForeignKeyConstraint(
            ["attempt_id"], ["attempts.id"], name=op.f("fk_run_claims_attempt_id_attempts")
        ),
        sa.PrimaryKeyConstraint("base_url", "pipeline_id", "run_id", name=op.f("pk_run_claims")),
    )
    op.create_index(op.f("ix_run_claims_attempt_id"), "run_claims", ["attempt_id"])

    op.create_table(
        "alert_messages",
        sa.Column("channel", SLACK_ID, nullable=False),
        sa.Column("pipeline", sa.String(length=255), nullable=False),
        sa.Column("run_id", EXTERNAL_ID, nullable=False),
        sa.Column("ts", SLACK_TS, nullable=False),
        sa.Column("updated_at", UTC_DATETIME, nullable=False),
        sa.PrimaryKeyConstraint("channel", "pipeline", "run_id", name=op.f("pk_alert_messages")),
    )


def downgrade() -> None:
    """Revert: drop the four audit tables (their indexes go with them), dependants first."""
    op.drop_table("alert_messages")
    op.drop_table("run_claims")
    op.drop_table("audit_events")
    op.drop_table("attempts")
