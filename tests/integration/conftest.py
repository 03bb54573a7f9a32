"""Integration fixtures: the audit store on each backend (databases come from tests/conftest.py).

database                     an open `Database` on `database_url`
clock                        a `FakeClock` (aware UTC, moves only when told)
repository                   `AuditRepository(database, hmac_key=TEST_HMAC_KEY, clock=clock)`
make_attempt                 builds `Attempt`s with sensible defaults and unique ids
execute_sql                  runs raw SQL on `database_url` outside the app (tampering)
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from bot.audit.db import Database
from bot.audit.repository import AuditRepository
from bot.domain import Attempt, Outcome, Source

TEST_HMAC_KEY = b"integration-test-chain-key"
START = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)


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
