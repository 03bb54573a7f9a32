"""The one saga: submit, re-check, call, verify, finish — on in-memory ports (SPEC §4.2–4.4)."""

from __future__ import annotations

import asyncio

import pytest
from cases import ALICE, request
from memory import MemoryAudit, ScriptedVectorShift

from bot.attempts import confirm, execute
from bot.attempts.context import AttemptContext
from bot.attempts.execute import FailureReason
from bot.attempts.lifecycle import Attempt, Outcome
from bot.domain import Action
from bot.errors import AuditWriteError
from bot.policy import parse_policy
from bot.vectorshift import AuthError, DeadlineExceededError, NotFoundError, ServerError


async def confirmed(ctx: AttemptContext, run_id: str, user: str = ALICE) -> Attempt:
    prep = await confirm.prepare(ctx, request(run_id, user=user))
    assert prep.blocker is None, prep.blocker
    return prep.attempt


async def submit(ctx: AttemptContext, attempt: Attempt, reason: str = "runaway"):  # type: ignore[no-untyped-def]
    return await execute.execute(ctx, attempt.id, attempt.nonce or "", reason)


async def test_a_confirmed_terminate_is_called_once_and_verified_stopped(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift, sleeps: list[float]
) -> None:
    vs.add_run("run1", "running", "running", "running", "cancelled")
    attempt = await confirmed(ctx, "run1")

    done = await submit(ctx, attempt)

    assert done is not None
    assert (done.attempt.outcome, done.attempt.verified_status) == (
        Outcome.SUCCEEDED,
        "stopped (cancelled)",
    )
    assert (done.attempt.http_status, done.attempt.api_status) == (200, "success")
    assert (done.attempt.reason, done.attempt.owner) == ("runaway", "me")
    assert vs.action_calls() == ["run1"]
    assert sleeps == [1.0, 2.0]
    assert audit.kinds(attempt.id) == ["started", "submitted", "finished"]


async def test_a_replayed_submission_and_a_late_close_change_nothing(
    ctx: AttemptContext, vs: ScriptedVectorShift, audit: MemoryAudit
) -> None:
    vs.add_run("run1", "running", "running", "cancelled")
    attempt = await confirmed(ctx, "run1")
    assert await submit(ctx, attempt) is not None
    events = list(audit.events)

    assert await submit(ctx, attempt) is None
    assert audit.events == events
    assert vs.action_calls() == ["run1"]


