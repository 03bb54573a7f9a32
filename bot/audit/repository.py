"""Every read and write of the audit store: events, attempt state, run claims, alert messages.

Writes append an event to the chain and update the `attempts` projection in the same
transaction, so the projection always equals the fold of the events (`verify` checks that too).
Appends are serialised: on PostgreSQL by `pg_advisory_xact_lock(CHAIN_LOCK_KEY)` taken inside the
transaction before the chain head is read, so any number of instances share one chain; on SQLite
by the single writer thread and `BEGIN IMMEDIATE`. Event ids are the chain positions (previous +
1, assigned under that lock), so a deleted event leaves a visible gap.

Attempts change only through `bot.attempts.lifecycle`: `start` appends a `Started` event, and
`record` locks the attempt's row, asks `lifecycle.apply` whether the change is legal from the
current state (the `TRANSITIONS` table; callers state no expectations of their own) and writes
the new state with an event naming its kind (`{"event": "finished", ...}`).

Run claims (SPEC §4.4) are enforced by the `run_claims` primary key: exactly one concurrent
claimer inserts the row or swaps out a finished holder with a compare-and-set UPDATE.
Instances renew a heartbeat row; `orphaned_pending` finds the pending attempts of instances
whose heartbeat lapsed, for reconciliation (SPEC §6).

Errors: any `SQLAlchemyError` in a write becomes `bot.errors.AuditWriteError` (nothing is
half-written: the transaction rolls back), in a read `bot.audit.AuditReadError`. Messages name the
operation and the error class, never the URL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import Enum
from itertools import groupby
from typing import Any, Final, TypeVar, cast

from sqlalchemy import (
    ColumnElement,
    CursorResult,
    RowMapping,
    Select,
    Table,
    and_,
    bindparam,
    func,
    or_,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from bot.attempts.lifecycle import (
    ATTEMPT_FIELDS,
    AUDIT_FIELDS,
    FOLD_DEFAULTS,
    Applied,
    Attempt,
    Change,
    Outcome,
    Requested,
    Source,
    Started,
    Submitted,
    apply,
    holds_run,
)
from bot.audit import AuditReadError
from bot.audit.chain import canonical_json, event_hash, hashes_equal, iso_utc
from bot.audit.db import Database
from bot.audit.models import AlertMessageRow, AttemptRow, AuditEventRow, InstanceRow, RunClaimRow
from bot.domain import Action, AlertKey
from bot.errors import AuditWriteError

T = TypeVar("T")

CHAIN_LOCK_KEY: Final = 0x76735F6175646974
"""`pg_advisory_xact_lock` key serialising chain appends across instances ("vs_audit")."""

_DATETIME_FIELDS: Final = frozenset({"requested_at", "completed_at", "approved_at", "expires_at"})
_REACHED_API: Final = (Outcome.PENDING, Outcome.SUCCEEDED, Outcome.FAILED, Outcome.UNCONFIRMED)
_CLAIM_ROUNDS: Final = 8
"""Compare-and-set rounds before giving up; each lost round means another claimer won."""
_STREAM_ROWS: Final = 1_000

_attempts = cast(Table, AttemptRow.__table__)
_events = cast(Table, AuditEventRow.__table__)
_claims = cast(Table, RunClaimRow.__table__)
_alerts = cast(Table, AlertMessageRow.__table__)
_instances = cast(Table, InstanceRow.__table__)

# Built once: executing a prebuilt statement with a parameter dict skips per-call statement
# construction and cache-key work, about half of an append's CPU time (measured, see db.py).
_INSERT_ATTEMPT = _attempts.insert()
_UPDATE_ATTEMPT = update(_attempts).where(_attempts.c.id == bindparam("attempt_id_"))
_INSERT_EVENT = _events.insert()
_LAST_EVENT = select(_events.c.id, _events.c.hash).order_by(_events.c.id.desc()).limit(1)
_CHAIN_LOCK = select(func.pg_advisory_xact_lock(CHAIN_LOCK_KEY))
# Built once with bound parameters: building the WHERE clause per call was ~14 % of the writer
# thread's samples for a confirmation's one write (py-spy on 6,000 `start_unless_held`).
_CLAIM_HOLDER = select(_claims.c.attempt_id).where(
    _claims.c.base_url == bindparam("base_url"),
    _claims.c.pipeline_id == bindparam("pipeline_id"),
    _claims.c.run_id == bindparam("run_id"),
)
_ATTEMPT_BY_ID = select(_attempts).where(_attempts.c.id == bindparam("attempt_id"))
_ATTEMPT_FOR_UPDATE = _ATTEMPT_BY_ID.with_for_update(key_share=True)
"""The attempt's row, locked against other changes (PostgreSQL; SQLite has one writer)."""


