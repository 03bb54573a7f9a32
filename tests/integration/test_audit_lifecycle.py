"""The attempt lifecycle in the audit store: named events, the one table of moves, races."""

from __future__ import annotations

import asyncio
import json
from dataclasses import fields
from datetime import UTC, datetime

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.attempts.lifecycle import (
    TRANSITIONS,
    Abandoned,
    Approved,
    Attempt,
    Blocked,
    Change,
    Expired,
    Finished,
    IllegalChangeError,
    Outcome,
    Reconciled,
    Rejected,
    Requested,
    RequestPosted,
    Started,
    Submitted,
)
from bot.audit.db import Database
from bot.audit.repository import AuditRepository

BASE_URL = "https://api.vectorshift.ai/v1"
REQUEST_EXPIRES = datetime(2026, 11, 28, 21, 30, tzinfo=UTC)
STATES: list[Outcome | None] = [None, *Outcome]
"""Every state an attempt can be in, None standing for "no such attempt"."""


def kinds_of(execute_sql, attempt_id: str | None = None) -> list[str]:
    rows = execute_sql("SELECT attempt_id, data FROM audit_events ORDER BY id")
    return [
        json.loads(row.data)["event"]
        for row in rows
        if attempt_id is None or row.attempt_id == attempt_id
    ]


def a_legal_change(kind: str, attempt: Attempt) -> Change:
    """A change of `kind` that its row would allow: a target the row names, the attempt's nonce.

    From a state the row starts from it applies, so only the attempt's state can refuse it (a
    placeholder stands in for a nonce the submission already consumed).
    """
    changes: dict[str, Change] = {
        Started.kind: Started(attempt),
        Blocked.kind: Blocked(outcome=Outcome.DUPLICATE, error="held"),
        Abandoned.kind: Abandoned(),
        Submitted.kind: Submitted(nonce=attempt.nonce or "consumed", owner="host-9"),
        Finished.kind: Finished(outcome=Outcome.FAILED, error="late"),
        Reconciled.kind: Reconciled(outcome=Outcome.UNCONFIRMED, error="late"),
        Requested.kind: Requested(
            nonce=attempt.nonce or "consumed", approvals_needed=1, expires_at=REQUEST_EXPIRES
        ),
        RequestPosted.kind: RequestPosted(request_ts="1700000000.000100"),
        Approved.kind: Approved(approver="U0BOSS00001", owner="host-9"),
        Rejected.kind: Rejected(error="rejected by U0BOSS00001"),
        Expired.kind: Expired(error="late"),
    }
    return changes[kind]


async def store_snapshot(repository, execute_sql) -> tuple[object, ...]:
    """Everything a change could write: every column of every attempt, every event."""
    return (
        execute_sql("SELECT * FROM attempts ORDER BY id"),
        execute_sql("SELECT * FROM audit_events ORDER BY id"),
        execute_sql("SELECT * FROM run_claims ORDER BY attempt_id"),
        await repository.chain_head(),
    )


