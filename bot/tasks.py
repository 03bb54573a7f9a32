"""TaskSupervisor: every post-ack background task and periodic job runs, fails and stops here.

Why not Bolt's lazy listeners or a bare `asyncio.create_task`: the event loop keeps only weak
references to tasks, so an unreferenced task can be garbage-collected mid-flight; lazy listeners
use such an `ensure_future`, drop tracebacks and bypass `app.error`. This is the only module
allowed to create tasks (tests/test_architecture.py enforces it). What it guarantees:

- `spawn()` keeps a strong reference until the task ends, and the task runs in a copy of the
  caller's context, so the request id `bot.logs` bound for the request is on every record it
  logs (a task spawned outside any request gets a fresh id, so its failure still has one).
- A task's exception is logged once, with traceback and request id, then handed to `on_error`
  together with what the spawner said the task is `about` (whom to tell); `on_error` tells the
  user and must not log the traceback again. This is the one error path of background work:
  nothing wraps a task in a second handler. `CancelledError` is never caught: a cancelled task
  ends cancelled.
- At most `limit` tasks run at once. When full, `spawn()` refuses, counts
  `shed_total{reason="queue_full"}` and returns None; the caller tells the user "busy, try again
  in a moment" while that is still true, instead of starting work that would finish too late
  (SPEC §8). After `drain()` starts, it refuses with reason `"shutting_down"`.
- `every()` runs periodic jobs (policy reload, membership refresh, abandon sweep,
  reconciliation, chain-head post): first run one interval after the call, each run under its
  own request id, an exception reported and the loop carried on.
- `wait_idle()` lets tests await the work a request started; `drain()` ends it all at shutdown.

`bot.metrics.Metrics` is imported for its type only; the supervisor calls the counters and
gauges on the instance it is given.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Coroutine
from typing import TYPE_CHECKING, Final

from bot import logs

if TYPE_CHECKING:
    from bot.metrics import Metrics

logger = logging.getLogger(__name__)

ErrorHook = Callable[[BaseException, str, object], Awaitable[None] | None]
"""Called with a failed task's exception, name and `about`, inside the task's context."""

DEFAULT_LIMIT: Final = 256
CANCEL_GRACE_S: Final = 5.0
"""How long `drain()` waits for cancelled tasks to unwind before giving up on them."""


class TaskSupervisor:
    """Runs post-ack work and periodic jobs with references kept, failures reported, a bound.

    Args:
        on_error: told about every task that raised; may be sync or async.
        limit: the most post-ack tasks that may run at once (periodic jobs do not count).
        metrics: where shed work and the running count are recorded, if anywhere.

    Raises:
        ValueError: if `limit` is below 1.
    """

    def __init__(
        self,
        *,
        on_error: ErrorHook | None = None,
        limit: int = DEFAULT_LIMIT,
        metrics: Metrics | None = None,
    ) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self._on_error = on_error
        self._limit = limit
        self._metrics = metrics
        self._tasks: set[asyncio.Task[None]] = set()
        self._periodic: set[asyncio.Task[None]] = set()
        self._closing = False
        if metrics is not None:
            metrics.background_queue_limit.set(limit)
            metrics.background_tasks.set(0)

    @property
    def running(self) -> int:
        """How many post-ack tasks are running now."""
        return len(self._tasks)

    @property
    def limit(self) -> int:
        """The most post-ack tasks that may run at once."""
        return self._limit

    def spawn(
        self, coro: Coroutine[object, object, object], *, name: str, about: object = None
    ) -> asyncio.Task[None] | None:
        """Run `coro` in the background, or refuse it when full or shutting down.

        Args:
            coro: the work; it is closed unstarted when refused.
            name: names the task in logs and in the `on_error` call.
            about: handed to `on_error` if the task fails (e.g. whom to tell, and how).

        Returns:
            The task, or None when refused (the caller tells the user to try again).
        """
        if self._closing or len(self._tasks) >= self._limit:
            coro.close()  # never started: close it so it warns of nothing and holds nothing
            reason = "shutting_down" if self._closing else "queue_full"
            if self._metrics is not None:
                self._metrics.shed_total.labels(reason=reason).inc()
            logger.warning("refused background task %s: %s", name, reason)
            return None
        # create_task copies the current context, so the caller's request id comes along.
        task = asyncio.create_task(self._guard(coro, name, about), name=name)
        self._tasks.add(task)
        task.add_done_callback(self._forget)
        self._count()
        return task

    def service(self, coro: Coroutine[object, object, object], *, name: str) -> asyncio.Task[None]:
        """Run a long-lived service (the Socket Mode connection) until `drain()` stops it.

        Unlike `spawn()`, a service is not post-ack work: it does not count against the limit,
        and `drain()` cancels it with the periodic jobs instead of waiting for it.

        Args:
            coro: the service; an exception is reported like a periodic job's.
            name: names it in logs and in `on_error` calls.

        Returns:
            The service's task.

        Raises:
            RuntimeError: if `drain()` has started.
        """
        if self._closing:
            coro.close()
            raise RuntimeError(f"cannot start {name}: the supervisor is shutting down")
        task = asyncio.create_task(self._guard(coro, name, None), name=name)
        self._periodic.add(task)
        task.add_done_callback(self._periodic.discard)
        return task

    def every(
        self,
        interval_s: float,
        fn: Callable[[], Awaitable[object]],
        *,
        name: str,
        timeout_s: float | None = None,
    ) -> asyncio.Task[None]:
        """Call `fn` every `interval_s` seconds until `drain()`; the first call after one interval.

        Args:
            interval_s: seconds between the end of one run and the start of the next.
            fn: the job; an exception is reported and the next run still happens.
            name: names the job in logs and in `on_error` calls.
            timeout_s: cancels a run that takes longer (reported as a `TimeoutError`).

        Returns:
            The loop's task (cancelled by `drain()`).

        Raises:
            ValueError: if `interval_s` is not positive.
            RuntimeError: if `drain()` has started.
        """
        if interval_s <= 0:
            raise ValueError("interval_s must be positive")
        if self._closing:
            raise RuntimeError(f"cannot schedule {name}: the supervisor is shutting down")
        task = asyncio.create_task(self._repeat(interval_s, fn, name, timeout_s), name=name)
        self._periodic.add(task)
        task.add_done_callback(self._periodic.discard)
        return task

    async def wait_idle(self, timeout_s: float = 10) -> None:
        """Wait until no post-ack task is running, including tasks spawned while waiting.

        Never call it from inside a spawned task: it would wait for itself.

        Args:
            timeout_s: the longest to wait.

        Raises:
            TimeoutError: if tasks are still running after `timeout_s`.
        """
        async with asyncio.timeout(timeout_s):
            while self._tasks:
                await asyncio.wait(set(self._tasks))

    async def drain(self, timeout_s: float) -> int:
        """Shut down: refuse new work, stop periodic jobs, let running tasks end, cancel the rest.

        Args:
            timeout_s: how long running tasks may take to finish before they are cancelled.

        Returns:
            How many tasks had to be cancelled.
        """
        self._closing = True
        for job in self._periodic:
            job.cancel()
        if self._periodic:
            await asyncio.wait(set(self._periodic), timeout=CANCEL_GRACE_S)
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout_s)
        leftovers = set(self._tasks)
        for task in leftovers:
            task.cancel()
        if leftovers:
            logger.warning(
                "cancelled %d background task(s) still running after %s s: %s",
                len(leftovers),
                timeout_s,
                ", ".join(sorted(t.get_name() for t in leftovers)),
            )
            await asyncio.wait(leftovers, timeout=CANCEL_GRACE_S)
        return len(leftovers)

    async def _guard(
        self, coro: Coroutine[object, object, object], name: str, about: object
    ) -> None:
        # This runs inside the task's own copy of the context: binding here cannot leak back
        # into the spawner.
        if logs.current_request_id() is None:
            logs.set_context(request_id=logs.new_request_id())
        try:
            await coro
        except Exception as exc:
            await self._report(exc, name, about)

    async def _repeat(
        self,
        interval_s: float,
        fn: Callable[[], Awaitable[object]],
        name: str,
        timeout_s: float | None,
    ) -> None:
        while True:
            await asyncio.sleep(interval_s)
            with logs.bind(request_id=logs.new_request_id()):
                try:
                    async with asyncio.timeout(timeout_s):
                        await fn()
                except Exception as exc:
                    await self._report(exc, name, None)

    async def _report(self, exc: Exception, name: str, about: object) -> None:
        # The request id is on the record through the log context (bot.logs).
        logger.error("background task %s failed", name, exc_info=exc)
        if self._on_error is None:
            return
        try:
            result = self._on_error(exc, name, about)
            if inspect.isawaitable(result):
                await result
        except Exception:
            # The hook's own failure is a second, separate problem: log it, do not loop.
            logger.exception("error hook failed while reporting background task %s", name)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._count()

    def _count(self) -> None:
        if self._metrics is not None:
            self._metrics.background_tasks.set(len(self._tasks))