@dataclass(frozen=True)
class VerifyResult:
    """What `audit verify` found.

    Attributes:
        ok: the chain and the projection are intact.
        count: events verified good (all of them when `ok`).
        bad_event_id: the first event that fails, or None (intact, or a projection problem).
        problem: what is wrong, in words, or None.
        head: the hash of the last good event (the chain head when `ok`), None if there is none.
    """

    ok: bool
    count: int
    bad_event_id: int | None
    problem: str | None
    head: str | None


class AuditRepository:
    """The audit store's operations, each one transaction on the database's worker thread.

    Args:
        db: the open database.
        hmac_key: `VS_AUDIT_HMAC_KEY`, or None (or empty) for a plain SHA-256 chain.
        clock: returns the current aware datetime; stamps events, completions and claims.
    """

    def __init__(
        self, db: Database, *, hmac_key: bytes | None, clock: Callable[[], datetime]
    ) -> None:
        self._db = db
        self._key = hmac_key or None
        self._clock = clock
        self._pg = db.dialect == "postgresql"

    # -- writes ------------------------------------------------------------------------------

    async def start(self, attempt: Attempt) -> Attempt:
        """Record a new attempt: its projection row and its `started` event (all audit fields).

        Args:
            attempt: the attempt as it starts (awaiting confirmation, or denied); its datetimes
                must be timezone-aware.

        Returns:
            The attempt as stored (datetimes in UTC).

        Raises:
            AuditWriteError: if it could not be written (e.g. its id or nonce already exists).
            ValueError: for a naive datetime.
        """
        attempt = _in_utc(attempt)
        return await self._write("new attempt", lambda conn: self._start_in(conn, attempt))

    async def start_unless_held(
        self, attempt: Attempt, *, duplicate: Callable[[Attempt], Attempt]
    ) -> tuple[Attempt, Attempt | None]:
        """Record a new attempt, as a duplicate when another attempt holds its run.

        The run's claim is read in the same transaction as the attempt is written, so a
        confirmation costs one write and no separate read (SPEC §4.4's early duplicate check;
        the claim itself is taken at submission).

        Args:
            attempt: the attempt as it would start (awaiting confirmation), with its
                `base_url`, `pipeline_id` and `run_id`.
            duplicate: makes the attempt to record instead when `holder` holds the run.

        Returns:
            The attempt as stored and the holder (None when the run is free).

        Raises:
            AuditWriteError: if it could not be written.
        """
        attempt = _in_utc(attempt)

        def work(conn: Connection) -> tuple[Attempt, Attempt | None]:
            holder_id = _holder_id(
                conn, attempt.base_url or "", attempt.pipeline_id or "", attempt.run_id or ""
            )
            holder = _get(conn, holder_id) if holder_id is not None else None
            if holder is not None and holds_run(holder, attempt.action):
                return self._start_in(conn, _in_utc(duplicate(holder))), holder
            return self._start_in(conn, attempt), None

        return await self._write("new attempt", work)

    def _start_in(self, conn: Connection, attempt: Attempt) -> Attempt:
        applied = apply(None, Started(attempt), now=self._now())
        if applied is None:  # pragma: no cover - Started always starts from nothing
            raise AuditWriteError("a new attempt could not be started")
        conn.execute(_INSERT_ATTEMPT, _column_values(applied.attempt, ATTEMPT_FIELDS))
        self._append_applied(conn, applied)
        return applied.attempt

    async def record(self, attempt_id: str, change: Change) -> Attempt | None:
        """Apply one change to an attempt and append its event, in one transaction.

        The row is locked first (`FOR NO KEY UPDATE` on PostgreSQL; SQLite's single writer), so
        changes to one attempt apply one after the other and the legality check of
        `bot.attempts.lifecycle.apply` cannot be raced.

        Args:
            attempt_id: the attempt to change.
            change: the typed change; `TRANSITIONS` says which states it may start from.

        Returns:
            The attempt after the change, or None (nothing written) when the attempt does not
            exist or the change is not legal from its current state (a replay, a late close).

        Raises:
            AuditWriteError: if it could not be written.
        """
        return await self._write(
            f"{change.kind} event", lambda conn: self._record_in(conn, attempt_id, change)
        )

    def _record_in(self, conn: Connection, attempt_id: str, change: Change) -> Attempt | None:
        """`record`'s work inside a transaction the caller owns."""
        query = _ATTEMPT_FOR_UPDATE if self._pg else _ATTEMPT_BY_ID
        row = conn.execute(query, {"attempt_id": attempt_id}).mappings().one_or_none()
        if row is None:
            return None
        current = _attempt_from(row)
        applied = apply(current, change, now=self._now())
        if applied is None:
            return None
        updated = _in_utc(applied.attempt)
        changed = [n for n in ATTEMPT_FIELDS if getattr(updated, n) != getattr(current, n)]
        if changed:
            conn.execute(
                _UPDATE_ATTEMPT, {"attempt_id_": attempt_id, **_column_values(updated, changed)}
            )
        self._append_applied(conn, replace(applied, attempt=updated))
        return updated

    async def submit(
        self, attempt_id: str, change: Submitted | Requested, *, base_url: str
    ) -> tuple[Attempt, Attempt | None] | None:
        """Record a submission (`pending`) and claim its run, in one transaction.

        A request that needs approval (`Requested`, `awaiting_approval`) claims the run the
        same way: while it waits, nobody else acts on the run (SPEC §4.6).

        Args:
            attempt_id: the attempt, which must be awaiting confirmation with the change's nonce.
            change: the submission (nonce, owner, reason) or the approval request.
            base_url: the VectorShift base URL, part of the claim key.

        Returns:
            None (nothing written) when the submission is not legal (a replay, a stale modal);
            otherwise the pending attempt and the attempt that holds the run instead of it
            (None when the claim is this attempt's).

        Raises:
            AuditWriteError: if it could not be written.
        """

        def work(conn: Connection) -> tuple[Attempt, Attempt | None] | None:
            pending = self._record_in(conn, attempt_id, change)
            if pending is None or pending.pipeline_id is None or pending.run_id is None:
                return None
            holder = self._claim_in(conn, base_url, pending.pipeline_id, pending.run_id, attempt_id)
            return pending, holder

        return await self._write("submission", work)

    async def claim_run(
        self, *, base_url: str, pipeline_id: str, run_id: str, attempt_id: str
    ) -> Attempt | None:
        """Claim a run for an attempt, so no other attempt on any instance acts on it.

        Args:
            base_url: the VectorShift base URL the run lives under.
            pipeline_id: the resolved pipeline id.
            run_id: the run id.
            attempt_id: the claiming attempt (must exist).

        Returns:
            None when the claim is now this attempt's (new, already its own, or taken over from a
            holder in any outcome but pending/succeeded); otherwise the holding attempt.

        Raises:
            AuditWriteError: if it could not be written.
        """
        return await self._write(
            "run claim",
            lambda conn: self._claim_in(conn, base_url, pipeline_id, run_id, attempt_id),
        )

    async def heartbeat(self, instance_id: str) -> None:
        """Say an instance is alive now (its pending attempts are not to be reconciled).

        Raises:
            AuditWriteError: if it could not be written.
        """

        def work(conn: Connection) -> None:
            now = self._now()
            dialect_insert = postgresql.insert if self._pg else sqlite.insert
            statement = dialect_insert(_instances).values(
                id=instance_id, started_at=now, heartbeat_at=now
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["id"],
                    set_={"heartbeat_at": statement.excluded.heartbeat_at, "stopped_at": None},
                )
            )

        await self._write("heartbeat", work)

    async def retire(self, instance_id: str) -> None:
        """Say an instance has stopped: whatever it left pending may be reconciled at once.

        Raises:
            AuditWriteError: if it could not be written.
        """

        def work(conn: Connection) -> None:
            conn.execute(
                update(_instances)
                .where(_instances.c.id == instance_id)
                .values(stopped_at=self._now())
            )

        await self._write("instance stop", work)

    def _claim_in(
        self, conn: Connection, base_url: str, pipeline_id: str, run_id: str, attempt_id: str
    ) -> Attempt | None:
        """`claim_run`'s work inside a transaction the caller owns."""
        key = _claim_key(base_url, pipeline_id, run_id)
        now = self._now()
        dialect_insert = postgresql.insert if self._pg else sqlite.insert
        claim = (
            dialect_insert(_claims)
            .values(
                base_url=base_url,
                pipeline_id=pipeline_id,
                run_id=run_id,
                attempt_id=attempt_id,
                claimed_at=now,
            )
            .on_conflict_do_nothing(index_elements=["base_url", "pipeline_id", "run_id"])
        )
        for _ in range(_CLAIM_ROUNDS):
            if _rowcount(conn.execute(claim)) == 1:
                return None
            holder_id = _holder_id(conn, base_url, pipeline_id, run_id)
            if holder_id is None:
                continue  # claims are never deleted; only a hand edit gets here
            if holder_id == attempt_id:
                return None
            holder = _get(conn, holder_id)
            claimer = _get(conn, attempt_id)
            action = claimer.action if claimer is not None else Action.TERMINATE
            if holder is not None and holds_run(holder, action):
                return holder
            # Compare-and-set: only the claimer that still sees the old holder replaces it;
            # on PostgreSQL a concurrent one waits on the row lock, then matches nothing.
            swapped = conn.execute(
                update(_claims)
                .where(key, _claims.c.attempt_id == holder_id)
                .values(attempt_id=attempt_id, claimed_at=now)
            )
            if _rowcount(swapped) == 1:
                return None
        raise AuditWriteError("the run claim stayed contended; try again")

    async def save_alert(self, key: AlertKey, ts: str) -> None:
        """Remember (or replace) the message an alert was posted as.

        Args:
            key: the channel, the pipeline as the alerting tool wrote it, and the run.
            ts: the message timestamp.

        Raises:
            AuditWriteError: if it could not be written.
        """

        def work(conn: Connection) -> None:
            now = self._now()
            dialect_insert = postgresql.insert if self._pg else sqlite.insert
            statement = dialect_insert(_alerts).values(
                channel=key.channel, pipeline=key.pipeline, run_id=key.run_id, ts=ts, updated_at=now
            )
            conn.execute(
                statement.on_conflict_do_update(
                    index_elements=["channel", "pipeline", "run_id"],
                    set_={"ts": statement.excluded.ts, "updated_at": statement.excluded.updated_at},
                )
            )

        await self._write("alert message", work)

    # -- reads -------------------------------------------------------------------------------

    async def get(self, attempt_id: str) -> Attempt | None:
        """The attempt's current state, or None if there is no such attempt.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        return await self._read("attempt", lambda conn: _get(conn, attempt_id))

    async def blocking_attempt(
        self, *, base_url: str, pipeline_id: str, run_id: str, action: Action = Action.TERMINATE
    ) -> Attempt | None:
        """The attempt holding this run against `action` (`lifecycle.holds_run`), else None.

        Raises:
            AuditReadError: if the store cannot be read.
        """

        def work(conn: Connection) -> Attempt | None:
            holder_id = _holder_id(conn, base_url, pipeline_id, run_id)
            holder = _get(conn, holder_id) if holder_id is not None else None
            return holder if holder is not None and holds_run(holder, action) else None

        return await self._read("run claim", work)

    async def budget_times(self, *, user_id: str, rule: str, since: datetime) -> list[datetime]:
        """When this user's attempts under this rule that reached the API were requested.

        Args:
            user_id: the Slack user id.
            rule: the policy rule's name.
            since: the window's start (inclusive, aware).

        Returns:
            `requested_at` of attempts in pending/succeeded/failed/unconfirmed, oldest first.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        query = (
            select(_attempts.c.requested_at)
            .where(
                _attempts.c.user_id == user_id,
                _attempts.c.rule == rule,
                _attempts.c.requested_at >= since,
                _attempts.c.outcome.in_([o.value for o in _REACHED_API]),
            )
            .order_by(_attempts.c.requested_at)
        )
        return await self._read("budget", lambda conn: list(conn.execute(query).scalars()))

    async def history(
        self, *, pipeline_ids: Collection[str] | None, run_id: str | None = None, limit: int = 10
    ) -> list[Attempt]:
        """The newest attempts on some pipelines (and optionally one run), newest first.

        Args:
            pipeline_ids: pipelines to include; None means any (attempts without a pipeline too).
            run_id: only this run, if given.
            limit: at most this many.

        Returns:
            Attempts ordered by `requested_at`, newest first.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        if pipeline_ids is not None and not pipeline_ids:
            return []
        query = select(_attempts)
        if pipeline_ids is not None:
            query = query.where(_attempts.c.pipeline_id.in_(list(pipeline_ids)))
        if run_id is not None:
            query = query.where(_attempts.c.run_id == run_id)
        query = query.order_by(_attempts.c.requested_at.desc(), _attempts.c.id.desc()).limit(limit)
        return await self._read("history", lambda conn: _attempts_of(conn, query))

    async def expired_awaiting(self, *, older_than: datetime) -> list[Attempt]:
        """Attempts still awaiting confirmation that were requested before `older_than`.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        query = (
            select(_attempts)
            .where(
                _attempts.c.outcome == Outcome.AWAITING_CONFIRMATION.value,
                _attempts.c.requested_at < older_than,
            )
            .order_by(_attempts.c.requested_at, _attempts.c.id)
        )
        return await self._read("expired attempts", lambda conn: _attempts_of(conn, query))

    async def awaiting_approval(self, *, limit: int = 200) -> list[Attempt]:
        """Requests waiting for approval, oldest first.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        query = (
            select(_attempts)
            .where(_attempts.c.outcome == Outcome.AWAITING_APPROVAL.value)
            .order_by(_attempts.c.requested_at, _attempts.c.id)
            .limit(limit)
        )
        return await self._read("approval requests", lambda conn: _attempts_of(conn, query))

    async def overdue_approvals(self, *, now: datetime) -> list[Attempt]:
        """Requests waiting for approval whose `expires_at` is not after `now`.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        query = (
            select(_attempts)
            .where(
                _attempts.c.outcome == Outcome.AWAITING_APPROVAL.value,
                _attempts.c.expires_at <= now,
            )
            .order_by(_attempts.c.expires_at, _attempts.c.id)
        )
        return await self._read("overdue approvals", lambda conn: _attempts_of(conn, query))

    async def orphaned_pending(self, *, lapse: timedelta, instance_id: str) -> list[Attempt]:
        """Pending attempts whose owner has stopped, or not renewed its heartbeat for `lapse`.

        An owner without an instance row counts as gone (attempts from before heartbeats, or a
        hand-edited table); the caller's own attempts are never returned.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        cutoff = self._now() - lapse
        owner = _instances.alias("owner")
        query = (
            select(_attempts)
            .select_from(_attempts.outerjoin(owner, owner.c.id == _attempts.c.owner))
            .where(
                _attempts.c.outcome == Outcome.PENDING.value,
                or_(_attempts.c.owner.is_(None), _attempts.c.owner != instance_id),
                or_(
                    owner.c.id.is_(None),
                    owner.c.heartbeat_at < cutoff,
                    owner.c.stopped_at.is_not(None),
                ),
            )
            .order_by(_attempts.c.requested_at, _attempts.c.id)
        )
        return await self._read("orphaned attempts", lambda conn: _attempts_of(conn, query))

    async def alert_ts(self, key: AlertKey) -> str | None:
        """The timestamp of the message posted for this alert, or None.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        query = select(_alerts.c.ts).where(
            _alerts.c.channel == key.channel,
            _alerts.c.pipeline == key.pipeline,
            _alerts.c.run_id == key.run_id,
        )
        return await self._read("alert message", lambda conn: conn.execute(query).scalar())

    async def run_holder(self, *, pipeline: str, run_id: str) -> Attempt | None:
        """The attempt holding a run's claim, for a run named as an alert names it.

        An alert names its pipeline as the tool wrote it (id, alias or name); attempts record
        both that reference and the id it resolved to. The run's claims are found through
        either, and the newest holder is returned: the action in flight, or the last one that
        went ahead (a verified pause, a terminate), or a failure.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        named = (
            select(_attempts.c.base_url, _attempts.c.pipeline_id)
            .where(
                _attempts.c.run_id == run_id,
                or_(_attempts.c.pipeline_ref == pipeline, _attempts.c.pipeline_id == pipeline),
                _attempts.c.pipeline_id.is_not(None),
                _attempts.c.base_url.is_not(None),
            )
            .distinct()
        )

        def work(conn: Connection) -> Attempt | None:
            holders = []
            for base_url, pipeline_id in conn.execute(named):
                holder_id = _holder_id(conn, base_url, pipeline_id, run_id)
                holder = _get(conn, holder_id) if holder_id is not None else None
                if holder is not None:
                    holders.append(holder)
            return max(holders, key=lambda a: a.requested_at, default=None)

        return await self._read("run claim", work)

    async def chain_head(self) -> tuple[int, str | None]:
        """The number of events and the latest event's hash (None when there are none).

        Raises:
            AuditReadError: if the store cannot be read.
        """

        def work(conn: Connection) -> tuple[int, str | None]:
            count = conn.execute(select(func.count()).select_from(_events)).scalar_one()
            head = conn.execute(
                select(_events.c.hash).order_by(_events.c.id.desc()).limit(1)
            ).scalar()
            return int(count), head

        return await self._read("chain head", work)

    async def verify(self) -> VerifyResult:
        """Recompute the chain in id order, then check the projection against the events.

        Event checks, first failure wins: ids are consecutive from 1 (a gap means deleted
        events), `prev_hash` equals the previous event's hash, the hash recomputes from the
        content under this repository's key. Then every attempt's audit fields must equal the
        fold of its events' data. All of it reads one snapshot.

        Returns:
            The result; `bad_event_id` names the first bad event.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        return await self._read("chain", self._verify, snapshot=True)

    async def export(
        self,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        pipeline: str | None = None,
        run: str | None = None,
        user: str | None = None,
        outcome: str | None = None,
    ) -> list[dict[str, object]]:
        """The audit records of matching attempts, ordered by `requested_at`.

        Args:
            since: requested at or after this time.
            until: requested before this time.
            pipeline: pipeline id or pipeline name equals this.
            run: run id equals this.
            user: Slack user id equals this.
            outcome: outcome equals this (an `Outcome` value).

        Returns:
            One dict per attempt with exactly `AUDIT_FIELDS` in order; datetimes as ISO-8601
            UTC strings ending in `Z`, enums as their strings.

        Raises:
            AuditReadError: if the store cannot be read.
        """
        conditions: list[ColumnElement[bool]] = []
        if since is not None:
            conditions.append(_attempts.c.requested_at >= since)
        if until is not None:
            conditions.append(_attempts.c.requested_at < until)
        if pipeline is not None:
            conditions.append(
                or_(_attempts.c.pipeline_id == pipeline, _attempts.c.pipeline_name == pipeline)
            )
        if run is not None:
            conditions.append(_attempts.c.run_id == run)
        if user is not None:
            conditions.append(_attempts.c.user_id == user)
        if outcome is not None:
            conditions.append(_attempts.c.outcome == str(outcome))
        query = (
            select(_attempts).where(*conditions).order_by(_attempts.c.requested_at, _attempts.c.id)
        )

        def work(conn: Connection) -> list[dict[str, object]]:
            return [_json_record(a) for a in _attempts_of(conn, query)]

        return await self._read("export", work)

    # -- internals ---------------------------------------------------------------------------

    def _now(self) -> datetime:
        now = self._clock()
        if now.tzinfo is None or now.utcoffset() is None:
            raise ValueError("the audit clock must return timezone-aware datetimes")
        return now.astimezone(UTC)

    def _append_applied(self, conn: Connection, applied: Applied) -> None:
        """Append the event of an applied change, when it recorded anything."""
        if not applied.recorded:
            return
        attempt = applied.attempt
        data: dict[str, object] = {"event": applied.kind}
        data.update((name, _json_value(getattr(attempt, name))) for name in applied.recorded)
        self._append(conn, attempt.id, attempt.outcome, data)

    def _append(
        self, conn: Connection, attempt_id: str, outcome: Outcome, data: dict[str, object]
    ) -> None:
        """Append one event at the chain's head; the caller's transaction commits it."""
        if self._pg:
            # Held to the end of the transaction: the head read below cannot go stale.
            conn.execute(_CHAIN_LOCK)
        last = conn.execute(_LAST_EVENT).first()
        event_id = 1 if last is None else int(last.id) + 1
        prev_hash = None if last is None else str(last.hash)
        at = self._now()
        digest = event_hash(
            self._key,
            event_id=event_id,
            attempt_id=attempt_id,
            at=at,
            outcome=outcome.value,
            data=data,
            prev_hash=prev_hash,
        )
        conn.execute(
            _INSERT_EVENT,
            {
                "id": event_id,
                "attempt_id": attempt_id,
                "at": at,
                "outcome": outcome.value,
                "data": canonical_json(data),
                "prev_hash": prev_hash,
                "hash": digest,
            },
        )

    def _verify(self, conn: Connection) -> VerifyResult:
        count, head, expected_id = 0, None, 1

        def bad(event_id: int | None, problem: str) -> VerifyResult:
            return VerifyResult(False, count, event_id, problem, head)

        events = conn.execute(select(_events).order_by(_events.c.id)).yield_per(_STREAM_ROWS)
        for event in events:
            if event.id != expected_id:
                missing = (
                    f"event {expected_id}"
                    if event.id == expected_id + 1
                    else f"events {expected_id}-{event.id - 1}"
                )
                return bad(event.id, f"{missing} missing before it (deleted?)")
            data = _parse_object(event.data)
            if data is None:
                return bad(event.id, "its data is not a JSON object")
            if not hashes_equal(event.prev_hash, head):
                return bad(event.id, "its prev_hash is not the previous event's hash")
            computed = event_hash(
                self._key,
                event_id=event.id,
                attempt_id=event.attempt_id,
                at=event.at,
                outcome=event.outcome,
                data=data,
                prev_hash=event.prev_hash,
            )
            if not hashes_equal(computed, event.hash):
                return bad(event.id, "its hash does not match its content (edited, or another key)")
            count, head, expected_id = count + 1, event.hash, expected_id + 1
        problem = _projection_problem(conn)
        return VerifyResult(problem is None, count, None, problem, head)

    async def _write(self, what: str, fn: Callable[[Connection], T]) -> T:
        try:
            return await self._db.run(fn)
        except SQLAlchemyError as exc:
            raise AuditWriteError(
                f"could not write the {what} to the audit store ({type(exc).__name__})"
            ) from exc

    async def _read(self, what: str, fn: Callable[[Connection], T], *, snapshot: bool = False) -> T:
        try:
            return await self._db.read(fn, snapshot=snapshot)
        except SQLAlchemyError as exc:
            raise AuditReadError(
                f"could not read the {what} from the audit store ({type(exc).__name__})"
            ) from exc


