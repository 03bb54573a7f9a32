"""Before the user confirms: the ack-path precheck, preparing the modal, checking a submission.

`precheck` decides from the policy file and cached membership alone, so a certain denial can go
back in the ack. `prepare` starts the attempt (fail closed: nothing else happens unless its
`Started` event is written), then asks VectorShift and the directory what the modal must show
and records what it learnt in one more event, either `Resolved` or `Blocked`. `check_submission`
is the submit ack's local check; the database decides later, when `execute` consumes the nonce.
"""

from __future__ import annotations

import asyncio
import secrets
import uuid
from dataclasses import dataclass, replace
from datetime import UTC
from enum import StrEnum
from typing import Final

from bot.attempts.context import AttemptContext
from bot.attempts.lifecycle import Attempt, Blocked, Outcome, Resolved, Source
from bot.domain import (
    Action,
    ActionCommand,
    Actor,
    ActorFacts,
    Pipeline,
    PipelineRef,
    RunState,
    RunStatus,
    Where,
)
from bot.policy import Decision, Policy, decide
from bot.vectorshift import AuthError, NotFoundError, VectorShiftError


class Blocker(StrEnum):
    """Why a confirmation cannot offer its action's button."""

    DENIED = "denied"
    PIPELINE_NOT_FOUND = "pipeline_not_found"
    RUN_NOT_FOUND = "run_not_found"
    ALREADY_FINISHED = "already_finished"
    DUPLICATE = "duplicate"
    ALREADY_PAUSED = "already_paused"
    NOT_PAUSED = "not_paused"
    BAD_KEY = "bad_key"
    LOOKUP_FAILED = "lookup_failed"


@dataclass(frozen=True)
class AttemptRequest:
    """A request to act on a run, as it arrives from a command, button or Retry."""

    actor: Actor
    where: Where
    source: Source
    command: ActionCommand
    request_id: str
    thread_ts: str | None = None
    response_url: str | None = None
    message_channel: str | None = None
    message_ts: str | None = None
    received_at: float | None = None
    """`time.monotonic()` when the request arrived, to tell whether its trigger is still usable."""

    @property
    def action(self) -> Action:
        """What the request asks to do to the run."""
        return self.command.action


@dataclass(frozen=True)
class Preparation:
    """What the confirmation modal shows: the attempt, and either run details or a blocker."""

    attempt: Attempt
    blocker: Blocker | None
    decision: Decision | None = None
    pipeline: Pipeline | None = None
    status: RunStatus | None = None
    holder: Attempt | None = None

    @property
    def require_reason(self) -> bool:
        """Whether the rule that allows this attempt demands a reason."""
        return self.decision is not None and self.decision.require_reason


@dataclass(frozen=True)
class SubmitCheck:
    """The ack-path verdict on a modal submission: go ahead, a reason is missing, or stale."""

    attempt: Attempt | None
    reason_missing: bool = False

    @property
    def accepted(self) -> bool:
        """Whether the submission may proceed."""
        return self.attempt is not None and not self.reason_missing


def precheck(
    ctx: AttemptContext,
    actor: Actor,
    where: Where,
    pipeline: PipelineRef,
    action: Action = Action.TERMINATE,
) -> Decision:
    """Decide from the policy file and cached membership alone, for the ack (no I/O).

    The directory gives the user the benefit of every doubt the cache leaves (an unknown group
    counts as theirs): a denial that holds even then is certain and can go back in the ack; an
    allow is decided again after the ack with fresh facts.
    """
    policy = ctx.policy()
    return decide(
        policy,
        actor,
        ctx.directory.upper_bound_facts(actor),
        pipeline_id=ctx.known_pipeline_id(policy, pipeline),
        where=where,
        action=action,
    )


def require_reason(ctx: AttemptContext, attempt: Attempt) -> bool:
    """Whether the attempt's rule, as the policy stands now, demands a reason (no I/O)."""
    if attempt.rule is None:
        return False
    return any(r.name == attempt.rule and r.require_reason for r in ctx.policy().rules)


