"""bot.tasks.TaskSupervisor: references, failure reports, cancellation, the bound, periodic jobs."""

from __future__ import annotations

import asyncio
import gc
import inspect
import io
import logging
import re
import weakref
from collections.abc import AsyncIterator, Callable

import pytest

from bot import logs
from bot.metrics import Metrics
from bot.tasks import ErrorHook, TaskSupervisor


class Errors:
    """An on_error hook that records what it was told, and the request id it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, str, str, str | None]] = []
        self.about: list[object] = []

    def __call__(self, exc: BaseException, name: str, about: object) -> None:
        self.seen.append((type(exc).__name__, str(exc), name, logs.current_request_id()))
        self.about.append(about)


Make = Callable[..., TaskSupervisor]


@pytest.fixture
async def make() -> AsyncIterator[Make]:
    made: list[TaskSupervisor] = []

    def build(
        *, on_error: ErrorHook | None = None, limit: int = 256, metrics: Metrics | None = None
    ) -> TaskSupervisor:
        supervisor = TaskSupervisor(on_error=on_error, limit=limit, metrics=metrics)
        made.append(supervisor)
        return supervisor

    yield build
    for supervisor in made:
        await supervisor.drain(0.01)  # tests that leave work stuck do not wait for it


def shed(metrics: Metrics, reason: str) -> float:
    return metrics.registry.get_sample_value("vs_terminate_shed_total", {"reason": reason}) or 0.0


def gauge(metrics: Metrics, name: str) -> float | None:
    return metrics.registry.get_sample_value(f"vs_terminate_{name}")


async def test_a_spawned_task_is_kept_alive_while_nobody_else_references_it(make: Make) -> None:
    supervisor = make()
    gate, done = asyncio.Event(), []

    async def work() -> None:
        await gate.wait()
        done.append("finished")

    task = supervisor.spawn(work(), name="work")
    assert task is not None
    ref = weakref.ref(task)
    del task
    gc.collect()

    assert ref() is not None
    assert supervisor.running == 1
    gate.set()
    await supervisor.wait_idle(1)
    assert done == ["finished"]
    assert supervisor.running == 0


async def test_a_failure_is_reported_once_with_the_task_name_and_the_spawners_request_id(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    errors = Errors()
    supervisor = make(on_error=errors)

    async def broken() -> None:
        raise ValueError("boom")

    with logs.bind(request_id="abcdef012345"):
        supervisor.spawn(broken(), name="announce")
    await supervisor.wait_idle(1)

    assert errors.seen == [("ValueError", "boom", "announce", "abcdef012345")]
    failures = [r for r in caplog.records if r.name == "bot.tasks"]
    assert [(r.levelname, r.getMessage()) for r in failures] == [
        ("ERROR", "background task announce failed")
    ]
    assert failures[0].exc_info is not None
    assert failures[0].exc_info[0] is ValueError


async def test_the_failure_log_line_carries_the_request_id_and_the_traceback(make: Make) -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    levels = {name: logging.getLogger(name).level for name in ("", *logs.THIRD_PARTY_LOGGERS)}
    logs.configure_logging("INFO", "text", [], stream=stream)
    try:
        supervisor = make()

        async def broken() -> None:
            raise ValueError("boom")

        with logs.bind(request_id="abcdef012345"):
            supervisor.spawn(broken(), name="announce")
        await supervisor.wait_idle(1)
    finally:
        for handler in [h for h in root.handlers if h.get_name() == "vs-terminate"]:
            root.removeHandler(handler)
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)

    first, *traceback = stream.getvalue().splitlines()
    assert first.endswith(" ERROR bot.tasks [abcdef012345] background task announce failed")
    assert traceback[0] == "Traceback (most recent call last):"
    assert traceback[-1] == "ValueError: boom"


async def test_an_async_error_hook_is_awaited(make: Make) -> None:
    told: list[str] = []

    async def on_error(exc: BaseException, name: str, about: object) -> None:
        await asyncio.sleep(0)
        told.append(f"{name}: {exc}")

    supervisor = make(on_error=on_error)

    async def broken() -> None:
        raise RuntimeError("no route")

    supervisor.spawn(broken(), name="deliver")
    await supervisor.wait_idle(1)

    assert told == ["deliver: no route"]


async def test_a_task_spawned_outside_a_request_gets_its_own_request_id(make: Make) -> None:
    errors = Errors()
    supervisor = make(on_error=errors)

    async def broken() -> None:
        raise KeyError("x")

    supervisor.spawn(broken(), name="sweep")
    await supervisor.wait_idle(1)

    [(_, _, _, request_id)] = errors.seen
    assert request_id is not None
    assert re.fullmatch(r"[0-9a-f]{12}", request_id)
    assert logs.current_request_id() is None  # the id stayed inside the task


async def test_cancelling_a_task_propagates_and_is_not_reported_as_a_failure(make: Make) -> None:
    errors = Errors()
    supervisor = make(on_error=errors)
    started = asyncio.Event()

    async def forever() -> None:
        started.set()
        await asyncio.Event().wait()

    task = supervisor.spawn(forever(), name="forever")
    assert task is not None
    await started.wait()
    task.cancel()

    with pytest.raises(asyncio.CancelledError):
        await task
    assert task.cancelled()
    assert errors.seen == []
    assert supervisor.running == 0


async def test_a_failing_error_hook_is_logged_and_does_not_escape(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    def on_error(exc: BaseException, name: str, about: object) -> None:
        raise OSError("slack unreachable")

    supervisor = make(on_error=on_error)

    async def broken() -> None:
        raise ValueError("boom")

    task = supervisor.spawn(broken(), name="flow")
    await supervisor.wait_idle(1)

    assert task is not None
    assert task.exception() is None
    assert [r.getMessage() for r in caplog.records if r.name == "bot.tasks"] == [
        "background task flow failed",
        "error hook failed while reporting background task flow",
    ]


async def test_a_full_supervisor_sheds_new_work_and_counts_it(make: Make) -> None:
    metrics = Metrics()
    supervisor = make(limit=2, metrics=metrics)
    gate = asyncio.Event()
    assert gauge(metrics, "background_queue_limit") == 2

    async def blocked() -> None:
        await gate.wait()

    assert supervisor.spawn(blocked(), name="one") is not None
    assert supervisor.spawn(blocked(), name="two") is not None
    refused = blocked()
    assert supervisor.spawn(refused, name="three") is None

    assert inspect.getcoroutinestate(refused) == inspect.CORO_CLOSED
    assert supervisor.running == 2
    assert gauge(metrics, "background_tasks") == 2
    assert shed(metrics, "queue_full") == 1

    gate.set()
    await supervisor.wait_idle(1)
    assert gauge(metrics, "background_tasks") == 0
    assert supervisor.spawn(blocked(), name="four") is not None
    await supervisor.wait_idle(1)
    assert shed(metrics, "queue_full") == 1


async def test_a_periodic_job_keeps_running_after_an_error(make: Make) -> None:
    errors = Errors()
    supervisor = make(on_error=errors)
    calls: list[int] = []
    third = asyncio.Event()

    async def job() -> None:
        calls.append(len(calls) + 1)
        if len(calls) == 1:
            raise RuntimeError("policy file half-written")
        if len(calls) == 3:
            third.set()

    supervisor.every(0.001, job, name="policy-reload")
    async with asyncio.timeout(2):
        await third.wait()

    assert calls[:3] == [1, 2, 3]
    [(kind, message, name, request_id)] = errors.seen
    assert (kind, message, name) == ("RuntimeError", "policy file half-written", "policy-reload")
    assert request_id is not None


async def test_a_periodic_run_that_overruns_its_timeout_is_reported(make: Make) -> None:
    errors = Errors()
    reported = asyncio.Event()

    async def hang() -> None:
        await asyncio.Event().wait()

    def on_error(exc: BaseException, name: str, about: object) -> None:
        errors(exc, name, about)
        reported.set()

    supervisor = make(on_error=on_error)
    supervisor.every(0.001, hang, name="membership-refresh", timeout_s=0.01)
    async with asyncio.timeout(2):
        await reported.wait()

    assert errors.seen[0][0] == "TimeoutError"
    assert errors.seen[0][2] == "membership-refresh"


async def test_a_periodic_job_first_runs_one_interval_after_it_is_scheduled(make: Make) -> None:
    supervisor = make()
    calls: list[str] = []

    async def job() -> None:
        calls.append("ran")

    supervisor.every(3600, job, name="chain-head")
    for _ in range(5):
        await asyncio.sleep(0)  # let the loop run the job's task as far as it goes

    assert calls == []


async def test_wait_idle_also_waits_for_tasks_spawned_while_waiting(make: Make) -> None:
    supervisor = make()
    order: list[str] = []

    async def second() -> None:
        for _ in range(3):
            await asyncio.sleep(0)
        order.append("second")

    async def first() -> None:
        await asyncio.sleep(0)
        supervisor.spawn(second(), name="second")
        order.append("first")

    supervisor.spawn(first(), name="first")
    await supervisor.wait_idle(1)

    assert order == ["first", "second"]
    assert supervisor.running == 0


async def test_wait_idle_raises_when_work_outlasts_the_timeout(make: Make) -> None:
    supervisor = make()
    supervisor.spawn(asyncio.Event().wait(), name="stuck")

    with pytest.raises(TimeoutError):
        await supervisor.wait_idle(0.01)
    assert supervisor.running == 1


async def test_drain_stops_jobs_lets_quick_work_finish_and_cancels_the_rest(
    make: Make, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = Metrics()
    supervisor = make(metrics=metrics)
    outcome: list[str] = []
    stuck_started = asyncio.Event()

    async def quick() -> None:
        await asyncio.sleep(0)
        outcome.append("quick finished")

    async def stuck() -> None:
        stuck_started.set()
        try:
            await asyncio.Event().wait()
        except asyncio.CancelledError:
            outcome.append("stuck cancelled")
            raise

    async def job() -> None:
        outcome.append("job ran")

    periodic = supervisor.every(3600, job, name="sweep")
    supervisor.spawn(quick(), name="quick")
    supervisor.spawn(stuck(), name="stuck")
    await stuck_started.wait()

    cancelled = await supervisor.drain(0.05)

    assert cancelled == 1
    assert sorted(outcome) == ["quick finished", "stuck cancelled"]
    assert periodic.cancelled()
    assert supervisor.running == 0
    assert "cancelled 1 background task(s) still running after 0.05 s: stuck" in caplog.messages

    late = job()
    assert supervisor.spawn(late, name="late") is None
    assert inspect.getcoroutinestate(late) == inspect.CORO_CLOSED
    assert shed(metrics, "shutting_down") == 1
    with pytest.raises(RuntimeError, match="cannot schedule sweep: the supervisor is shutting"):
        supervisor.every(60, job, name="sweep")


def test_nonsense_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="limit must be at least 1"):
        TaskSupervisor(limit=0)


async def test_a_non_positive_interval_is_refused(make: Make) -> None:
    async def job() -> None:
        return None

    with pytest.raises(ValueError, match="interval_s must be positive"):
        make().every(0, job, name="x")


async def test_the_error_hook_is_told_what_the_failed_task_was_about(make: Make) -> None:
    told: list[object] = []
    both = asyncio.Event()

    def on_error(exc: BaseException, name: str, about: object) -> None:
        told.append(about)
        if len(told) == 2:
            both.set()

    supervisor = make(on_error=on_error)
    whom = object()

    async def broken() -> None:
        raise ValueError("boom")

    supervisor.spawn(broken(), name="flow", about=whom)
    await supervisor.wait_idle(1)
    supervisor.every(0.01, broken, name="job")
    await asyncio.wait_for(both.wait(), 1)

    assert told[:2] == [whom, None]  # a periodic job is about nobody