# -- helpers ---------------------------------------------------------------------------------


def _claim_key(base_url: str, pipeline_id: str, run_id: str) -> ColumnElement[bool]:
    return and_(
        _claims.c.base_url == base_url,
        _claims.c.pipeline_id == pipeline_id,
        _claims.c.run_id == run_id,
    )


def _rowcount(result: object) -> int:
    return cast(CursorResult[Any], result).rowcount


def _holder_id(conn: Connection, base_url: str, pipeline_id: str, run_id: str) -> str | None:
    """The attempt holding the run's claim, if any."""
    params = {"base_url": base_url, "pipeline_id": pipeline_id, "run_id": run_id}
    holder: str | None = conn.execute(_CLAIM_HOLDER, params).scalar()
    return holder


def _get(conn: Connection, attempt_id: str) -> Attempt | None:
    row = conn.execute(_ATTEMPT_BY_ID, {"attempt_id": attempt_id}).mappings().first()
    return None if row is None else _attempt_from(row)


def _attempts_of(conn: Connection, query: Select[Any]) -> list[Attempt]:
    return [_attempt_from(row) for row in conn.execute(query).mappings()]


def _attempt_from(row: RowMapping) -> Attempt:
    values = {name: row[name] for name in ATTEMPT_FIELDS}
    values["source"] = Source(values["source"])
    values["outcome"] = Outcome(values["outcome"])
    values["action"] = Action(values["action"])
    return Attempt(**values)


