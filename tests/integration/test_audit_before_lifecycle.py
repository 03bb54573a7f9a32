"""A store written before the attempt lifecycle (revision 91801954cccd) upgrades and verifies.

The fixture is an SQLite database the old `TerminateService` wrote (tests/fixtures/README.md).
On PostgreSQL its rows are copied, value for value, into a database migrated to that revision
only. Either way `alembic upgrade head` must keep every old value, name every old attempt's
action `terminate`, and leave a chain that `audit verify` accepts and new events extend.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import Boolean, DateTime, MetaData, Table, create_engine, select
from sqlalchemy.pool import NullPool

from bot.attempts.lifecycle import Action, Finished, Outcome, Submitted
from bot.audit.db import Database
from bot.audit.migrate import alembic_config, current_revision, head_revision, upgrade_to_head
from bot.audit.repository import AuditRepository, VerifyResult

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
FIXTURE = FIXTURES / "audit_before_lifecycle.sqlite"
OLD_EXPORT = FIXTURES / "audit_before_lifecycle.export.jsonl"
"""`audit export` of the fixture by the code that wrote it (commit 8c58ab2), one JSON per line."""
OLD_REVISION = "91801954cccd"
KEY = b"fixture-hmac-key"
OLD_HEAD = "25fe74477ab0f3ffd90636413f779d39d80ccc9245af41fd12bfab66d3ad652d"
"""The chain head the old code's `verify` reported for the fixture."""
TABLES = ("attempts", "audit_events", "run_claims", "alert_messages")
"""In foreign-key order."""
DROPPED = frozenset({"lease_until", "view_id"})
RENAMED = {"lease_owner": "owner"}
WAITING_ID = "d48e40f7-df70-4f49-99f0-ec2edc206c52"
WAITING_NONCE = "za8SRI2vnq36eqVG3lGuzg"
OLD_BASE_URL = "http://vs.invalid/v1"
LATER = datetime(2026, 12, 6, 9, 0, tzinfo=UTC)


def rows_of(url: str, table: str) -> list[dict[str, Any]]:
    """A table's rows in key order, datetimes as naive UTC so both backends compare alike."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            reflected = Table(table, MetaData(), autoload_with=conn)
            key = list(reflected.primary_key.columns)
            return [
                {name: naive_utc(value) for name, value in row.items()}
                for row in conn.execute(select(reflected).order_by(*key)).mappings()
            ]
    finally:
        engine.dispose()


def naive_utc(value: object) -> object:
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def copy_rows(source: Path, url: str) -> None:
    """Copy every row of `source`'s tables into `url`'s (same schema), value for value.

    SQLite stores datetimes as naive UTC text and booleans as integers; they go into
    PostgreSQL as the same instants (`timestamptz`, microseconds kept) and booleans. Every other
    value, the events' `data`, `prev_hash` and `hash` above all, is copied as is.
    """
    engine = create_engine(url, poolclass=NullPool)
    try:
        with closing(sqlite3.connect(source)) as old, engine.begin() as conn:
            for name in TABLES:
                table = Table(name, MetaData(), autoload_with=conn)
                cursor = old.execute(f"SELECT * FROM {name}")  # noqa: S608 - fixed names
                columns = [d[0] for d in cursor.description]
                rows = [
                    {c: to_column(table.c[c].type, v) for c, v in zip(columns, row, strict=True)}
                    for row in cursor
                ]
                if rows:
                    conn.execute(table.insert(), rows)
    finally:
        engine.dispose()


def to_column(column_type: object, value: object) -> object:
    if value is None:
        return None
    if isinstance(column_type, DateTime):
        assert isinstance(value, str)
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    if isinstance(column_type, Boolean):
        return bool(value)
    return value


APPROVAL_COLUMNS = ("approved_by", "approved_at", "approvals_needed", "expires_at", "request_ts")
"""Added by the approvals revision: empty for every attempt made before approvals existed."""


def upgraded(row: dict[str, Any]) -> dict[str, Any]:
    """An old `attempts` row as the revisions up to head should leave it."""
    kept = {RENAMED.get(name, name): value for name, value in row.items() if name not in DROPPED}
    return {**kept, "action": "terminate", **dict.fromkeys(APPROVAL_COLUMNS)}


@pytest.fixture
def fixture_rows(tmp_path: Path) -> dict[str, list[dict[str, Any]]]:
    copy = tmp_path / "fixture-read.sqlite"
    shutil.copyfile(FIXTURE, copy)
    return {table: rows_of(f"sqlite+pysqlite:///{copy}", table) for table in TABLES}


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database at revision 91801954cccd holding the fixture's rows."""
    if request.param == "sqlite":
        target = tmp_path / "audit.sqlite"
        shutil.copyfile(FIXTURE, target)
        return f"sqlite+pysqlite:///{target}"
    url = str(request.getfixturevalue("postgresql_empty_url"))
    command.upgrade(alembic_config(url), OLD_REVISION)
    copy_rows(FIXTURE, url)
    return url


