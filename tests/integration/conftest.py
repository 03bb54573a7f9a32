"""Integration fixtures: the audit store on each backend (databases come from tests/conftest.py).

database                     an open `Database` on `database_url`
clock                        a `FakeClock` (aware UTC, moves only when told)
repository                   `AuditRepository(database, hmac_key=TEST_HMAC_KEY, clock=clock)`
make_attempt                 builds `Attempt`s with sensible defaults and unique ids
advance                      moves a stored awaiting attempt to an outcome through legal changes
attempt_in                   starts a `make_attempt` attempt and `advance`s it to an outcome
execute_sql                  runs raw SQL on `database_url` outside the app (tampering)
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.attempts.lifecycle import (
    Abandoned,
    Action,
    Attempt,
    Change,
    Expired,
    Finished,
    Outcome,
    Rejected,
    Requested,
    Source,
    Submitted,
)
from bot.audit.db import Database
from bot.audit.repository import AuditRepository

TEST_HMAC_KEY = b"integration-test-chain-key"
START = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
OWNER = "instance-a"
"""The instance `advance` submits attempts on unless told otherwise."""
REQUEST_EXPIRES = START + timedelta(minutes=30)
"""When the approval requests `advance` makes expire."""


class FakeClock:
    """A clock for `AuditRepository`: returns `now` until advanced."""

    def __init__(self, start: datetime = START) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now += timedelta(seconds=seconds)
        return self.now


@pytest.fixture
async def database(database_url: str) -> AsyncIterator[Database]:
    db = Database.open(database_url)
    try:
        yield db
    finally:
        await db.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def repository(database: Database, clock: FakeClock) -> AuditRepository:
    return AuditRepository(database, hmac_key=TEST_HMAC_KEY, clock=clock)


@pytest.fixture
def make_attempt(clock: FakeClock) -> Callable[..., Attempt]:
    numbers = itertools.count(1)

    def make(**overrides: Any) -> Attempt:
        n = next(numbers)
        attempt = Attempt(
            id=f"att-{n:04d}",
            request_id=f"req-{n:04d}",
            requested_at=clock(),
            user_id="U0ALICE",
            source=Source.SLASH_COMMAND,
            outcome=Outcome.AWAITING_CONFIRMATION,
            action=Action.TERMINATE,
            team_id="T0TEAM",
            user_name="alice",
            channel_id="C0INCIDENTS",
            pipeline_id="65f1c0ffee0123456789abcd",
            pipeline_name="Nightly ETL",
            run_id=f"run{n:04d}",
            rule="data-oncall",
            pipeline_ref="nightly-etl",
            response_url="https://hooks.slack.com/actions/T0TEAM/1/secret",
            nonce=f"nonce-{n:04d}",
            base_url="https://api.vectorshift.ai/v1",
        )
        return replace(attempt, **overrides)

    return make


def changes_to(outcome: Outcome, *, nonce: str | None, owner: str) -> list[Change]:
    """Legal changes taking an attempt awaiting confirmation (with `nonce`) to `outcome`.

    Every outcome a pending attempt can finish in is reached through `pending`, as a real
    termination does; `abandoned` by closing the modal; `awaiting_approval`, `rejected` and
    `expired` through an approval request; `awaiting_confirmation` by nothing.
    """
    if outcome is Outcome.AWAITING_CONFIRMATION:
        return []
    if outcome is Outcome.ABANDONED:
        return [Abandoned()]
    assert nonce is not None, "only an attempt with a nonce can be submitted"
    if outcome in {Outcome.AWAITING_APPROVAL, Outcome.REJECTED, Outcome.EXPIRED}:
        requested = Requested(nonce=nonce, approvals_needed=1, expires_at=REQUEST_EXPIRES)
        settle = {
            Outcome.REJECTED: [Rejected("rejected by U0BOSS")],
            Outcome.EXPIRED: [Expired("late")],
        }
        return [requested, *settle.get(outcome, [])]
    submitted = Submitted(nonce=nonce, owner=owner)
    if outcome is Outcome.PENDING:
        return [submitted]
    return [submitted, Finished(outcome=outcome)]


Advance = Callable[..., Awaitable[Attempt]]


@pytest.fixture
def advance(repository: AuditRepository) -> Advance:
    async def move(
        attempt: Attempt,
        outcome: Outcome,
        *,
        repository: AuditRepository = repository,
        owner: str = OWNER,
    ) -> Attempt:
        assert attempt.outcome is Outcome.AWAITING_CONFIRMATION, attempt
        for change in changes_to(outcome, nonce=attempt.nonce, owner=owner):
            moved = await repository.record(attempt.id, change)
            assert moved is not None, f"{change} was refused from {attempt.outcome}"
            attempt = moved
        assert attempt.outcome is outcome
        return attempt

    return move


@pytest.fixture
def attempt_in(
    repository: AuditRepository, make_attempt: Callable[..., Attempt], advance: Advance
) -> Advance:
    async def start_and_move(
        outcome: Outcome,
        *,
        repository: AuditRepository = repository,
        owner: str = OWNER,
        **overrides: Any,
    ) -> Attempt:
        started = await repository.start(make_attempt(**overrides))
        return await advance(started, outcome, repository=repository, owner=owner)

    return start_and_move


@pytest.fixture
def execute_sql(database_url: str) -> Iterator[Callable[..., list[Any]]]:
    engine = create_engine(database_url, poolclass=NullPool)

    def execute(statement: str, **params: Any) -> list[Any]:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []

    try:
        yield execute
    finally:
        engine.dispose()
