"""Alembic migrations on SQLite and PostgreSQL: up, down, up again, no drift from the models."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields
from typing import Any

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.pool import NullPool

from bot.attempts.lifecycle import Attempt
from bot.audit.migrate import (
    alembic_config,
    current_revision,
    downgrade,
    head_revision,
    upgrade_to_head,
)
from bot.audit.models import Base

TABLES = {
    "alembic_version",
    "alert_messages",
    "attempts",
    "audit_events",
    "instances",
    "run_claims",
}
INITIAL = "91801954cccd"
"""The first revision: the schema before the attempt lifecycle and heartbeats."""
LIFECYCLE = "4c2a7e91b0d3"
"""The revision adding `attempts.action`, `owner` and `instances`."""
APPROVALS = "5d1f0b6a2c84"
"""The revision adding the approval columns (SPEC §4.6)."""
LEASE_COLUMNS = {"lease_owner", "lease_until", "view_id"}
LIFECYCLE_COLUMNS = {"action", "owner"}
APPROVAL_COLUMNS = {"approved_by", "approved_at", "approvals_needed", "expires_at", "request_ts"}


def table_names(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def schema_of(url: str) -> dict[str, dict[str, Any]]:
    """Every table's columns (type, nullability, default), keys and indexes, by name."""
    engine = create_engine(url, poolclass=NullPool)
    try:
        inspector = inspect(engine)
        return {
            table: {
                "columns": {
                    c["name"]: (str(c["type"]), c["nullable"], c.get("default"))
                    for c in inspector.get_columns(table)
                },
                "primary_key": inspector.get_pk_constraint(table),
                "foreign_keys": sorted(
                    (fk["name"] or "", tuple(fk["constrained_columns"]), fk["referred_table"])
                    for fk in inspector.get_foreign_keys(table)
                ),
                "unique": sorted(
                    (u["name"], tuple(u["column_names"]))
                    for u in inspector.get_unique_constraints(table)
                ),
                "indexes": sorted(
                    (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                    for i in inspector.get_indexes(table)
                ),
            }
            for table in inspector.get_table_names()
            if table != "alembic_version"
        }
    finally:
        engine.dispose()


def upgrade_to(url: str, revision: str) -> None:
    command.upgrade(alembic_config(url), revision)


def run_sql(url: str, statement: str, **params: Any) -> list[Any]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return list(result) if result.returns_rows else []
    finally:
        engine.dispose()


def schema_drift(url: str) -> list[object]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            return list(compare_metadata(context, Base.metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade_ends_at_head(empty_database_url):
    assert current_revision(empty_database_url) is None

    upgrade_to_head(empty_database_url)
    assert current_revision(empty_database_url) == head_revision()
    assert table_names(empty_database_url) == TABLES

    downgrade(empty_database_url, "base")
    assert current_revision(empty_database_url) is None
    assert table_names(empty_database_url) == {"alembic_version"}

    upgrade_to_head(empty_database_url)
    assert current_revision(empty_database_url) == head_revision()
    assert table_names(empty_database_url) == TABLES


def test_the_revisions_run_initial_lifecycle_approvals_and_approvals_is_the_head():
    scripts = ScriptDirectory.from_config(alembic_config())

    assert head_revision() == APPROVALS
    assert scripts.get_revision(APPROVALS).down_revision == LIFECYCLE
    assert scripts.get_revision(LIFECYCLE).down_revision == INITIAL
    assert scripts.get_revision(INITIAL).down_revision is None


def test_the_approvals_revision_adds_its_columns_and_its_downgrade_removes_them(
    empty_database_url,
):
    upgrade_to(empty_database_url, LIFECYCLE)
    before = schema_of(empty_database_url)
    upgrade_to_head(empty_database_url)
    after = set(schema_of(empty_database_url)["attempts"]["columns"])

    assert after - set(before["attempts"]["columns"]) == APPROVAL_COLUMNS
    downgrade(empty_database_url, LIFECYCLE)
    assert schema_of(empty_database_url) == before
    upgrade_to_head(empty_database_url)
    assert schema_drift(empty_database_url) == []


def test_upgrade_downgrade_upgrade_through_the_lifecycle_revision(empty_database_url):
    upgrade_to(empty_database_url, INITIAL)
    assert current_revision(empty_database_url) == INITIAL

    upgrade_to_head(empty_database_url)
    assert current_revision(empty_database_url) == APPROVALS
    downgrade(empty_database_url, INITIAL)
    assert current_revision(empty_database_url) == INITIAL
    assert table_names(empty_database_url) == TABLES - {"instances"}
    upgrade_to_head(empty_database_url)

    assert current_revision(empty_database_url) == APPROVALS
    assert table_names(empty_database_url) == TABLES
    assert schema_drift(empty_database_url) == []


def test_the_lifecycle_downgrade_restores_the_initial_schema(empty_database_url):
    upgrade_to(empty_database_url, INITIAL)
    initial = schema_of(empty_database_url)
    upgrade_to_head(empty_database_url)
    upgraded = schema_of(empty_database_url)

    downgrade(empty_database_url, INITIAL)

    columns = set(initial["attempts"]["columns"])
    assert columns >= LEASE_COLUMNS
    assert not LIFECYCLE_COLUMNS & columns
    assert set(upgraded["attempts"]["columns"]) >= LIFECYCLE_COLUMNS
    assert not LEASE_COLUMNS & set(upgraded["attempts"]["columns"])
    assert schema_of(empty_database_url) == initial


def test_the_lifecycle_migration_keeps_owners_and_names_every_action_terminate(
    empty_database_url,
):
    upgrade_to(empty_database_url, INITIAL)
    run_sql(
        empty_database_url,
        "INSERT INTO attempts (id, request_id, requested_at, user_id, source, outcome,"
        " lease_owner, lease_until, view_id)"
        " VALUES ('att-1', 'req-1', :at, 'U0ALICE', 'slash_command', 'pending',"
        " 'host-1', :at, 'V1'),"
        " ('att-2', 'req-2', :at, 'U0ALICE', 'button', 'succeeded', NULL, NULL, NULL)",
        at="2026-11-30 09:00:00",
    )

    upgrade_to_head(empty_database_url)
    upgraded = run_sql(empty_database_url, "SELECT id, action, owner FROM attempts ORDER BY id")
    downgrade(empty_database_url, INITIAL)
    downgraded = run_sql(
        empty_database_url,
        "SELECT id, lease_owner, lease_until, view_id FROM attempts ORDER BY id",
    )

    assert [tuple(r) for r in upgraded] == [
        ("att-1", "terminate", "host-1"),
        ("att-2", "terminate", None),
    ]
    assert [tuple(r) for r in downgraded] == [
        ("att-1", "host-1", None, None),
        ("att-2", None, None, None),
    ]


def test_the_migrated_schema_matches_the_models(empty_database_url):
    upgrade_to_head(empty_database_url)

    assert schema_drift(empty_database_url) == []


def test_the_attempts_table_has_a_column_for_every_attempt_field(database_url):
    engine = create_engine(database_url, poolclass=NullPool)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("attempts")}
    finally:
        engine.dispose()

    assert columns == {f.name for f in fields(Attempt)}


def test_upgrading_a_database_at_head_changes_nothing(database_url):
    upgrade_to_head(database_url)

    assert current_revision(database_url) == head_revision()


def test_two_instances_migrating_one_postgresql_at_once_both_succeed(postgresql_empty_url):
    script = (
        "import sys; from bot.audit.migrate import upgrade_to_head; upgrade_to_head(sys.argv[1])"
    )
    instances = [
        subprocess.Popen(
            [sys.executable, "-c", script, postgresql_empty_url],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]

    outputs = [p.communicate(timeout=60) for p in instances]

    assert [p.returncode for p in instances] == [0, 0], outputs
    assert current_revision(postgresql_empty_url) == head_revision()
    assert schema_drift(postgresql_empty_url) == []


def test_migrations_from_two_threads_of_one_process_take_turns(sqlite_empty_url):
    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(upgrade_to_head, [sqlite_empty_url, sqlite_empty_url]))

    assert current_revision(sqlite_empty_url) == head_revision()
