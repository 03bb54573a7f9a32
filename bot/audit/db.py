"""The database handle: one sync SQLAlchemy engine confined to one worker thread, async outside.

Choice (SPEC §2 "measure and say which"; STYLE §4 "audit", option (b)): for both SQLite and
PostgreSQL (`postgresql+psycopg`) the app uses a synchronous engine whose every transaction runs
on ONE dedicated thread (`ThreadPoolExecutor(max_workers=1)`, FIFO), awaited from the event loop
with `run_in_executor`. The loop never blocks on I/O; transactions run in arrival order, so a
burst queues fairly instead of starving; SQLite gets its single writer by construction (no
`database is locked` stalls between writers of one process); one code path serves both backends.

Measured on this 2-core machine (shared with other work, load average ~1.5-2, so ranges), with a
small script driving `AuditRepository.add` (one projection row + one chained event per
transaction) from 128 concurrent coroutines, 2,000 appends per run, `verify()` ok afterwards:

    backend                               appends/s   p50 / p99 latency    event-loop lag max
    SQLite, WAL, synchronous=FULL          290-580    0.2-0.4 / 0.3-0.8 s        <= 28 ms
    SQLite, WAL, synchronous=NORMAL        590-630    0.2 / 0.25 s               <= 15 ms
    PostgreSQL 15 on 127.0.0.1, psycopg 3  180-270    0.45-0.7 / 0.6-0.9 s       <= 20 ms

Latency at 128 in flight is FIFO queueing (128 / throughput); one append alone costs ~1.6 ms on
SQLite (~0.75 ms of it CPU in SQLAlchemy, the rest the commit's fsync) and 4-7 ms on PostgreSQL
(pre-ping, chain lock, head read, two inserts, commit: six round trips and an fsync). Building
statements once and executing them with parameter dicts doubled the first measurement (~240/s on
SQLite). The PostgreSQL chain cannot go faster with more threads: the advisory lock is held
until commit, so appends serialise through one commit each whatever the pool. SQLite keeps
`synchronous=FULL` (its default): an audit event the app acted on must survive a power cut, and
NORMAL buys less than 2x. An audit event is written per user interaction, far below these rates;
the lever left if a benchmark needs more is group commit (batching queued jobs into one
transaction).

Group commit: writes queued while the writer is busy are committed together, each in its own
savepoint, so one fsync serves the batch (at most 64). A job that fails rolls back to its
savepoint and fails alone; if the transaction fails, every job in it fails; no job's result is
released before its batch is durable, so the fail-closed rule (no API call before the audit
event is written) holds. Under the end-to-end benchmark (200 terminations at once, ~600 writes)
this turned 600 fsyncs into a few dozen.

Reads (the submit ack's one indexed read, `/healthz`, history) run on a second thread with its
own connection, so they never wait behind queued writes; WAL lets SQLite readers run beside the
single writer. Writes keep the one FIFO writer thread described above.

SQLite connections run in WAL mode with `busy_timeout` and foreign keys on; writes begin with
`BEGIN IMMEDIATE` so a transaction takes the write lock before it reads (the chain head, a claim),
which also makes a second process (the CLI) wait instead of forking the chain.

Transactions run on SQLAlchemy Core connections, not ORM sessions (the repository builds Core
statements only), with SQLite's BEGIN sent by `_transaction` instead of a "begin" event
listener. `/tmp`-style script, 2,000 sequential `start_unless_held` on SQLite: 920 → 750 µs of
process CPU per write; the bot's CPU per opened modal fell 8 % (A/B, 6 rounds at 80/s).

Cancellation: a cancelled `run()` that has not started is dropped; one already running on the
thread finishes (commits or rolls back) without anyone awaiting it.
"""

from __future__ import annotations

import asyncio
import functools
import queue
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, Final, Self, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import SQLAlchemyError

T = TypeVar("T")

SQLITE_BUSY_TIMEOUT_MS: Final = 5_000
PG_CONNECT_TIMEOUT_S: Final = 5
PING_TIMEOUT_S: Final = 5.0
MAX_BATCH: Final = 64
"""Most writes one group commit takes (bounds how long one transaction holds the lock)."""


