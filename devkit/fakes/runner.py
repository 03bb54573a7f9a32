"""Running the local fakes: loopback aiohttp servers in a thread or a loop, and call journals.

A fake is an aiohttp application. Sync callers (plain pytest tests, the sync benchmark driver)
run it with `FakeServer`, which owns a background thread and its own event loop; async callers
run it in their own loop with `serve_in_loop`. Either way it listens on 127.0.0.1 only: the
fakes stand in for Slack and VectorShift on this machine and must never be reachable from
elsewhere.

`Journal` is the thread-safe record of what a fake was asked. The server thread appends; the
test thread (blocking `wait`) or a test coroutine on any loop (`async_wait`) waits for a match.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
from collections.abc import AsyncIterator, Callable
from types import TracebackType
from typing import Generic, Self, TypeVar

from aiohttp import web

__all__ = ["LOOPBACK", "FakeApp", "FakeServer", "Journal", "serve_in_loop"]

LOOPBACK = "127.0.0.1"
"""The only address a fake binds to."""

SHUTDOWN_TIMEOUT_S = 0.5
"""How long `stop()` lets in-flight requests finish; a scripted hang must not stall teardown."""

START_TIMEOUT_S = 10.0

T = TypeVar("T")

AppSource = web.Application | Callable[[], web.Application]
"""An application, or a factory for one (aiohttp binds an application to the first loop it runs
in, so a fake that is started more than once passes a factory)."""


def _build(app: AppSource) -> web.Application:
    return app if isinstance(app, web.Application) else app()


async def _start_runner(app: web.Application, port: int) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT_S)
    await runner.setup()
    site = web.TCPSite(runner, LOOPBACK, port)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound_port = runner.addresses[0][1]
    return runner, f"http://{LOOPBACK}:{bound_port}"


class FakeServer:
    """Serves an aiohttp application on 127.0.0.1 from a background thread with its own loop.

    Use it as a context manager (`with FakeServer(app) as base_url:`) or call `start()` and
    `stop()`. Handlers run on the server's loop, never on the caller's, so a sync test may block
    while the server answers.

    Args:
        app: The application, or a factory that builds a fresh one per start.
        port: TCP port; 0 (the default) picks a free ephemeral port.
    """

    def __init__(self, app: AppSource, *, port: int = 0) -> None:
        self._app = app
        self._port = port
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._base_url: str | None = None

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` while running.

        Raises:
            RuntimeError: The server is not running.
        """
        if self._base_url is None:
            raise RuntimeError("the fake server is not running; call start() first")
        return self._base_url

    @property
    def running(self) -> bool:
        """True between a successful `start()` and `stop()`."""
        return self._base_url is not None

    def start(self) -> str:
        """Starts the server thread and waits until the socket listens.

        Returns:
            The base URL, `http://127.0.0.1:<port>`.

        Raises:
            RuntimeError: Already running, or the server did not come up in time.
            OSError: The port could not be bound.
        """
        if self._thread is not None:
            raise RuntimeError("the fake server is already running")
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def serve() -> None:
            asyncio.set_event_loop(loop)
            try:
                self._runner, self._base_url = loop.run_until_complete(
                    _start_runner(_build(self._app), self._port)
                )
            except BaseException as exc:  # handed to the starting thread, which re-raises it
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.close()

        thread = threading.Thread(target=serve, name="fake-server", daemon=True)
        self._loop, self._thread = loop, thread
        thread.start()
        if not ready.wait(START_TIMEOUT_S):
            raise RuntimeError("the fake server did not start in time")
        if failure:
            thread.join()
            self._loop = self._thread = None
            raise failure[0]
        return self.base_url

    def stop(self) -> None:
        """Stops serving, cancels requests still running after a short grace, joins the thread.

        Calling it when not running does nothing.
        """
        loop, thread, runner = self._loop, self._thread, self._runner
        if loop is None or thread is None:
            return
        if runner is not None:
            cleanup = asyncio.run_coroutine_threadsafe(runner.cleanup(), loop)
            with contextlib.suppress(Exception):
                cleanup.result(timeout=START_TIMEOUT_S)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=START_TIMEOUT_S)
        self._loop = self._thread = self._runner = None
        self._base_url = None

    def __enter__(self) -> str:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


@contextlib.asynccontextmanager
async def serve_in_loop(app: AppSource, *, port: int = 0) -> AsyncIterator[str]:
    """Serves an aiohttp application on 127.0.0.1 in the running event loop.

    Args:
        app: The application, or a factory that builds one.
        port: TCP port; 0 picks a free ephemeral port.

    Yields:
        The base URL, `http://127.0.0.1:<port>`.
    """
    runner, base_url = await _start_runner(_build(app), port)
    try:
        yield base_url
    finally:
        await runner.cleanup()