async def test_every_stored_event_names_its_kind(repository, make_attempt, attempt_in, execute_sql):
    # A confirmation that cannot go ahead starts final: one event.
    cannot = await repository.start(make_attempt(outcome=Outcome.ALREADY_FINISHED, nonce=None))
    abandoned = await attempt_in(Outcome.ABANDONED)
    finished = await attempt_in(Outcome.SUCCEEDED)
    pending = await attempt_in(Outcome.PENDING)
    await repository.record(pending.id, Reconciled(outcome=Outcome.UNCONFIRMED))
    submitted = await repository.start(make_attempt())
    await repository.submit(
        submitted.id, Submitted(nonce=submitted.nonce, owner="host-1"), base_url=BASE_URL
    )
    denied = await repository.start(make_attempt(outcome=Outcome.DENIED))
    approved = await attempt_in(Outcome.AWAITING_APPROVAL)
    await repository.record(approved.id, RequestPosted(request_ts="1700000000.000100"))
    await repository.record(approved.id, Approved(approver="U0BOSS00001", owner="host-1"))
    rejected = await attempt_in(Outcome.REJECTED)
    expired = await attempt_in(Outcome.EXPIRED)
    duplicate = await attempt_in(Outcome.AWAITING_APPROVAL)
    await repository.record(duplicate.id, Blocked(outcome=Outcome.DUPLICATE))

    assert kinds_of(execute_sql, cannot.id) == ["started"]
    assert kinds_of(execute_sql, abandoned.id) == ["started", "abandoned"]
    assert kinds_of(execute_sql, finished.id) == ["started", "submitted", "finished"]
    assert kinds_of(execute_sql, pending.id) == ["started", "submitted", "reconciled"]
    assert kinds_of(execute_sql, submitted.id) == ["started", "submitted"]
    assert kinds_of(execute_sql, denied.id) == ["started"]
    # Where the request was posted is the server's business alone: no event.
    assert kinds_of(execute_sql, approved.id) == ["started", "requested", "approved"]
    assert kinds_of(execute_sql, rejected.id) == ["started", "requested", "rejected"]
    assert kinds_of(execute_sql, expired.id) == ["started", "requested", "expired"]
    assert kinds_of(execute_sql, duplicate.id) == ["started", "requested", "blocked"]
    assert set(kinds_of(execute_sql)) == set(TRANSITIONS) - {RequestPosted.kind}
    assert (await repository.verify()).ok


async def test_each_event_holds_its_kind_the_outcome_and_only_the_audited_fields_it_changed(
    repository, make_attempt, execute_sql, clock
):
    attempt = await repository.start(make_attempt())
    await repository.record(attempt.id, Submitted(nonce=attempt.nonce, owner="host-1", reason="x"))
    clock.advance(3)
    await repository.record(attempt.id, Reconciled(outcome=Outcome.SUCCEEDED, verified_status="x"))

    rows = execute_sql(
        "SELECT outcome, data FROM audit_events WHERE attempt_id = :a ORDER BY id", a=attempt.id
    )

    assert [(row.outcome, json.loads(row.data)) for row in rows[1:]] == [
        ("pending", {"event": "submitted", "reason": "x", "outcome": "pending"}),
        (
            "succeeded",
            {
                "event": "reconciled",
                "completed_at": "2026-11-28T21:00:03.000000Z",
                "outcome": "succeeded",
                "verified_status": "x",
            },
        ),
    ]


@pytest.mark.parametrize("kind", list(TRANSITIONS))
async def test_a_change_from_a_state_its_row_does_not_start_from_writes_nothing(
    kind, repository, make_attempt, advance, execute_sql
):
    move = TRANSITIONS[kind]
    illegal = [state for state in STATES if state not in move.sources]
    assert illegal, f"the {kind!r} row starts from every state"
    in_state: dict[Outcome | None, Attempt | None] = {None: None}
    for state in illegal:
        if state is not None:
            started = await repository.start(make_attempt())
            in_state[state] = await advance(started, state)
    before = await store_snapshot(repository, execute_sql)

    for state in illegal:
        attempt = in_state[state]
        target = make_attempt() if attempt is None else attempt
        change = a_legal_change(kind, target)
        attempt_id = "no-such-attempt" if attempt is None else attempt.id

        assert await repository.record(attempt_id, change) is None, (kind, state)
        assert await store_snapshot(repository, execute_sql) == before, (kind, state)
    assert await repository.get("no-such-attempt") is None
    assert (await repository.verify()).ok


