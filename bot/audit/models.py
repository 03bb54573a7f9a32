"""The audit schema: tables, indexes and the constraint naming convention Alembic migrates.

Five tables (SPEC §6, §4.4):

- `audit_events`: the append-only, hash-chained log. `id` is the chain position, assigned by the
  appender under the chain lock as previous id + 1, so a missing row shows as a gap.
- `attempts`: the projection, one row per attempt holding every field of
  `bot.attempts.lifecycle.Attempt`; written in the same transaction as each event, so it always
  equals the fold of the events.
- `instances`: one row per running (or stopped) bot process and its heartbeat; an instance
  whose heartbeat lapsed has its pending attempts reconciled by another.
- `run_claims`: one row per (base URL, pipeline id, run id) naming the attempt that holds it; the
  unique key, not an in-process lock, stops a second instance terminating the same run.
- `alert_messages`: where an alert for (channel, pipeline, run) was posted, so a repeat updates it.

Tables are created only by the migrations in `migrations/versions/`; `Base.metadata` exists for
Alembic's autogenerate comparison, never for `create_all` in the app.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    false,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_N_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}
"""Deterministic constraint names, so migrations can drop and alter them on every backend."""


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC datetime on every backend.

    PostgreSQL keeps the offset (`timestamptz`); SQLite stores text without one. Values are
    converted to UTC before they are written, so SQLite's text compares in time order, and come
    back aware in UTC from both.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Refuse naive datetimes and convert aware ones to UTC.

        Raises:
            ValueError: for a naive datetime (its zone is unknowable).
        """
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("audit datetimes must be timezone-aware")
        value = value.astimezone(UTC)
        # SQLite's DATETIME processor ignores tzinfo; a naive UTC value makes that explicit.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(
        self,
        value: datetime | None,
        dialect: Dialect,  # noqa: ARG002 - the override's signature; every backend reads alike
    ) -> datetime | None:
        """Return the stored value as an aware UTC datetime."""
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    """Declarative base whose metadata carries the naming convention."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


# Lengths: bounded only where the value is ours or grammar-checked (ids, enums, hashes); free
# text from users or VectorShift is TEXT so an unusually long value never fails an audit write.
ID = String(64)
SLACK_ID = String(64)
SLACK_TS = String(32)
EXTERNAL_ID = String(128)
"""Run and pipeline ids: `[A-Za-z0-9_-]{1,128}` (SPEC §1)."""
ENUM = String(32)
HASH = String(64)


class AttemptRow(Base):
    """The `attempts` projection: one row per attempt, every field of `Attempt`."""

    __tablename__ = "attempts"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    request_id: Mapped[str] = mapped_column(String(128))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    user_id: Mapped[str] = mapped_column(SLACK_ID)
    source: Mapped[str] = mapped_column(ENUM)
    outcome: Mapped[str] = mapped_column(ENUM)
    action: Mapped[str] = mapped_column(ENUM, server_default="terminate")
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    team_id: Mapped[str | None] = mapped_column(SLACK_ID)
    enterprise_id: Mapped[str | None] = mapped_column(SLACK_ID)
    user_name: Mapped[str | None] = mapped_column(Text)
    channel_id: Mapped[str | None] = mapped_column(SLACK_ID)
    thread_ts: Mapped[str | None] = mapped_column(SLACK_TS)
    pipeline_id: Mapped[str | None] = mapped_column(EXTERNAL_ID)
    pipeline_name: Mapped[str | None] = mapped_column(Text)
    run_id: Mapped[str | None] = mapped_column(EXTERNAL_ID, index=True)
    reason: Mapped[str | None] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(Text)
    http_status: Mapped[int | None] = mapped_column(Integer)
    api_status: Mapped[str | None] = mapped_column(Text)
    error: Mapped[str | None] = mapped_column(Text)
    verified_status: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(Text)
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    approvals_needed: Mapped[int | None] = mapped_column(Integer)
    expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    request_ts: Mapped[str | None] = mapped_column(SLACK_TS)
    pipeline_ref: Mapped[str | None] = mapped_column(Text)
    response_url: Mapped[str | None] = mapped_column(Text)
    message_channel: Mapped[str | None] = mapped_column(SLACK_ID)
    message_ts: Mapped[str | None] = mapped_column(SLACK_TS)
    nonce: Mapped[str | None] = mapped_column(String(128), unique=True)
    base_url: Mapped[str | None] = mapped_column(Text)
    owner: Mapped[str | None] = mapped_column(ID)
    channel_is_dm: Mapped[bool] = mapped_column(Boolean, server_default=false())

    __table_args__ = (
        # expired_awaiting / orphaned_pending: outcome first, then the time bound or the owner.
        Index("ix_attempts_outcome_requested_at", "outcome", "requested_at"),
        Index("ix_attempts_outcome_owner", "outcome", "owner"),
        # budget_times: one user's attempts under one rule in a time window.
        Index("ix_attempts_user_id_rule_requested_at", "user_id", "rule", "requested_at"),
        # history: newest attempts of some pipelines.
        Index("ix_attempts_pipeline_id_requested_at", "pipeline_id", "requested_at"),
        # overdue_approvals: requests waiting past their expiry.
        Index("ix_attempts_outcome_expires_at", "outcome", "expires_at"),
    )


class AuditEventRow(Base):
    """One link of the chain in `audit_events`; inserted, never updated."""

    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=False
    )
    attempt_id: Mapped[str] = mapped_column(ID, ForeignKey("attempts.id"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    outcome: Mapped[str] = mapped_column(ENUM)
    data: Mapped[str] = mapped_column(Text)
    prev_hash: Mapped[str | None] = mapped_column(HASH)
    hash: Mapped[str] = mapped_column(HASH)


class RunClaimRow(Base):
    """Who holds a run (SPEC §4.4): at most one row per (base URL, pipeline id, run id)."""

    __tablename__ = "run_claims"

    base_url: Mapped[str] = mapped_column(String(512), primary_key=True)
    pipeline_id: Mapped[str] = mapped_column(EXTERNAL_ID, primary_key=True)
    run_id: Mapped[str] = mapped_column(EXTERNAL_ID, primary_key=True)
    attempt_id: Mapped[str] = mapped_column(ID, ForeignKey("attempts.id"), index=True)
    claimed_at: Mapped[datetime] = mapped_column(UTCDateTime)


class AlertMessageRow(Base):
    """The message an alert for (channel, pipeline, run) was posted as (SPEC §4.4)."""

    __tablename__ = "alert_messages"

    channel: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    pipeline: Mapped[str] = mapped_column(String(255), primary_key=True)
    run_id: Mapped[str] = mapped_column(EXTERNAL_ID, primary_key=True)
    ts: Mapped[str] = mapped_column(SLACK_TS)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime)


class InstanceRow(Base):
    """A bot process and its heartbeat (SPEC §6): renewed every few seconds while it lives."""

    __tablename__ = "instances"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    started_at: Mapped[datetime] = mapped_column(UTCDateTime)
    heartbeat_at: Mapped[datetime] = mapped_column(UTCDateTime)
    stopped_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
