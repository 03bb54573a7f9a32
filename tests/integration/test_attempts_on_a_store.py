"""The attempt use cases on a real audit store (SQLite and PostgreSQL) and respx VectorShift.

The unit tests (tests/unit/attempts/) cover each use case on in-memory ports; these keep what
only a real database shows: answers of unknown effect recorded through real transactions, audit
write failures, reconciliation by heartbeat, the abandon sweep and racing submissions for one
run from two instances.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

import httpx
import pytest
import respx

from bot.attempts import confirm, execute, upkeep
from bot.attempts.confirm import AttemptRequest
from bot.attempts.context import AttemptContext
from bot.attempts.execute import FailureReason
from bot.attempts.lifecycle import Attempt, Outcome, Source, Submitted
from bot.audit.repository import AuditRepository
from bot.domain import ActionCommand, Actor, ActorFacts, PipelineRef, Where
from bot.errors import AuditWriteError
from bot.policy import parse_policy
from bot.vectorshift import VectorShiftClient

BASE = "https://vs.test/v1"
PIPELINE = "65f1c0ffee0123456789abcd"
ADMIN = "U0ADMIN0001"
ADMIN2 = "U0ADMIN0002"
POLICY = parse_policy(f'admins = ["{ADMIN}", "{ADMIN2}"]\n[aliases]\nnightly-etl = "{PIPELINE}"\n')


class StaticDirectory:
    """Directory port with fixed answers: everybody is a plain member of no group."""

    def upper_bound_facts(self, actor: Actor) -> ActorFacts:
        return ActorFacts()

    async def facts(self, actor: Actor) -> ActorFacts:
        return ActorFacts()

    async def user_name(self, user_id: str) -> str | None:
        return user_id.lower()


class FailingPending:
    """An audit port whose write of `pending` fails, as a full disk or lost database would."""

    def __init__(self, inner: AuditRepository) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)

    async def submit(self, attempt_id: str, change: Submitted, **kwargs: Any) -> Any:
        raise AuditWriteError("could not write")


@pytest.fixture
async def vs() -> AsyncIterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.get("/pipeline", params={"id": PIPELINE}, name="lookup").respond(
            200, json={"status": "success", "object": {"_id": PIPELINE, "name": "Nightly ETL"}}
        )
        yield router


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
async def make_context(
    repository: AuditRepository, clock: Any, sleeps: list[float]
) -> AsyncIterator[Callable[..., AttemptContext]]:
    http = httpx.AsyncClient()

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def make(audit: Any = None, instance_id: str = "instance-a") -> AttemptContext:
        return AttemptContext(
            vectorshift=VectorShiftClient(http, base_url=BASE, api_key="vs-key", sleep=fake_sleep),
            audit=audit or repository,
            directory=StaticDirectory(),
            policy=lambda: POLICY,
            base_url=BASE,
            instance_id=instance_id,
            clock=clock,
            sleep=fake_sleep,
            deadline_s=2.0,
        )

    yield make
    await http.aclose()


def request(run_id: str, user: str = ADMIN) -> AttemptRequest:
    return AttemptRequest(
        actor=Actor(user_id=user, team_id="T0TEAM"),
        where=Where(channel_id="C0INCIDENTS"),
        source=Source.SLASH_COMMAND,
        command=ActionCommand(PipelineRef("nightly-etl"), run_id, "runaway"),
        request_id="req-1",
    )


def status_route(vs: respx.MockRouter, run_id: str, *statuses: str) -> respx.Route:
    route = vs.get(f"/pipeline/{PIPELINE}/run/status/{run_id}", name=f"status-{run_id}")
    route.side_effect = [
        httpx.Response(200, json={"task_id": run_id, "status": s}) for s in statuses
    ]
    return route


async def prepared(ctx: AttemptContext, run_id: str, user: str = ADMIN) -> Attempt:
    prep = await confirm.prepare(ctx, request(run_id, user))
    assert prep.blocker is None
    return prep.attempt


async def test_read_timeout_reads_status_first_and_records_unconfirmed(
    make_context: Callable[..., AttemptContext], vs: respx.MockRouter
) -> None:
    ctx = make_context()
    # Read when the modal opens, again on submit, and once more after the timeout.
    status = status_route(vs, "run1", "running", "running", "running")
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").mock(
        side_effect=httpx.ReadTimeout("slow")
    )
    attempt = await prepared(ctx, "run1")

    execution = await execute.execute(ctx, attempt.id, attempt.nonce or "", "runaway")

    assert execution is not None
    assert terminate.call_count == 1
    assert status.call_count == 3
    assert execution.attempt.outcome is Outcome.UNCONFIRMED
    assert execution.failure is FailureReason.TIMEOUT
    assert execution.attempt.verified_status == "still running"


async def test_bad_gateway_then_stopped_run_counts_as_succeeded_without_a_second_post(
    make_context: Callable[..., AttemptContext], vs: respx.MockRouter
) -> None:
    ctx = make_context()
    status_route(vs, "run2", "running", "running", "cancelled")
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").respond(502, text="bad gateway")
    attempt = await prepared(ctx, "run2")

    execution = await execute.execute(ctx, attempt.id, attempt.nonce or "", "")

    assert execution is not None
    assert terminate.call_count == 1
    assert execution.attempt.outcome is Outcome.SUCCEEDED
    assert execution.attempt.verified_status == "stopped (cancelled)"
    assert execution.attempt.http_status == 502


async def test_run_still_active_after_verification_is_unconfirmed(
    make_context: Callable[..., AttemptContext], vs: respx.MockRouter, sleeps: list[float]
) -> None:
    ctx = make_context()
    status_route(vs, "run3", *["running"] * 7)
    vs.post(f"/pipeline/{PIPELINE}/terminate").respond(200, json={"status": "success"})
    attempt = await prepared(ctx, "run3")

    execution = await execute.execute(ctx, attempt.id, attempt.nonce or "", "")

    assert execution is not None
    assert execution.attempt.outcome is Outcome.UNCONFIRMED
    assert execution.failure is FailureReason.STILL_ACTIVE
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 15.0]


async def test_failed_pending_write_means_no_terminate_call(
    make_context: Callable[..., AttemptContext], vs: respx.MockRouter, repository: AuditRepository
) -> None:
    ctx = make_context(audit=FailingPending(repository))
    status_route(vs, "run4", "running", "running")
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").respond(200, json={"status": "success"})
    attempt = await prepared(ctx, "run4")

    with pytest.raises(AuditWriteError):
        await execute.execute(ctx, attempt.id, attempt.nonce or "", "")

    assert terminate.call_count == 0
    stored = await repository.get(attempt.id)
    assert stored is not None
    assert stored.outcome is Outcome.AWAITING_CONFIRMATION


async def test_replayed_execution_changes_nothing(
    make_context: Callable[..., AttemptContext], vs: respx.MockRouter
) -> None:
    ctx = make_context()
    status_route(vs, "run5", "running", "running", "cancelled")
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").respond(200, json={"status": "success"})
    attempt = await prepared(ctx, "run5")

    first = await execute.execute(ctx, attempt.id, attempt.nonce or "", "")
    replay = await execute.execute(ctx, attempt.id, attempt.nonce or "", "")
    closed_late = await upkeep.abandon(ctx, attempt.id, attempt.nonce)

    assert first is not None
    assert first.attempt.outcome is Outcome.SUCCEEDED
    assert replay is None
    assert closed_late is None
    assert terminate.call_count == 1


async def test_two_users_confirming_one_run_make_exactly_one_terminate_call(
    make_context: Callable[..., AttemptContext], vs: respx.MockRouter
) -> None:
    first_ctx, second_ctx = make_context(), make_context(instance_id="instance-b")
    vs.get(f"/pipeline/{PIPELINE}/run/status/run6").respond(
        200, json={"task_id": "run6", "status": "running"}
    )
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").respond(200, json={"status": "success"})
    one = await prepared(first_ctx, "run6")
    two = await prepared(second_ctx, "run6", user=ADMIN2)

    results = await asyncio.gather(
        execute.execute(first_ctx, one.id, one.nonce or "", "a"),
        execute.execute(second_ctx, two.id, two.nonce or "", "b"),
    )

    assert terminate.call_count == 1
    outcomes = sorted(r.attempt.outcome.value for r in results if r is not None)
    assert outcomes == ["duplicate", "unconfirmed"]


async def test_reconcile_settles_a_dead_instances_pending_attempt_once(
    make_context: Callable[..., AttemptContext],
    vs: respx.MockRouter,
    repository: AuditRepository,
    clock: Any,
) -> None:
    status_route(vs, "run7", "running", "cancelled")
    crashed_ctx = make_context(instance_id="crashed")
    await upkeep.heartbeat(crashed_ctx)
    attempt = await prepared(crashed_ctx, "run7")
    submitted = await repository.submit(
        attempt.id,
        Submitted(nonce=attempt.nonce or "", owner="crashed", reason="runaway"),
        base_url=BASE,
    )
    assert submitted is not None
    ctx = make_context()
    await upkeep.heartbeat(ctx)
    clock.advance(10)
    assert await upkeep.reconcile(ctx) == []  # its owner's heartbeat is fresh: not ours to touch
    clock.advance(6)  # 16 s without a heartbeat: past the 15 s lapse

    settled = await upkeep.reconcile(ctx)
    again = await upkeep.reconcile(ctx)

    assert [e.attempt.id for e in settled] == [attempt.id]
    assert settled[0].attempt.outcome is Outcome.SUCCEEDED
    assert settled[0].attempt.verified_status == "stopped (cancelled)"
    assert again == []


async def test_modals_left_open_for_30_minutes_are_abandoned(
    make_context: Callable[..., AttemptContext],
    repository: AuditRepository,
    make_attempt: Callable[..., Attempt],
    clock: Any,
) -> None:
    old = await repository.start(make_attempt())
    clock.advance(29 * 60)
    young = await repository.start(make_attempt())
    clock.advance(2 * 60)

    swept = await upkeep.sweep_abandoned(make_context())

    assert [a.id for a in swept] == [old.id]
    assert (await repository.get(young.id)) == replace(young)
    stored = await repository.get(old.id)
    assert stored is not None
    assert stored.outcome is Outcome.ABANDONED
