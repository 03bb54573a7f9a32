"""Alembic environment: runs the audit schema's migrations against one database URL.

The URL comes from the caller (`Config.attributes["url"]`, set by `bot.audit.migrate`), or
`alembic -x url=…`, else from `load_settings(command="migrate")` (the environment and `.env`).
SQLite runs in batch mode (its ALTER TABLE cannot change columns or constraints); on PostgreSQL a
session advisory lock is held around the whole run, so instances starting together migrate once.
"""

from __future__ import annotations

from logging.config import fileConfig
from pathlib import Path

from alembic import context
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection
from sqlalchemy.pool import NullPool

from bot.audit.models import Base
from bot.config import load_settings, map_database_url

MIGRATION_LOCK_KEY = 0x76735F6D69677261
"""`pg_advisory_lock` key held while migrating ("vs_migra"); distinct from the chain's."""

config = context.config

# Only an ini file carries logging sections. The CLI names `alembic.ini` even when the
# configuration is pyproject's and no such file exists; the app configures its own logging.
if config.config_file_name is not None and Path(config.config_file_name).is_file():
    fileConfig(config.config_file_name, disable_existing_loggers=False)

target_metadata = Base.metadata


def database_url() -> str:
    """The mapped URL to migrate: given programmatically, by `-x url=`, or from the settings."""
    url = config.attributes.get("url") or context.get_x_argument(as_dictionary=True).get("url")
    if url:
        return map_database_url(str(url))
    return load_settings(command="migrate").database_url


def configure(connection: Connection | None = None, url: str | None = None) -> None:
    """Configure the migration context for one connection (online) or URL (offline)."""
    dialect = connection.dialect.name if connection is not None else url or ""
    context.configure(
        connection=connection,
        url=url,
        target_metadata=target_metadata,
        render_as_batch=dialect.startswith("sqlite"),
        compare_type=True,
        literal_binds=connection is None,
        dialect_opts={"paramstyle": "named"} if connection is None else {},
    )


def run_migrations_offline() -> None:
    """Emit the migration SQL (`alembic upgrade --sql`) instead of running it."""
    configure(url=database_url())
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on a fresh connection, under the advisory lock on PostgreSQL."""
    engine = create_engine(database_url(), poolclass=NullPool)
    try:
        with engine.connect() as connection:
            locked = connection.dialect.name == "postgresql"
            if locked:
                # Session-level, committed at once: waiting instances block here, then find
                # the version table at head and do nothing.
                connection.execute(
                    text("SELECT pg_advisory_lock(:key)"), {"key": MIGRATION_LOCK_KEY}
                )
                connection.commit()
            try:
                configure(connection=connection)
                with context.begin_transaction():
                    context.run_migrations()
            finally:
                if locked:
                    connection.rollback()
                    connection.execute(
                        text("SELECT pg_advisory_unlock(:key)"), {"key": MIGRATION_LOCK_KEY}
                    )
                    connection.commit()
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
