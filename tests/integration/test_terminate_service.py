"""The termination use case on a real audit store (SQLite and PostgreSQL) and respx VectorShift.

These cover what the end-to-end tests cannot reach quickly: answers of unknown effect, runs that
keep running, audit write failures, reconciliation after a crash, the abandon sweep and racing
submissions for one run.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

import httpx
import pytest
import respx

from bot.audit.repository import AuditRepository
from bot.domain import (
    Actor,
    ActorFacts,
    Attempt,
    Outcome,
    PipelineRef,
    Source,
    TerminateCommand,
    Where,
)
from bot.errors import AuditWriteError
from bot.policy import parse_policy
from bot.terminate import FailureReason, TerminateRequest, TerminateService
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

    async def start_termination(self, attempt_id: str, **kwargs: Any) -> Any:
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
async def make_service(
    repository: AuditRepository, clock: Any, sleeps: list[float]
) -> AsyncIterator[Callable[..., TerminateService]]:
    http = httpx.AsyncClient()

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    def make(audit: Any = None, instance_id: str = "instance-a") -> TerminateService:
        return TerminateService(
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


def request(run_id: str, user: str = ADMIN) -> TerminateRequest:
    return TerminateRequest(
        actor=Actor(user_id=user, team_id="T0TEAM"),
        where=Where(channel_id="C0INCIDENTS"),
        source=Source.SLASH_COMMAND,
        command=TerminateCommand(PipelineRef("nightly-etl"), run_id, "runaway"),
        request_id="req-1",
    )


def status_route(vs: respx.MockRouter, run_id: str, *statuses: str) -> respx.Route:
    route = vs.get(f"/pipeline/{PIPELINE}/run/status/{run_id}", name=f"status-{run_id}")
    route.side_effect = [
        httpx.Response(200, json={"task_id": run_id, "status": s}) for s in statuses
    ]
    return route


async def prepared(service: TerminateService, run_id: str, user: str = ADMIN) -> Attempt:
    prep = await service.prepare(request(run_id, user))
    assert prep.blocker is None
    return prep.attempt


async def test_read_timeout_reads_status_first_and_records_unconfirmed(
    make_service: Callable[..., TerminateService], vs: respx.MockRouter
) -> None:
    service = make_service()
    # Read when the modal opens, again on submit, and once more after the timeout.
    status = status_route(vs, "run1", "running", "running", "running")
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").mock(
        side_effect=httpx.ReadTimeout("slow")
    )
    attempt = await prepared(service, "run1")

    execution = await service.execute(attempt.id, attempt.nonce or "", "runaway")

    assert execution is not None
    assert terminate.call_count == 1
    assert status.call_count == 3
    assert execution.attempt.outcome is Outcome.UNCONFIRMED
    assert execution.failure is FailureReason.TIMEOUT
    assert execution.attempt.verified_status == "still running"


async def test_bad_gateway_then_stopped_run_counts_as_succeeded_without_a_second_post(
    make_service: Callable[..., TerminateService], vs: respx.MockRouter
) -> None:
    service = make_service()
    status_route(vs, "run2", "running", "running", "cancelled")
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").respond(502, text="bad gateway")
    attempt = await prepared(service, "run2")

    execution = await service.execute(attempt.id, attempt.nonce or "", "")

    assert execution is not None
    assert terminate.call_count == 1
    assert execution.attempt.outcome is Outcome.SUCCEEDED
    assert execution.attempt.verified_status == "stopped (cancelled)"
    assert execution.attempt.http_status == 502


async def test_run_still_active_after_verification_is_unconfirmed(
    make_service: Callable[..., TerminateService], vs: respx.MockRouter, sleeps: list[float]
) -> None:
    service = make_service()
    status_route(vs, "run3", *["running"] * 7)
    vs.post(f"/pipeline/{PIPELINE}/terminate").respond(200, json={"status": "success"})
    attempt = await prepared(service, "run3")

    execution = await service.execute(attempt.id, attempt.nonce or "", "")

    assert execution is not None
    assert execution.attempt.outcome is Outcome.UNCONFIRMED
    assert execution.failure is FailureReason.STILL_ACTIVE
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 15.0]


async def test_failed_pending_write_means_no_terminate_call(
    make_service: Callable[..., TerminateService], vs: respx.MockRouter, repository: AuditRepository
) -> None:
    service = make_service(audit=FailingPending(repository))
    status_route(vs, "run4", "running", "running")
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").respond(200, json={"status": "success"})
    attempt = await prepared(service, "run4")

    with pytest.raises(AuditWriteError):
        await service.execute(attempt.id, attempt.nonce or "", "")

    assert terminate.call_count == 0
    stored = await repository.get(attempt.id)
    assert stored is not None
    assert stored.outcome is Outcome.AWAITING_CONFIRMATION


async def test_replayed_execution_changes_nothing(
    make_service: Callable[..., TerminateService], vs: respx.MockRouter
) -> None:
    service = make_service()
    status_route(vs, "run5", "running", "running", "cancelled")
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").respond(200, json={"status": "success"})
    attempt = await prepared(service, "run5")

    first = await service.execute(attempt.id, attempt.nonce or "", "")
    replay = await service.execute(attempt.id, attempt.nonce or "", "")
    closed_late = await service.abandon(attempt.id, attempt.nonce)

    assert first is not None
    assert first.attempt.outcome is Outcome.SUCCEEDED
    assert replay is None
    assert closed_late is None
    assert terminate.call_count == 1


async def test_two_users_confirming_one_run_make_exactly_one_terminate_call(
    make_service: Callable[..., TerminateService], vs: respx.MockRouter
) -> None:
    first_service, second_service = make_service(), make_service(instance_id="instance-b")
    vs.get(f"/pipeline/{PIPELINE}/run/status/run6").respond(
        200, json={"task_id": "run6", "status": "running"}
    )
    terminate = vs.post(f"/pipeline/{PIPELINE}/terminate").respond(200, json={"status": "success"})
    one = await prepared(first_service, "run6")
    two = await prepared(second_service, "run6", user=ADMIN2)

    results = await asyncio.gather(
        first_service.execute(one.id, one.nonce or "", "a"),
        second_service.execute(two.id, two.nonce or "", "b"),
    )

    assert terminate.call_count == 1
    outcomes = sorted(r.attempt.outcome.value for r in results if r is not None)
    assert outcomes == ["duplicate", "unconfirmed"]


async def test_reconcile_settles_an_orphaned_pending_attempt_once(
    make_service: Callable[..., TerminateService],
    vs: respx.MockRouter,
    repository: AuditRepository,
    make_attempt: Callable[..., Attempt],
    clock: Any,
) -> None:
    crashed = await repository.add(
        make_attempt(
            run_id="run7",
            pipeline_id=PIPELINE,
            outcome=Outcome.PENDING,
            lease_owner="gone",
            lease_until=clock() + timedelta(seconds=60),
        )
    )
    status_route(vs, "run7", "cancelled")
    service = make_service()
    assert await service.reconcile() == []  # the lease is still live: not ours to touch
    clock.advance(120)

    settled = await service.reconcile()
    again = await service.reconcile()

    assert [e.attempt.id for e in settled] == [crashed.id]
    assert settled[0].attempt.outcome is Outcome.SUCCEEDED
    assert settled[0].attempt.verified_status == "stopped (cancelled)"
    assert again == []


async def test_modals_left_open_for_30_minutes_are_abandoned(
    make_service: Callable[..., TerminateService],
    repository: AuditRepository,
    make_attempt: Callable[..., Attempt],
    clock: Any,
) -> None:
    old = await repository.add(make_attempt())
    clock.advance(29 * 60)
    young = await repository.add(make_attempt())
    clock.advance(2 * 60)

    swept = await make_service().sweep_abandoned()

    assert [a.id for a in swept] == [old.id]
    assert (await repository.get(young.id)) == replace(young)
    stored = await repository.get(old.id)
    assert stored is not None
    assert stored.outcome is Outcome.ABANDONED