async def test_two_confirmations_of_one_run_make_one_call(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running").becomes[Action.TERMINATE] = "cancelled"
    one = await confirmed(ctx, "run1")
    two = await confirmed(ctx, "run1")

    first = await submit(ctx, one)
    second = await submit(ctx, two)

    assert first is not None and second is not None
    assert first.attempt.outcome is Outcome.SUCCEEDED
    assert second.attempt.outcome is Outcome.DUPLICATE
    assert second.holder is not None and second.holder.id == one.id
    assert vs.action_calls() == ["run1"]


async def test_the_policy_is_decided_again_on_submit(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    attempt = await confirmed(ctx, "run1")
    ctx.policy = lambda: parse_policy("admins = []\n")

    done = await submit(ctx, attempt)

    assert done is not None
    assert done.attempt.outcome is Outcome.DENIED
    assert done.decision is not None and not done.decision.allowed
    assert vs.action_calls() == []


async def test_the_hourly_budget_counts_the_submitted_attempt_once(
    ctx: AttemptContext, vs: ScriptedVectorShift, clock: object
) -> None:
    for run in ("run1", "run2", "run3"):
        vs.add_run(run, "running").becomes[Action.TERMINATE] = "cancelled"
    first = await submit(ctx, await confirmed(ctx, "run1"))
    second = await submit(ctx, await confirmed(ctx, "run2"))  # its own pending is not counted
    assert first is not None and second is not None
    assert (first.attempt.outcome, second.attempt.outcome) == (Outcome.SUCCEEDED,) * 2

    third = await confirm.prepare(ctx, request("run3", user=ALICE))
    assert third.attempt.outcome is Outcome.DENIED  # max_per_hour = 2
    assert third.decision is not None and third.decision.retry_at is not None


async def test_a_run_that_finished_before_the_call_is_not_called(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running", "completed")
    attempt = await confirmed(ctx, "run1")
    done = await submit(ctx, attempt)
    assert done is not None
    assert (done.attempt.outcome, done.attempt.verified_status) == (
        Outcome.ALREADY_FINISHED,
        "completed",
    )
    assert vs.action_calls() == []


async def test_a_refused_key_on_the_recheck_fails_without_a_call(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    run = vs.add_run("run1", "running")
    attempt = await confirmed(ctx, "run1")
    run.statuses = [AuthError(401, "Invalid API key")]  # type: ignore[list-item]
    done = await submit(ctx, attempt)
    assert done is not None
    assert (done.attempt.outcome, done.failure, done.attempt.http_status) == (
        Outcome.FAILED,
        FailureReason.BAD_KEY,
        401,
    )
    assert vs.action_calls() == []


async def test_a_refusal_of_known_effect_fails_with_its_reason(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running", terminate=NotFoundError(404, "run not found"))
    done = await submit(ctx, await confirmed(ctx, "run1"))
    assert done is not None
    assert (done.attempt.outcome, done.failure, done.attempt.http_status) == (
        Outcome.FAILED,
        FailureReason.NOT_FOUND,
        404,
    )
    assert done.attempt.error == "NotFoundError: HTTP 404: run not found"


async def test_a_timeout_reads_the_status_first_and_states_the_wait_that_happened(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    timeout = DeadlineExceededError("VectorShift did not answer within 8 s", waited_s=8.0)
    vs.add_run("run1", "running", terminate=timeout)
    done = await submit(ctx, await confirmed(ctx, "run1"))
    assert done is not None
    assert (done.attempt.outcome, done.failure, done.waited_s) == (
        Outcome.UNCONFIRMED,
        FailureReason.TIMEOUT,
        8.0,
    )
    assert done.attempt.verified_status == "still running"
    assert vs.action_calls() == ["run1"]  # never sent again


async def test_a_bad_gateway_then_a_stopped_run_is_a_success_without_a_second_call(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running", "running", "cancelled", terminate=ServerError(502, "bad gateway"))
    done = await submit(ctx, await confirmed(ctx, "run1"))
    assert done is not None
    assert (done.attempt.outcome, done.attempt.http_status, done.failure) == (
        Outcome.SUCCEEDED,
        502,
        None,
    )
    assert vs.action_calls() == ["run1"]


async def test_a_run_still_active_after_every_poll_is_unconfirmed(
    ctx: AttemptContext, vs: ScriptedVectorShift, sleeps: list[float]
) -> None:
    vs.add_run("run1", "running")
    done = await submit(ctx, await confirmed(ctx, "run1"))
    assert done is not None
    assert (done.attempt.outcome, done.failure) == (Outcome.UNCONFIRMED, FailureReason.STILL_ACTIVE)
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 15.0]


async def test_a_failed_submission_write_means_no_call(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    attempt = await confirmed(ctx, "run1")
    audit.failing.add("submitted")
    with pytest.raises(AuditWriteError):
        await submit(ctx, attempt)
    assert vs.action_calls() == []
    assert audit.attempts[attempt.id].outcome is Outcome.AWAITING_CONFIRMATION


async def test_telling_the_user_it_was_accepted_never_loses_the_verified_result(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running", "running", "cancelled")
    attempt = await confirmed(ctx, "run1")
    told: list[str] = []

    async def accepted(accepted_attempt: Attempt) -> None:
        told.append(accepted_attempt.id)
        raise OSError("slack unreachable")

    # Verification is still polling (really waiting) when the notice is due.
    ctx.sleep, ctx.verify_delays_s, ctx.accepted_notice_after_s = asyncio.sleep, (0.05, 0.05), 0.01
    done = await execute.execute(ctx, attempt.id, attempt.nonce or "", "x", on_accepted=accepted)
    assert done is not None and done.attempt.outcome is Outcome.SUCCEEDED
    assert told == [attempt.id]


async def test_a_verification_settled_by_the_first_poll_shows_no_verifying_step(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running", "running", "cancelled")
    attempt = await confirmed(ctx, "run1")
    told: list[str] = []

    async def accepted(accepted_attempt: Attempt) -> None:
        told.append(accepted_attempt.id)

    done = await execute.execute(ctx, attempt.id, attempt.nonce or "", "x", on_accepted=accepted)
    assert done is not None and done.attempt.outcome is Outcome.SUCCEEDED
    assert told == []  # the result itself follows at once: one modal update fewer


def test_every_action_has_a_call_and_a_verification() -> None:
    assert set(execute.ACTIONS) <= set(Action)
    assert Action.TERMINATE in execute.ACTIONS