@pytest.mark.parametrize("kind", [Started.kind, Blocked.kind, Finished.kind, Reconciled.kind])
async def test_a_change_to_a_state_its_row_does_not_lead_to_raises_and_writes_nothing(
    kind, repository, make_attempt, attempt_in, execute_sql
):
    move = TRANSITIONS[kind]
    source = next(iter(move.sources))
    forbidden = [outcome for outcome in Outcome if outcome not in move.targets]
    attempt = None if source is None else await attempt_in(source)
    before = await store_snapshot(repository, execute_sql)

    for outcome in forbidden:
        with pytest.raises(IllegalChangeError, match=outcome.value):
            if attempt is None:
                await repository.start(make_attempt(outcome=outcome))
            else:
                change = a_legal_change(kind, attempt)
                assert "outcome" in {f.name for f in fields(change)}
                await repository.record(attempt.id, type(change)(outcome=outcome))

        assert await store_snapshot(repository, execute_sql) == before, outcome
    assert (await repository.verify()).ok


CONFLICTS = {
    "finished-vs-reconciled": (
        Outcome.PENDING,
        lambda _: Finished(outcome=Outcome.SUCCEEDED, http_status=200, api_status="success"),
        lambda _: Reconciled(outcome=Outcome.UNCONFIRMED, verified_status="still running"),
    ),
    "submitted-vs-abandoned": (
        Outcome.AWAITING_CONFIRMATION,
        lambda a: Submitted(nonce=a.nonce, owner="host-1", reason="stuck"),
        lambda a: Abandoned(nonce=a.nonce),
    ),
    # Two approvers of a one-approval request on two instances: one action, not two.
    "approved-vs-approved": (
        Outcome.AWAITING_APPROVAL,
        lambda _: Approved(approver="U0BOSS00001", owner="host-0"),
        lambda _: Approved(approver="U0LEAD00001", owner="host-1"),
    ),
    "approved-vs-rejected": (
        Outcome.AWAITING_APPROVAL,
        lambda _: Approved(approver="U0BOSS00001", owner="host-0"),
        lambda _: Rejected(error="rejected by U0LEAD00001"),
    ),
    "rejected-vs-expired": (
        Outcome.AWAITING_APPROVAL,
        lambda _: Rejected(error="rejected by U0LEAD00001"),
        lambda _: Expired(error="late"),
    ),
}


@pytest.fixture
def execute_postgresql(postgresql_url):
    engine = create_engine(postgresql_url, poolclass=NullPool)

    def execute(statement: str, **params):
        with engine.begin() as conn:
            return list(conn.execute(text(statement), params))

    try:
        yield execute
    finally:
        engine.dispose()


@pytest.mark.parametrize("conflict", list(CONFLICTS))
async def test_two_instances_recording_conflicting_changes_on_postgresql_apply_exactly_one(
    conflict, postgresql_url, clock, make_attempt, execute_postgresql
):
    execute_sql = execute_postgresql
    state, first_change, second_change = CONFLICTS[conflict]
    handles = [Database.open(postgresql_url) for _ in range(2)]
    repos = [AuditRepository(db, hmac_key=b"k", clock=clock) for db in handles]
    try:
        for _ in range(5):
            attempt = await repos[0].start(make_attempt())
            if state is Outcome.PENDING:
                pending = await repos[0].record(
                    attempt.id, Submitted(nonce=attempt.nonce, owner="host-0")
                )
                assert pending is not None
                attempt = pending
            if state is Outcome.AWAITING_APPROVAL:
                change = Requested(
                    nonce=attempt.nonce, approvals_needed=1, expires_at=REQUEST_EXPIRES
                )
                waiting = await repos[0].record(attempt.id, change)
                assert waiting is not None
                attempt = waiting
            changes = [first_change(attempt), second_change(attempt)]

            results = await asyncio.gather(
                *(repo.record(attempt.id, c) for repo, c in zip(repos, changes, strict=True))
            )

            applied = [(r, c) for r, c in zip(results, changes, strict=True) if r is not None]
            assert len(applied) == 1, results
            [(winner, change)] = applied
            assert await repos[1].get(attempt.id) == winner
            assert kinds_of(execute_sql, attempt.id)[-1] == change.kind
            assert {c.kind for c in changes} & set(kinds_of(execute_sql, attempt.id)) == {
                change.kind
            }
        result = await repos[1].verify()
        assert result.ok, result
    finally:
        for db in handles:
            await db.close()
