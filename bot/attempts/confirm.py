"""Before the user confirms: the ack-path precheck, preparing the modal, checking a submission.

`precheck` decides from the policy file and cached membership alone, so a certain denial can go
back in the ack. `prepare` asks VectorShift and the directory what the modal must show, then
starts the attempt with everything it learnt in one `Started` event (one audit write per modal:
awaiting confirmation, or final with the reason it cannot go ahead; the run's claim is read in
that write). Only reads (the pipeline, the run's status, the directory) come before it; no
action is called without it, and a modal whose attempt could not be written offers no submit
(fail closed). `check_submission` is the submit ack's local check; the database decides later, when
`execute` consumes the nonce.
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
from bot.attempts.lifecycle import Attempt, Outcome, Source
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


def new_attempt(
    ctx: AttemptContext, request: AttemptRequest, outcome: Outcome, *, nonce: str | None = None
) -> Attempt:
    """An attempt for `request`, not yet recorded (with `nonce` when it awaits a submission)."""
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
        nonce=nonce,
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
    """Gather what the confirmation modal shows, and start the attempt with all of it.

    The attempt is written once, after the lookups: awaiting confirmation with a fresh nonce
    when it may go ahead, or already final with the reason it may not. The run's claim is read
    in that same write (a duplicate is recorded as one). Nothing here calls an action.

    Returns:
        The attempt as recorded, and the details or the blocker.

    Raises:
        AuditWriteError: the attempt could not be recorded.
    """
    draft = new_attempt(
        ctx, request, Outcome.AWAITING_CONFIRMATION, nonce=secrets.token_urlsafe(16)
    )
    policy = ctx.policy()
    try:
        pipeline, status, facts, user_name = await _gather(ctx, policy, request)
    except NotFoundError:
        return await _start_blocked(
            ctx, draft, Blocker.PIPELINE_NOT_FOUND, Outcome.FAILED, error="pipeline not found"
        )
    except AuthError:
        error = "the bot's VectorShift key was rejected"
        return await _start_blocked(ctx, draft, Blocker.BAD_KEY, Outcome.FAILED, error=error)
    except VectorShiftError as exc:
        error = f"lookup failed: {exc}"
        return await _start_blocked(ctx, draft, Blocker.LOOKUP_FAILED, Outcome.FAILED, error=error)
    resolved = replace(
        draft,
        pipeline_id=pipeline.id,
        pipeline_name=pipeline.name,
        user_name=user_name or draft.user_name,
    )
    decision = await ctx.decide(resolved, facts, policy)
    resolved = replace(resolved, rule=decision.rule)
    found = Preparation(resolved, None, decision=decision, pipeline=pipeline, status=status)
    if not decision.allowed:
        return await _start_blocked(
            ctx, resolved, Blocker.DENIED, Outcome.DENIED, error=decision.reason, found=found
        )
    if status is not None and status.state is RunState.FINISHED:
        verified = describe_status(status)
        return await _start_blocked(
            ctx,
            resolved,
            Blocker.ALREADY_FINISHED,
            Outcome.ALREADY_FINISHED,
            verified_status=verified,
            found=found,
        )
    if status is not None and status.state is RunState.NOT_FOUND:
        return await _start_blocked(
            ctx, resolved, Blocker.RUN_NOT_FOUND, Outcome.FAILED, error="run not found", found=found
        )
    # A duplicate names who holds the run, and so comes before "already paused" (SPEC §4.5).
    mismatch = _state_blocker(resolved.action, status)
    candidate = resolved
    if mismatch is not None:
        error = f"run is {mismatch.value.replace('_', ' ')}"
        candidate = replace(resolved, outcome=Outcome.FAILED, error=error, nonce=None)
    started, holder = await ctx.audit.start_unless_held(
        candidate,
        duplicate=lambda held: replace(
            resolved, outcome=Outcome.DUPLICATE, error=holder_text(held), nonce=None
        ),
    )
    if holder is not None:
        return replace(found, attempt=started, blocker=Blocker.DUPLICATE, holder=holder)
    if mismatch is not None:
        return replace(found, attempt=started, blocker=mismatch)
    ctx.awaiting[started.id] = started
    return replace(found, attempt=started)


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


async def _start_blocked(
    ctx: AttemptContext,
    attempt: Attempt,
    blocker: Blocker,
    outcome: Outcome,
    *,
    error: str | None = None,
    verified_status: str | None = None,
    found: Preparation | None = None,
) -> Preparation:
    """Start an attempt that cannot go ahead, final at once, with what was found so far."""
    started = await ctx.audit.start(
        replace(attempt, outcome=outcome, error=error, verified_status=verified_status, nonce=None)
    )
    shown = found or Preparation(started, blocker)
    return replace(shown, attempt=started, blocker=blocker)


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