def new_attempt(ctx: AttemptContext, request: AttemptRequest, outcome: Outcome) -> Attempt:
    """An attempt for `request`, not yet recorded."""
    return Attempt(
        id=str(uuid.uuid4()),
        request_id=request.request_id,
        requested_at=ctx.clock(),
        user_id=request.actor.user_id,
        user_name=request.actor.user_name,
        team_id=request.actor.team_id,
        enterprise_id=request.actor.enterprise_id,
        channel_id=request.where.channel_id,
        channel_is_dm=request.where.is_dm,
        thread_ts=request.thread_ts,
        source=request.source,
        outcome=outcome,
        action=request.action,
        run_id=request.command.run_id,
        pipeline_ref=request.command.pipeline.text,
        reason=request.command.reason or None,
        response_url=request.response_url,
        message_channel=request.message_channel,
        message_ts=request.message_ts,
        base_url=ctx.base_url,
    )


async def record_denial(
    ctx: AttemptContext, request: AttemptRequest, decision: Decision
) -> Attempt:
    """Record a denial decided on the ack path.

    Raises:
        AuditWriteError: the denial could not be recorded.
    """
    attempt = replace(
        new_attempt(ctx, request, Outcome.DENIED),
        pipeline_id=ctx.known_pipeline_id(ctx.policy(), request.command.pipeline),
        rule=decision.rule,
        error=decision.reason,
    )
    return await ctx.audit.start(attempt)


async def prepare(ctx: AttemptContext, request: AttemptRequest) -> Preparation:
    """Start an attempt and gather what the confirmation modal shows.

    Returns:
        The attempt (`awaiting_confirmation` with a fresh nonce when it may go ahead, or already
        final when it may not) and the details or the blocker.

    Raises:
        AuditWriteError: the attempt could not be recorded.
    """
    attempt = await ctx.audit.start(
        replace(
            new_attempt(ctx, request, Outcome.AWAITING_CONFIRMATION),
            nonce=secrets.token_urlsafe(16),
        )
    )
    policy = ctx.policy()
    try:
        pipeline, status, facts, user_name = await _gather(ctx, policy, request)
    except NotFoundError:
        return await _block(
            ctx, attempt, Blocker.PIPELINE_NOT_FOUND, Blocked(Outcome.FAILED, "pipeline not found")
        )
    except AuthError:
        return await _block(
            ctx,
            attempt,
            Blocker.BAD_KEY,
            Blocked(Outcome.FAILED, "the bot's VectorShift key was rejected"),
        )
    except VectorShiftError as exc:
        return await _block(
            ctx, attempt, Blocker.LOOKUP_FAILED, Blocked(Outcome.FAILED, f"lookup failed: {exc}")
        )
    # Everything learnt here goes into the attempt in ONE write, allowed or blocked.
    learnt = Resolved(
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        user_name=user_name or attempt.user_name,
    )
    resolved = replace(
        attempt,
        pipeline_id=learnt.pipeline_id,
        pipeline_name=learnt.pipeline_name,
        user_name=learnt.user_name,
    )
    decision = await ctx.decide(resolved, facts, policy)
    learnt = replace(learnt, rule=decision.rule)
    found = Preparation(resolved, None, decision=decision, pipeline=pipeline, status=status)
    details = {
        "pipeline_id": learnt.pipeline_id,
        "pipeline_name": learnt.pipeline_name,
        "user_name": learnt.user_name,
        "rule": learnt.rule,
    }
    if not decision.allowed:
        blocked = Blocked(Outcome.DENIED, decision.reason, **details)
        return await _block(ctx, attempt, Blocker.DENIED, blocked, found)
    if status is not None and status.state is RunState.FINISHED:
        blocked = Blocked(
            Outcome.ALREADY_FINISHED, verified_status=describe_status(status), **details
        )
        return await _block(ctx, attempt, Blocker.ALREADY_FINISHED, blocked, found)
    if status is not None and status.state is RunState.NOT_FOUND:
        blocked = Blocked(Outcome.FAILED, "run not found", **details)
        return await _block(ctx, attempt, Blocker.RUN_NOT_FOUND, blocked, found)
    holder = await ctx.audit.blocking_attempt(
        base_url=ctx.base_url,
        pipeline_id=pipeline.id,
        run_id=attempt.run_id or "",
        action=attempt.action,
    )
    if holder is not None and holder.id != attempt.id:
        blocked = Blocked(Outcome.DUPLICATE, holder_text(holder), **details)
        return await _block(ctx, attempt, Blocker.DUPLICATE, blocked, replace(found, holder=holder))
    mismatch = _state_blocker(attempt.action, status)
    if mismatch is not None:
        blocked = Blocked(Outcome.FAILED, f"run is {mismatch.value.replace('_', ' ')}", **details)
        return await _block(ctx, attempt, mismatch, blocked, found)
    attempt = await ctx.audit.record(attempt.id, learnt) or resolved
    ctx.awaiting[attempt.id] = attempt
    return replace(found, attempt=attempt)