class FakeApp:
    """Base of the fakes: builds its aiohttp application and runs it either way.

    Subclasses implement `make_app()`; state lives on the fake, so it survives restarts and is
    shared by the thread and loop flavours.
    """

    def __init__(self) -> None:
        self._server: FakeServer | None = None
        self._served_url: str | None = None

    def make_app(self) -> web.Application:
        """Builds a fresh aiohttp application serving this fake.

        Returns:
            The application.
        """
        raise NotImplementedError

    @property
    def root_url(self) -> str:
        """`http://127.0.0.1:<port>` of the running fake.

        Raises:
            RuntimeError: The fake is not running.
        """
        if self._served_url is None:
            raise RuntimeError(f"{type(self).__name__} is not running; start() or serve() it")
        return self._served_url

    def start(self, *, port: int = 0) -> str:
        """Runs the fake in a background thread (for sync callers).

        Args:
            port: TCP port; 0 picks a free ephemeral port.

        Returns:
            The root URL.
        """
        server = FakeServer(self.make_app, port=port)
        self._served_url = server.start()
        self._server = server
        return self._served_url

    def stop(self) -> None:
        """Stops a fake started with `start()`; does nothing otherwise."""
        if self._server is not None:
            self._server.stop()
            self._server = None
            self._served_url = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @contextlib.asynccontextmanager
    async def serve(self, *, port: int = 0) -> AsyncIterator[Self]:
        """Runs the fake in the current event loop (for async callers).

        Args:
            port: TCP port; 0 picks a free ephemeral port.

        Yields:
            The fake itself, now running.

        Raises:
            RuntimeError: The fake is already running.
        """
        if self._served_url is not None:
            raise RuntimeError(f"{type(self).__name__} is already running")
        async with serve_in_loop(self.make_app, port=port) as url:
            self._served_url = url
            try:
                yield self
            finally:
                self._served_url = None


class Journal(Generic[T]):
    """A thread-safe, append-only record with blocking and async waiting.

    Waiting returns entries already recorded as well as later ones, so a test may wait after the
    fact without racing the server.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._items: list[T] = []
        self._waiters: list[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = []

    def append(self, item: T) -> None:
        """Records an entry and wakes every waiter, on whichever thread or loop it waits."""
        with self._lock:
            self._items.append(item)
            self._changed.notify_all()
            waiters = list(self._waiters)
        for loop, event in waiters:
            # The waiter's loop may have closed after a cancelled wait; nothing is waiting then.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(event.set)

    def snapshot(self, predicate: Callable[[T], bool] | None = None) -> list[T]:
        """Returns a copy of the entries, optionally only those matching `predicate`."""
        with self._lock:
            items = list(self._items)
        return items if predicate is None else [item for item in items if predicate(item)]

    def clear(self) -> None:
        """Forgets every entry."""
        with self._lock:
            self._items.clear()

    def _nth(self, predicate: Callable[[T], bool], count: int) -> T | None:
        matches = [item for item in self._items if predicate(item)]
        return matches[count - 1] if len(matches) >= count else None

    def wait(self, predicate: Callable[[T], bool], *, timeout: float, count: int = 1) -> T:
        """Blocks until `count` entries match, then returns the `count`-th.

        Do not call this on the loop that serves the fake; use `async_wait` there.

        Args:
            predicate: Which entries count.
            timeout: Seconds to wait at most.
            count: How many matches to wait for (1 = the first).

        Returns:
            The `count`-th matching entry, in recording order.

        Raises:
            TimeoutError: Fewer than `count` entries matched within `timeout`.
        """
        deadline = time.monotonic() + timeout
        with self._lock:
            while (found := self._nth(predicate, count)) is None:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise TimeoutError(f"no match within {timeout} s")
                self._changed.wait(remaining)
            return found

    async def async_wait(
        self,
        predicate: Callable[[T], bool],
        *,
        timeout: float,  # noqa: ASYNC109 - waits on another thread's appends, not on one call
        count: int = 1,
    ) -> T:
        """Waits without blocking the loop until `count` entries match; returns the `count`-th.

        Works whether the fake runs in this loop or in a `FakeServer` thread.

        Args:
            predicate: Which entries count.
            timeout: Seconds to wait at most.
            count: How many matches to wait for (1 = the first).

        Returns:
            The `count`-th matching entry, in recording order.

        Raises:
            TimeoutError: Fewer than `count` entries matched within `timeout`.
        """
        event = asyncio.Event()
        waiter = (asyncio.get_running_loop(), event)
        with self._lock:
            self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                while True:
                    with self._lock:
                        found = self._nth(predicate, count)
                        event.clear()
                    if found is not None:
                        return found
                    await event.wait()
        except TimeoutError:
            raise TimeoutError(f"no match within {timeout} s") from None
        finally:
            with self._lock:
                self._waiters.remove(waiter)