@pytest.fixture
async def upgraded_repository(old_database_url, clock):
    upgrade_to_head(old_database_url)
    clock.now = LATER
    db = Database.open(old_database_url)
    try:
        yield AuditRepository(db, hmac_key=KEY, clock=clock)
    finally:
        await db.close()


def test_the_fixture_is_the_store_the_old_code_wrote(fixture_rows, old_database_url):
    assert current_revision(old_database_url) == OLD_REVISION
    assert len(fixture_rows["attempts"]) == 8
    assert len(fixture_rows["audit_events"]) == 22
    assert sorted(r["outcome"] for r in fixture_rows["attempts"]) == sorted(
        [
            "succeeded",
            "failed",
            "unconfirmed",
            "abandoned",
            "denied",
            "already_finished",
            "already_finished",
            "awaiting_confirmation",
        ]
    )
    # Nothing the upgrade drops held a value.
    assert all(r[name] is None for r in fixture_rows["attempts"] for name in DROPPED)
    # On PostgreSQL: the copy is value for value.
    assert {table: rows_of(old_database_url, table) for table in TABLES} == fixture_rows


async def test_an_upgraded_old_store_verifies_with_every_event(upgraded_repository):
    result = await upgraded_repository.verify()

    assert result == VerifyResult(True, 22, None, None, OLD_HEAD)
    assert await upgraded_repository.chain_head() == (22, OLD_HEAD)


async def test_an_upgraded_old_store_keeps_every_old_value(
    upgraded_repository, old_database_url, fixture_rows
):
    assert current_revision(old_database_url) == head_revision()
    assert rows_of(old_database_url, "attempts") == [
        upgraded(row) for row in fixture_rows["attempts"]
    ]
    for table in ("audit_events", "run_claims", "alert_messages"):
        assert rows_of(old_database_url, table) == fixture_rows[table], table
    assert rows_of(old_database_url, "instances") == []


async def test_an_upgraded_old_store_exports_the_same_records(upgraded_repository):
    old = [json.loads(line) for line in OLD_EXPORT.read_text(encoding="utf-8").splitlines()]

    records = await upgraded_repository.export()

    assert len(old) == 8
    # Every old field unchanged, in its place; `action` (exported since pause and resume came)
    # is `terminate` for everything written before it existed, and the approval fields are
    # empty (SPEC §6).
    upgraded = [
        {**record, "action": "terminate", "approved_by": None, "approved_at": None}
        for record in old
    ]
    assert records == upgraded
    assert all(list(r)[-3:] == ["action", "approved_by", "approved_at"] for r in records)


async def test_every_old_attempt_is_a_termination(upgraded_repository, fixture_rows):
    for row in fixture_rows["attempts"]:
        attempt = await upgraded_repository.get(row["id"])
        assert attempt is not None
        assert attempt.action is Action.TERMINATE
        assert (attempt.owner, attempt.outcome.value) == (None, row["outcome"])


async def test_new_changes_extend_an_upgraded_old_chain(
    upgraded_repository, make_attempt, old_database_url
):
    repository = upgraded_repository

    submitted = await repository.submit(
        WAITING_ID, Submitted(nonce=WAITING_NONCE, owner="host-1"), base_url=OLD_BASE_URL
    )
    assert submitted is not None
    pending, holder = submitted
    assert (pending.outcome, pending.owner, holder) == (Outcome.PENDING, "host-1", None)
    finished = await repository.record(
        WAITING_ID, Finished(outcome=Outcome.SUCCEEDED, http_status=200, api_status="success")
    )
    assert finished is not None
    assert finished.completed_at == LATER
    new = await repository.start(make_attempt(run_id="run0000ok", base_url=OLD_BASE_URL))
    # The old succeeded attempt still holds its run.
    held = await repository.submit(
        new.id, Submitted(nonce=new.nonce, owner="host-1"), base_url=OLD_BASE_URL
    )
    assert held is not None
    assert held[1] is not None
    assert held[1].id == "e547c60d-2630-4f46-af53-28e8e2b173db"

    # Old attempts kept their nonces after they ended; a replay of one still changes nothing.
    abandoned = "ca04eb3d-1eee-4c65-adaf-8d5ebab2c259"
    replay = Submitted(nonce="yOgjhk3OfhqcgrJ0hoW_xg", owner="host-1")
    assert await repository.record(abandoned, replay) is None

    result = await repository.verify()

    assert (result.ok, result.count, result.problem) == (True, 26, None)
    events = rows_of(old_database_url, "audit_events")
    assert [json.loads(e["data"]).get("event") for e in events[20:]] == [
        None,
        None,
        "submitted",
        "finished",
        "started",
        "submitted",
    ]
    assert events[22]["prev_hash"] == OLD_HEAD
    exported = {r["id"]: r for r in await repository.export()}
    assert exported[WAITING_ID]["outcome"] == "succeeded"
    assert len(exported) == 9