class Database:
    """An open audit database: an engine on one worker thread behind an async API.

    Build with `Database.open(url)`; close with `await db.close()`.
    """

    def __init__(self, engine: Engine, reader: Engine | None = None) -> None:
        """Wrap engines built by `open()`; prefer `open()`.

        Args:
            engine: the configured engine all writes go through.
            reader: a second engine, with its own connection and thread, for reads; reads
                then never queue behind writes (WAL lets SQLite readers run beside the
                writer). Without it, reads share the writer's thread.
        """
        self._engine = engine
        self._reader = reader or engine
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-db")
        self._writes: queue.SimpleQueue[_Job] = queue.SimpleQueue()
        self._read_executor = (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="audit-db-read")
            if reader is not None
            else self._executor
        )
        self._closed = False

    @classmethod
    def open(cls, url: str, *, echo: bool = False) -> Self:
        """Create the engine for an already-mapped URL (no connection is made yet).

        Args:
            url: `sqlite+pysqlite:///…` or `postgresql+psycopg://…` (see `map_database_url`).
            echo: log every SQL statement (debugging only).

        Returns:
            The database handle.

        Raises:
            ValueError: for a backend other than SQLite or PostgreSQL.
        """
        backend = make_url(url).get_backend_name()
        if backend not in {"sqlite", "postgresql"}:
            raise ValueError(f"unsupported database backend {backend!r} (sqlite or postgresql)")
        return cls(_engine(url, backend, echo=echo), _engine(url, backend, echo=echo))

    @property
    def dialect(self) -> str:
        """The backend's name: `"sqlite"` or `"postgresql"`."""
        return self._engine.dialect.name

    def __repr__(self) -> str:
        url = self._engine.url.render_as_string(hide_password=True)
        return f"Database({self.dialect}, {url!r})"

    async def run(self, fn: Callable[[Connection], T]) -> T:
        """Run `fn(connection)` on the worker thread inside one read-write transaction.

        Commits when `fn` returns, rolls back when it raises.

        Args:
            fn: synchronous work; it must not touch the event loop.

        Returns:
            What `fn` returned.

        Raises:
            SQLAlchemyError: or anything else `fn` raised, after the rollback.
            RuntimeError: if the database is closed.
        """
        if self._closed:
            raise RuntimeError("the audit database is closed")
        future: Future[T] = Future()
        self._writes.put((fn, future))
        self._executor.submit(self._drain)
        return await asyncio.wrap_future(future)

    def _drain(self) -> None:
        """On the writer thread: commit every queued write together (group commit).

        Each queued job gets one drain call; the first takes all jobs queued by then, in FIFO
        order, and later calls find the queue empty. One commit (one fsync) then serves the
        whole batch, and no job's result is released before its batch is durable.
        """
        batch: list[_Job] = []
        while len(batch) < MAX_BATCH:
            try:
                batch.append(self._writes.get_nowait())
            except queue.Empty:
                break
        if batch:
            _transact_batch(self._engine, batch)

    async def read(self, fn: Callable[[Connection], T], *, snapshot: bool = False) -> T:
        """Like `run`, for work that only reads (on SQLite it takes no write lock).

        Args:
            fn: synchronous, read-only work.
            snapshot: every statement of `fn` must see one snapshot while others write
                (PostgreSQL: REPEATABLE READ; a SQLite transaction always reads one).

        Returns:
            What `fn` returned.

        Raises:
            SQLAlchemyError: or anything else `fn` raised.
            RuntimeError: if the database is closed.
        """
        if self._closed:
            raise RuntimeError("the audit database is closed")
        loop = asyncio.get_running_loop()
        work = functools.partial(_transact, self._reader, fn, write=False, snapshot=snapshot)
        return await loop.run_in_executor(self._read_executor, work)

    async def ping(self) -> bool:
        """Whether the database answers `SELECT 1` within a few seconds."""
        try:
            async with asyncio.timeout(PING_TIMEOUT_S):
                return await self.read(lambda s: s.execute(text("SELECT 1")).scalar_one() == 1)
        except (SQLAlchemyError, TimeoutError, RuntimeError):
            return False

    async def close(self) -> None:
        """Wait for queued work, release connections and stop the worker thread; idempotent."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        # Disposed on the worker: SQLite connections may only be closed by their own thread.
        await loop.run_in_executor(self._executor, self._engine.dispose)
        self._executor.shutdown(wait=True)
        if self._read_executor is not self._executor:
            await loop.run_in_executor(self._read_executor, self._reader.dispose)
            self._read_executor.shutdown(wait=True)


def _engine(url: str, backend: str, *, echo: bool) -> Engine:
    """One engine with one connection, configured for the backend."""
    if backend == "sqlite":
        engine = create_engine(url, echo=echo, pool_size=1, max_overflow=0)
        _configure_sqlite(engine)
    elif backend == "postgresql":
        engine = create_engine(
            url,
            echo=echo,
            pool_size=1,
            max_overflow=0,
            # A restarted server must not cost the next audit write; one round trip.
            pool_pre_ping=True,
            connect_args={
                "connect_timeout": PG_CONNECT_TIMEOUT_S,
                "application_name": "vs-terminate",
            },
        )
    return engine


@contextmanager
def _transaction(engine: Engine, *, write: bool, snapshot: bool = False) -> Iterator[Connection]:
    """A connection inside one transaction: committed on exit, rolled back on an exception.

    Core connections rather than ORM sessions, and SQLite's BEGIN sent here rather than from
    a "begin" event listener: any connection event makes SQLAlchemy dispatch four more events
    around every statement, and the two together were a fifth of an audit write's CPU.
    """
    with engine.connect() as conn:
        if snapshot and engine.dialect.name == "postgresql":
            conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            if engine.dialect.name == "sqlite":
                # pysqlite runs in autocommit mode (see `_configure_sqlite`): the transaction
                # starts here; IMMEDIATE takes the write lock before the first read.
                # Straight to the driver: a statement with no result needs none of
                # SQLAlchemy's execution machinery.
                conn.connection.driver_connection.execute(  # type: ignore[union-attr]
                    "BEGIN IMMEDIATE" if write else "BEGIN"
                )
            yield conn


def _transact(engine: Engine, fn: Callable[[Connection], T], *, write: bool, snapshot: bool) -> T:
    with _transaction(engine, write=write, snapshot=snapshot) as conn:
        return fn(conn)


_Job = tuple[Callable[[Connection], Any], "Future[Any]"]


def _transact_batch(engine: Engine, batch: list[_Job]) -> None:
    """Run jobs in one transaction, each in its own savepoint, and settle their futures.

    A job that raises is rolled back to its savepoint and gets its own exception; the others
    go on. If the transaction itself fails (the commit, a lost connection), every job gets
    that error: none of the batch was written.
    """
    live = [job for job in batch if job[1].set_running_or_notify_cancel()]
    if not live:
        return
    outcomes: list[tuple[bool, Any]] = []
    try:
        with _transaction(engine, write=True) as conn:
            if len(live) == 1:
                outcomes.append((True, live[0][0](conn)))
            else:
                for fn, _ in live:
                    try:
                        with conn.begin_nested():
                            outcomes.append((True, fn(conn)))
                    except Exception as exc:
                        outcomes.append((False, exc))
    except BaseException as exc:
        for _, future in live:
            future.set_exception(exc)
        if not isinstance(exc, Exception):
            raise
        return
    for (_, future), (ok, value) in zip(live, outcomes, strict=True):
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _configure_sqlite(engine: Engine) -> None:
    """Take over pysqlite's transaction handling and set the connection pragmas.

    `_transaction` sends the BEGIN; a pool event (unlike a connection event) costs nothing
    per statement.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own implicit BEGIN would defeat BEGIN IMMEDIATE; autocommit mode hands
        # transaction control to `_transaction`.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA foreign_keys=ON")
            # The audit trail is the record the app fails closed on: keep commits durable.
            cursor.execute("PRAGMA synchronous=FULL")
        finally:
            cursor.close()
