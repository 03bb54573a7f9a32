"""Keeping attempts honest over time: abandonment, heartbeats, reconciliation and Retry.

A modal closed before submitting, or left open for 30 minutes, makes its attempt `abandoned`.
Each instance renews a heartbeat every `HEARTBEAT_INTERVAL_S`; the pending attempts of an
instance whose heartbeat is older than `HEARTBEAT_LAPSE_S` (it died, or was stopped) are settled
from the run's status by whichever live instance sweeps first, the restarted one included, and
never while their owner lives (SPEC §6). Retry makes a new request from a failed attempt, which
then goes through every check again.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Final

from bot.attempts.confirm import AttemptRequest
from bot.attempts.context import AttemptContext
from bot.attempts.execute import Execution, FailureReason, described, seen_done
from bot.attempts.lifecycle import Abandoned, Attempt, Outcome, Reconciled, Source
from bot.domain import ActionCommand, Actor, PipelineRef, Where

ABANDON_AFTER: Final = timedelta(minutes=30)
HEARTBEAT_INTERVAL_S: Final = 5.0
HEARTBEAT_LAPSE_S: Final = 15.0
"""Three missed heartbeats: long enough for a busy writer queue, short enough that an
orphaned attempt is settled well within SPEC §6's 30 s of its owner's death."""
RECONCILE_INTERVAL_S: Final = 5.0
RESTARTED: Final = "the bot restarted during this action; reconciled from run status"


async def abandon(ctx: AttemptContext, attempt_id: str, nonce: str | None = None) -> Attempt | None:
    """Mark an attempt abandoned if it is still awaiting confirmation.

    Args:
        ctx: the use cases' context.
        attempt_id: the attempt whose modal was closed or left open too long.
        nonce: the modal's nonce; once a submission consumed it, a close changes nothing.
    """
    ctx.awaiting.pop(attempt_id, None)
    return await ctx.audit.record(attempt_id, Abandoned(nonce=nonce))


async def sweep_abandoned(ctx: AttemptContext) -> list[Attempt]:
    """Mark attempts whose modal has been open for 30 minutes abandoned."""
    expired = await ctx.audit.expired_awaiting(older_than=ctx.clock() - ABANDON_AFTER)
    swept = [await abandon(ctx, a.id) for a in expired]
    return [a for a in swept if a is not None]


async def heartbeat(ctx: AttemptContext) -> None:
    """Say this instance is alive, so nobody settles its pending attempts."""
    await ctx.audit.heartbeat(ctx.instance_id)


async def reconcile(
    ctx: AttemptContext, *, lapse: timedelta = timedelta(seconds=HEARTBEAT_LAPSE_S)
) -> list[Execution]:
    """Settle attempts left `pending` by instances whose heartbeat has lapsed.

    Returns:
        The executions this instance settled; an attempt another instance settled first drops
        out of the list (its `Reconciled` change is no longer legal).
    """
    settled: list[Execution] = []
    orphans = await ctx.audit.orphaned_pending(lapse=lapse, instance_id=ctx.instance_id)
    for attempt in orphans:
        status = await ctx.status(attempt.pipeline_id or "", attempt.run_id or "")
        seen = seen_done(attempt.action, status)
        change = Reconciled(
            Outcome.SUCCEEDED if seen else Outcome.UNCONFIRMED,
            error=RESTARTED,
            verified_status=described(attempt.action, status),
        )
        updated = await ctx.audit.record(attempt.id, change)
        if updated is not None:
            failure = None if seen else FailureReason.RESTARTED
            settled.append(Execution(attempt=updated, failure=failure))
    return settled


def retry_request(
    failed: Attempt, actor: Actor, where: Where, request_id: str, response_url: str | None
) -> AttemptRequest | None:
    """A new request that repeats a failed attempt, through all the same checks.

    Returns:
        The request, or None when the attempt cannot be retried (it did not fail).
    """
    if failed.run_id is None or failed.outcome not in {Outcome.FAILED, Outcome.UNCONFIRMED}:
        return None
    return AttemptRequest(
        actor=actor,
        where=where,
        source=Source.RETRY,
        command=ActionCommand(
            pipeline=PipelineRef(failed.pipeline_id or failed.pipeline_ref or ""),
            run_id=failed.run_id,
            reason=failed.reason or "",
            action=failed.action,
        ),
        request_id=request_id,
        thread_ts=failed.thread_ts,
        response_url=response_url,
        message_channel=failed.message_channel,
        message_ts=failed.message_ts,
    )
