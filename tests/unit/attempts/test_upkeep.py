"""Abandonment, heartbeats, reconciliation and Retry, on in-memory ports (SPEC §4.2, §4.3, §6)."""

from __future__ import annotations

from cases import ALICE, request
from memory import Clock, MemoryAudit, ScriptedVectorShift

from bot.attempts import confirm, upkeep
from bot.attempts.context import AttemptContext
from bot.attempts.execute import FailureReason
from bot.attempts.lifecycle import Attempt, Finished, Outcome, Source, Submitted
from bot.domain import Actor, Where


async def pending_on(ctx: AttemptContext, audit: MemoryAudit, run_id: str, owner: str) -> Attempt:
    prep = await confirm.prepare(ctx, request(run_id))
    submitted = await audit.submit(
        prep.attempt.id,
        Submitted(nonce=prep.attempt.nonce or "", owner=owner),
        base_url=ctx.base_url,
    )
    assert submitted is not None
    return submitted[0]


async def test_a_close_abandons_only_an_attempt_still_awaiting_with_its_nonce(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    attempt = (await confirm.prepare(ctx, request("run1"))).attempt

    assert await upkeep.abandon(ctx, attempt.id, "another-modal") is None
    closed = await upkeep.abandon(ctx, attempt.id, attempt.nonce)

    assert closed is not None and closed.outcome is Outcome.ABANDONED
    assert attempt.id not in ctx.awaiting
    assert await upkeep.abandon(ctx, attempt.id, attempt.nonce) is None


async def test_modals_open_for_30_minutes_are_swept(
    ctx: AttemptContext, vs: ScriptedVectorShift, clock: Clock
) -> None:
    vs.add_run("run1", "running")
    old = (await confirm.prepare(ctx, request("run1"))).attempt
    clock.advance(29 * 60)
    young = (await confirm.prepare(ctx, request("run1"))).attempt
    clock.advance(2 * 60)

    swept = await upkeep.sweep_abandoned(ctx)

    assert [a.id for a in swept] == [old.id]
    assert young.id not in {a.id for a in swept}


async def test_only_a_dead_instances_pending_attempts_are_reconciled_and_only_once(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift, clock: Clock
) -> None:
    vs.add_run("run-dead", "running", "cancelled")
    vs.add_run("run-alive", "running")
    vs.add_run("run-mine", "running")
    await audit.heartbeat("dead")
    await audit.heartbeat("alive")
    dead = await pending_on(ctx, audit, "run-dead", "dead")
    await pending_on(ctx, audit, "run-alive", "alive")
    await pending_on(ctx, audit, "run-mine", ctx.instance_id)

    clock.advance(upkeep.HEARTBEAT_LAPSE_S - 1)
    assert await upkeep.reconcile(ctx) == []  # nobody has been silent long enough
    clock.advance(2)
    await audit.heartbeat("alive")

    settled = await upkeep.reconcile(ctx)

    assert [e.attempt.id for e in settled] == [dead.id]
    assert settled[0].attempt.outcome is Outcome.SUCCEEDED
    assert settled[0].attempt.error == upkeep.RESTARTED
    assert await upkeep.reconcile(ctx) == []
    assert audit.kinds(dead.id)[-1] == "reconciled"


async def test_a_stopped_instance_is_reconciled_at_once_and_an_active_run_is_unconfirmed(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    await audit.heartbeat("stopped")
    attempt = await pending_on(ctx, audit, "run1", "stopped")
    await audit.retire("stopped")

    [settled] = await upkeep.reconcile(ctx)

    assert settled.attempt.id == attempt.id
    assert (settled.attempt.outcome, settled.failure) == (
        Outcome.UNCONFIRMED,
        FailureReason.RESTARTED,
    )


async def test_an_attempt_settled_by_its_owner_first_is_left_alone(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    attempt = await pending_on(ctx, audit, "run1", "gone")
    await audit.record(attempt.id, Finished(Outcome.SUCCEEDED))
    assert await upkeep.reconcile(ctx) == []


async def test_heartbeat_renews_this_instance(
    ctx: AttemptContext, audit: MemoryAudit, clock: Clock
) -> None:
    await upkeep.heartbeat(ctx)
    clock.advance(3)
    await upkeep.heartbeat(ctx)
    assert audit.instances[ctx.instance_id] == (clock(), False)


async def test_retry_repeats_only_a_failed_or_unconfirmed_attempt_with_its_action(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    attempt = await pending_on(ctx, audit, "run1", "me")
    actor, where = Actor(ALICE), Where("C0OTHER0001")
    assert upkeep.retry_request(attempt, actor, where, "r2", None) is None  # still pending
    failed = await audit.record(attempt.id, Finished(Outcome.FAILED, error="HTTP 500"))
    assert failed is not None

    again = upkeep.retry_request(failed, actor, where, "r2", "https://hooks.slack.test/r/2")

    assert again is not None
    assert (again.source, again.actor, again.where) == (Source.RETRY, actor, where)
    assert (again.command.pipeline.text, again.command.run_id) == (failed.pipeline_id, "run1")
    assert (again.command.action, again.command.reason) == (failed.action, "runaway")
