"""Alembic migrations on SQLite and PostgreSQL: up, down, up again, no drift from the models."""

from __future__ import annotations

import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from dataclasses import fields

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect
from sqlalchemy.pool import NullPool

from bot.audit.migrate import current_revision, downgrade, head_revision, upgrade_to_head
from bot.audit.models import Base
from bot.domain import Attempt

TABLES = {"alembic_version", "alert_messages", "attempts", "audit_events", "run_claims"}


def table_names(url: str) -> set[str]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        return set(inspect(engine).get_table_names())
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
