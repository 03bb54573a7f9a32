"""Fixtures every test level shares: Alembic-migrated SQLite and PostgreSQL databases.

Each session migrates ONE template per backend with the real migrations (`upgrade_to_head`):
SQLite, a file copied into each test's `tmp_path`; PostgreSQL (127.0.0.1:5432, user `postgres`),
`vs_tmpl_<pid>`, cloned per test with `CREATE DATABASE … TEMPLATE …` and dropped after it
(`PostgresClones` clones ahead and drops behind on background threads). A missing PostgreSQL
fails the tests rather than skipping them; never `create_all`.

    sqlite_url, postgresql_url   a fresh migrated database of that backend (mapped URL)
    database_url                 parametrised over both backends
    sqlite_empty_url, postgresql_empty_url, empty_database_url
                                 the same, never migrated (for migration tests)

Suite-wide guard: no test passes if a `FakeSlack` was sent a payload Slack would refuse.

`FakeSlack` checks every view and message it receives against `devkit.slack_limits` and
records what breaks Slack's Block Kit limits. After each test, `slack_payloads_within_limits`
takes everything recorded and not yet taken, from every fake (function- and module-scoped
alike), and fails the test with the list. A test that sends an invalid payload on purpose takes
the violations it expects with `FakeSlack.take_limit_violations()`.

The check runs at teardown, so it also sees what the bot sent while fixtures shut it down; a
violation shows up as an error in the test's teardown, naming the method and the JSON pointer.
"""

from __future__ import annotations

import os
import shutil
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from psycopg import sql

from bot.audit.migrate import upgrade_to_head
from devkit.fakes.slack_api import drain_limit_violations

PG_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
BACKENDS = ("sqlite", "postgresql")


def postgresql_url_for(name: str) -> str:
    return f"postgresql+psycopg://postgres@127.0.0.1:5432/{name}"


@contextmanager
def pg_admin() -> Iterator[psycopg.Connection[Any]]:
    with psycopg.connect(PG_ADMIN_DSN, autocommit=True, connect_timeout=5) as conn:
        yield conn


def create_pg_database(name: str, template: str | None = None) -> None:
    statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
    if template is not None:
        statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(template)
        )
    with pg_admin() as conn:
        conn.execute(statement)


def drop_pg_database(name: str) -> None:
    with pg_admin() as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("audit-template") / "template.db"
    upgrade_to_head(f"sqlite+pysqlite:///{path}")
    return path


class PostgresClones:
    """Hands out fresh clones of the migrated template database, one per test.

    `CREATE DATABASE … TEMPLATE` costs ~0.4 s here (mostly fsync), so clones are made a couple
    ahead and dropped behind on two background threads; a test waits only when it outruns them.
    """

    AHEAD = 4

    def __init__(self, template: str) -> None:
        self._template = template
        self._workers = ThreadPoolExecutor(max_workers=4, thread_name_prefix="pg-clones")
        self._ready: deque[Future[str]] = deque()
        self._drops: list[Future[None]] = []

    def _clone(self) -> str:
        name = f"vs_test_{uuid4().hex}"
        create_pg_database(name, template=self._template)
        return name

    def take(self) -> str:
        while len(self._ready) <= self.AHEAD:
            self._ready.append(self._workers.submit(self._clone))
        return self._ready.popleft().result()

    def give_back(self, name: str) -> None:
        self._drops.append(self._workers.submit(drop_pg_database, name))

    def close(self) -> None:
        for future in self._ready:
            with suppress(Exception):
                drop_pg_database(future.result())
        for future in self._drops:
            future.result()
        self._workers.shutdown()


@pytest.fixture(scope="session")
def postgresql_template() -> Iterator[str]:
    name = f"vs_tmpl_{os.getpid()}"
    drop_pg_database(name)
    create_pg_database(name)
    try:
        upgrade_to_head(postgresql_url_for(name))
        yield name
    finally:
        drop_pg_database(name)


@pytest.fixture(scope="session")
def postgresql_clones(postgresql_template: str) -> Iterator[PostgresClones]:
    clones = PostgresClones(postgresql_template)
    try:
        yield clones
    finally:
        clones.close()


@pytest.fixture
def sqlite_url(sqlite_template: Path, tmp_path: Path) -> str:
    target = tmp_path / "audit.db"
    shutil.copyfile(sqlite_template, target)
    return f"sqlite+pysqlite:///{target}"


@pytest.fixture
def postgresql_url(postgresql_clones: PostgresClones) -> Iterator[str]:
    name = postgresql_clones.take()
    try:
        yield postgresql_url_for(name)
    finally:
        postgresql_clones.give_back(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def sqlite_empty_url(tmp_path: Path) -> str:
    return f"sqlite+pysqlite:///{tmp_path / 'empty.db'}"


@pytest.fixture
def postgresql_empty_url() -> Iterator[str]:
    name = f"vs_test_{uuid4().hex}"
    create_pg_database(name)
    try:
        yield postgresql_url_for(name)
    finally:
        drop_pg_database(name)


@pytest.fixture(params=BACKENDS)
def empty_database_url(request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue(f"{request.param}_empty_url"))


@pytest.fixture(autouse=True)
def slack_payloads_within_limits() -> Iterator[None]:
    """Fails the test if any FakeSlack recorded a Block Kit limit violation during it."""
    yield
    violations = drain_limit_violations()
    if violations:
        lines = "\n".join(f"  {method}: {problem}" for method, problem in violations)
        pytest.fail(f"Slack would refuse what the bot sent:\n{lines}", pytrace=False)