def _in_utc(attempt: Attempt) -> Attempt:
    stamps: dict[str, Any] = {}
    for name in _DATETIME_FIELDS:
        value = getattr(attempt, name)
        if value is not None and value.tzinfo is not UTC:
            stamps[name] = _utc(value, name)
    # Attempts already in UTC (all the app makes) come back as they are: a replace() of this
    # 35-field dataclass costs about 9 µs, and one happens on every write.
    return replace(attempt, **stamps) if stamps else attempt


def _utc(value: datetime, name: str) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime")
    return value.astimezone(UTC)


def _column_values(attempt: Attempt, names: Collection[str]) -> dict[str, object]:
    return {
        name: value.value if isinstance(value := getattr(attempt, name), Enum) else value
        for name in names
    }


def _json_value(value: object) -> object:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _json_record(attempt: Attempt) -> dict[str, object]:
    return {name: _json_value(value) for name, value in attempt.audit_record().items()}


def _parse_object(text: str) -> dict[str, object] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _projection_problem(conn: Connection) -> str | None:
    """Compare each attempt's audit fields with the fold of its events' data.

    Both streams come back in the database's own order of attempt ids and are walked in
    lockstep, so memory stays flat and no Python-vs-collation ordering is assumed.
    """
    events = conn.execute(
        select(_events.c.attempt_id, _events.c.data).order_by(_events.c.attempt_id, _events.c.id)
    ).yield_per(_STREAM_ROWS)
    rows = conn.execute(select(_attempts).order_by(_attempts.c.id)).mappings()
    attempts: Iterator[RowMapping] = iter(rows.yield_per(_STREAM_ROWS))
    for attempt_id, group in groupby(events, key=lambda e: e.attempt_id):
        row = next(attempts, None)
        if row is None or row["id"] != attempt_id:
            # Both streams share one order, so the first mismatch is a row without events,
            # unless the events' attempt has no row at all (possible only with FKs off).
            if row is not None and _get(conn, attempt_id) is not None:
                return f"attempt {row['id']} has state but no events"
            return f"attempt {attempt_id} has events but no state"
        folded: dict[str, object] = dict(FOLD_DEFAULTS)
        for event in group:
            folded.update(_parse_object(event.data) or {})
        record = _json_record(_attempt_from(row))
        for name in AUDIT_FIELDS:
            if folded.get(name) != record[name]:
                return f"attempt {attempt_id}: stored {name} differs from its events"
    extra = next(attempts, None)
    if extra is not None:
        return f"attempt {extra['id']} has state but no events"
    return None