def _state_blocker(action: Action, status: RunStatus | None) -> Blocker | None:
    """A run whose state leaves the action nothing to do: pausing a paused run, resuming a
    running one. (Finished runs were dealt with before; an unknown status lets the call tell.)"""
    if status is None:
        return None
    if action is Action.PAUSE and status.is_paused:
        return Blocker.ALREADY_PAUSED
    if action is Action.RESUME and status.is_active_unpaused:
        return Blocker.NOT_PAUSED
    return None


async def _gather(
    ctx: AttemptContext, policy: Policy, request: AttemptRequest
) -> tuple[Pipeline, RunStatus | None, ActorFacts, str | None]:
    """Pipeline, run status and user facts, fetched concurrently where independent."""
    known_id = ctx.known_pipeline_id(policy, request.command.pipeline)
    run_id = request.command.run_id
    early: asyncio.Task[RunStatus | None] | None = None
    try:
        async with asyncio.TaskGroup() as tg:
            facts = tg.create_task(ctx.directory.facts(request.actor))
            name = tg.create_task(ctx.directory.user_name(request.actor.user_id))
            resolved = tg.create_task(ctx.resolve(policy, request.command.pipeline))
            if known_id is not None:
                early = tg.create_task(ctx.status(known_id, run_id))
    except* VectorShiftError as group:
        raise group.exceptions[0] from None
    pipeline = resolved.result()
    if early is not None and known_id == pipeline.id:
        status = early.result()
    else:
        status = await ctx.status(pipeline.id, run_id)
    return pipeline, status, facts.result(), name.result()


async def _block(
    ctx: AttemptContext,
    attempt: Attempt,
    blocker: Blocker,
    change: Blocked,
    found: Preparation | None = None,
) -> Preparation:
    """End a preparation that cannot go ahead, with what was found so far."""
    updated = await ctx.audit.record(attempt.id, change)
    shown = found or Preparation(attempt, blocker)
    return replace(shown, attempt=updated or attempt, blocker=blocker)


def check_submission(
    ctx: AttemptContext, attempt: Attempt | None, nonce: str, reason: str
) -> SubmitCheck:
    """The ack-path check of a modal submission: local facts only.

    Args:
        ctx: the use cases' context.
        attempt: the attempt read by id (one indexed read), or None if unknown.
        nonce: the nonce from `private_metadata`.
        reason: the reason as typed (already validated for characters and length).
    """
    if (
        attempt is None
        or attempt.outcome is not Outcome.AWAITING_CONFIRMATION
        or not attempt.nonce
        or not secrets.compare_digest(attempt.nonce, nonce)
    ):
        return SubmitCheck(attempt=None)
    return SubmitCheck(attempt=attempt, reason_missing=not reason and require_reason(ctx, attempt))


async def awaiting(ctx: AttemptContext, attempt_id: str) -> Attempt | None:
    """The attempt a submission names, for the ack-path check.

    Served from this instance's hint when it prepared the attempt (the hint is taken, so a
    second submission reads the database and finds it no longer awaiting); else one indexed read.
    """
    hinted = ctx.awaiting.pop(attempt_id, None)
    return hinted if hinted is not None else await ctx.audit.get(attempt_id)


def describe_status(status: RunStatus | None) -> str:
    """A run status in a few words, verbatim where the API's value is unknown to us."""
    if status is None:
        return "unknown"
    if status.state is RunState.UNAVAILABLE:
        return "status unavailable"
    if status.state is RunState.NOT_FOUND:
        return "not found"
    return status.status or status.state.value


_PAST: Final = {Action.TERMINATE: "terminated", Action.PAUSE: "paused", Action.RESUME: "resumed"}


def holder_text(holder: Attempt) -> str:
    """The audit's note on an attempt that found its run held by another."""
    done = _PAST[holder.action]
    if holder.outcome is Outcome.SUCCEEDED:
        state = f"already {done} by"
    elif holder.outcome is Outcome.AWAITING_APPROVAL:
        state = f"waiting for approval to be {done}, asked by"
    else:
        state = f"already being {done} by"
    when = holder.requested_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"{state} {holder.user_id} at {when} (attempt {holder.id})"
