"""Alembic entry points: migrate a database to head, read its revision, step it back.

The configuration is `[tool.alembic]` in the repository's `pyproject.toml` (no `alembic.ini`);
the URL is handed to `migrations/env.py` through `Config.attributes["url"]`, so the environment
is not read again. On PostgreSQL `env.py` holds an advisory lock for the whole run, so two
instances starting together migrate once and the second finds the database at head.

Alembic's `context` is module-global, so two migrations in one process must not overlap: the
commands here take turns on a process-wide lock.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Final

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine
from sqlalchemy.pool import NullPool

PROJECT_ROOT: Final = Path(__file__).resolve().parents[2]
PYPROJECT: Final = PROJECT_ROOT / "pyproject.toml"
_ONE_AT_A_TIME: Final = threading.Lock()


def alembic_config(url: str | None = None) -> Config:
    """The Alembic configuration from `pyproject.toml`, carrying `url` for `env.py`.

    Args:
        url: an already-mapped database URL; None lets `env.py` load the settings.

    Returns:
        A `Config` whose `attributes["url"]` is set when `url` is given.
    """
    config = Config(toml_file=PYPROJECT)
    if url is not None:
        config.attributes["url"] = url
    return config


def upgrade_to_head(url: str) -> None:
    """Apply every pending migration (`alembic upgrade head`).

    Args:
        url: the mapped database URL.
    """
    with _ONE_AT_A_TIME:
        command.upgrade(alembic_config(url), "head")


def downgrade(url: str, revision: str) -> None:
    """Step the schema back to `revision` (`"base"` removes it entirely).

    Args:
        url: the mapped database URL.
        revision: the target revision id, a relative step like `"-1"`, or `"base"`.
    """
    with _ONE_AT_A_TIME:
        command.downgrade(alembic_config(url), revision)


def current_revision(url: str) -> str | None:
    """The revision the database is at, or None if it has never been migrated.

    Args:
        url: the mapped database URL.

    Returns:
        The revision id, or None.
    """
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            return MigrationContext.configure(connection).get_current_revision()
    finally:
        engine.dispose()


def head_revision() -> str:
    """The newest revision in `migrations/versions/`.

    Returns:
        The head revision id.

    Raises:
        RuntimeError: if `migrations/versions/` holds no revision.
        alembic.util.CommandError: if the migrations have more than one head.
    """
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("migrations/versions/ has no revision")
    return head
