"""After the user confirms: one saga for every action (claim, re-check, call, verify, finish).

A request whose rule needs approvers stops after the claim, waiting (`awaiting_approval`);
once approved, `approve` enters the same saga at `run`.

The order is what makes an action safe: the submission consumes the nonce, enters `pending` and
claims the run in one transaction (a replay changes nothing; a second attempt on the run, from
any user on any instance, is a duplicate); the policy and the run's state are checked again; the
call is made under one deadline and never blindly retried (the client's rules); after an answer
of unknown effect the run status is read before anything else; a success is verified by polling
with backoff until the run reaches the action's target state. Every step is an event written
before the next call (fail closed).

An action is a value: `ACTIONS` holds, per action, the VectorShift call and the state that
verifies it. Adding one touches this table, not the saga.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Final, Protocol

from bot.attempts.confirm import describe_status, holder_text
from bot.attempts.context import AttemptContext, actor_of
from bot.attempts.lifecycle import Attempt, Blocked, Finished, Outcome, Requested, Submitted
from bot.attempts.ports import VectorShiftPort
from bot.domain import Action, ActionResult, RunState, RunStatus, Where
from bot.policy import Approval, Decision, decide
from bot.vectorshift import (
    AuthError,
    BadRequestError,
    DeadlineExceededError,
    NotFoundError,
    NotSentError,
    OperationFailedError,
    RateLimitError,
    ServerError,
    VectorShiftError,
)

logger = logging.getLogger(__name__)


class FailureReason(StrEnum):
    """Why an action did not succeed, in categories `bot.slack.blocks` words for people."""

    BAD_KEY = "bad_key"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    SERVER_ERROR = "server_error"
    UNREACHABLE = "unreachable"
    STILL_ACTIVE = "still_active"
    RESTARTED = "restarted"


@dataclass(frozen=True)
class Execution:
    """The end of an attempt, for the modal, the channel and the audit mirror.

    Attributes:
        attempt: the attempt as recorded at the end.
        failure: why it did not succeed, when it did not.
        decision: the policy decision of the re-check, when there was one.
        holder: the attempt holding the run, for a duplicate.
        waited_s: how long the action call waited before giving up, for a timeout.
    """

    attempt: Attempt
    failure: FailureReason | None = None
    decision: Decision | None = None
    holder: Attempt | None = None
    waited_s: float = 0.0


class _Call(Protocol):
    def __call__(
        self, port: VectorShiftPort, *, pipeline_id: str, run_id: str, deadline_s: float
    ) -> Awaitable[ActionResult]: ...


@dataclass(frozen=True)
class ActionSpec:
    """How one action is carried out and verified.

    Attributes:
        call: the VectorShift call that performs it.
        reached: whether a run status shows the action took effect (verification ends with
            success). An unavailable status counts: the call was accepted and nothing says
            otherwise (SPEC §6).
        seen: whether a status positively shows it (after an answer of unknown effect, only
            this counts as success).
        ended_alone: whether the run ended by itself, which leaves the action nothing to do.
        reached_words: the verified status the audit records once `reached`.
    """

    call: _Call
    reached: Callable[[RunStatus], bool]
    seen: Callable[[RunStatus], bool]
    ended_alone: Callable[[RunStatus], bool]
    reached_words: Callable[[RunStatus], str]


def _finished(status: RunStatus) -> bool:
    return status.state in {RunState.FINISHED, RunState.NOT_FOUND}


def _never(_status: RunStatus) -> bool:
    return False


def _terminate(
    port: VectorShiftPort, *, pipeline_id: str, run_id: str, deadline_s: float
) -> Awaitable[ActionResult]:
    return port.terminate_run(pipeline_id=pipeline_id, run_id=run_id, deadline_s=deadline_s)


def _pause(
    port: VectorShiftPort, *, pipeline_id: str, run_id: str, deadline_s: float
) -> Awaitable[ActionResult]:
    return port.pause_run(pipeline_id=pipeline_id, run_id=run_id, deadline_s=deadline_s)


def _resume(
    port: VectorShiftPort, *, pipeline_id: str, run_id: str, deadline_s: float
) -> Awaitable[ActionResult]:
    return port.resume_run(pipeline_id=pipeline_id, run_id=run_id, deadline_s=deadline_s)


ACTIONS: Final[dict[Action, ActionSpec]] = {
    Action.TERMINATE: ActionSpec(
        call=_terminate,
        # A terminate's target is any end: a finished run, even one gone from the listing.
        reached=lambda s: s.state not in {RunState.ACTIVE, RunState.UNKNOWN},
        seen=lambda s: s.state is RunState.FINISHED,
        ended_alone=_never,
        reached_words=lambda s: verified_text(s),  # noqa: PLW0108 - defined further down
    ),
    Action.PAUSE: ActionSpec(
        call=_pause,
        reached=lambda s: s.is_paused or s.state is RunState.UNAVAILABLE,
        seen=lambda s: s.is_paused,
        ended_alone=_finished,
        reached_words=lambda s: "paused" if s.is_paused else verified_text(s),
    ),
    Action.RESUME: ActionSpec(
        call=_resume,
        reached=lambda s: s.is_active_unpaused or s.state is RunState.UNAVAILABLE,
        seen=lambda s: s.is_active_unpaused,
        ended_alone=_finished,
        reached_words=lambda s: (
            f"running again ({s.status})" if s.is_active_unpaused else verified_text(s)
        ),
    ),
}
"""Every action, as a value: its call and what verifies it. A new action is a row here."""


async def execute(
    ctx: AttemptContext,
    attempt_id: str,
    nonce: str,
    reason: str,
    *,
    action: Action | None = None,
    on_accepted: Callable[[Attempt], Awaitable[None]] | None = None,
    attempt: Attempt | None = None,
) -> Execution | None:
    """Carry out the action of a confirmed attempt and verify that it took effect.

    When the attempt's rule needs approvers (SPEC §4.6), nothing is called: the run is claimed
    and the attempt waits for approval (`awaiting_approval`); `approve` takes it from there.

    Args:
        ctx: the use cases' context.
        attempt_id: the attempt from the modal's `private_metadata`.
        nonce: its one-time nonce; a replayed submission finds it consumed.
        reason: the reason typed in the modal.
        action: the action chosen in the modal, when it may differ from the one asked for
            (a terminate switched to a pause); recorded with the submission.
        on_accepted: awaited once VectorShift accepted the call.
        attempt: the attempt as the submission's ack read it, to save reading it again.

    Returns:
        The final execution (or the request waiting for approval), or None when the submission
        was a replay (nothing changed).

    Raises:
        AuditWriteError: an event could not be written; no API call follows a failed write.
    """
    known = attempt if attempt is not None else await ctx.audit.get(attempt_id)
    approval = None if known is None else approval_needed(ctx, known, action or known.action)
    change: Submitted | Requested
    if approval is None:
        change = Submitted(nonce=nonce, owner=ctx.instance_id, reason=reason or None, action=action)
    else:
        change = Requested(
            nonce=nonce,
            approvals_needed=approval.approvals,
            expires_at=ctx.clock() + approval.timeout,
            reason=reason or None,
            action=action,
        )
    started = await ctx.audit.submit(attempt_id, change, base_url=ctx.base_url)
    if started is None:
        return None
    submitted, holder = started
    if holder is not None:
        duplicate = (
            Blocked(Outcome.DUPLICATE, holder_text(holder))
            if submitted.outcome is Outcome.AWAITING_APPROVAL
            else Finished(Outcome.DUPLICATE, error=holder_text(holder))
        )
        return await _finish(ctx, submitted, duplicate, holder=holder)
    if submitted.outcome is Outcome.AWAITING_APPROVAL:
        return Execution(attempt=submitted)
    return await run(ctx, submitted, on_accepted)


def approval_needed(ctx: AttemptContext, attempt: Attempt, action: Action) -> Approval | None:
    """The approval `action` on the attempt's run needs before it runs, from cached facts.

    Decided for the action as submitted (the modal may have switched it); the re-check in `run`
    decides again on fresh facts and fails closed if the approvals it finds fall short.
    """
    policy = ctx.policy()
    actor = actor_of(attempt)
    decision = decide(
        policy,
        actor,
        ctx.directory.upper_bound_facts(actor),
        pipeline_id=attempt.pipeline_id,
        where=Where(attempt.channel_id or "", is_dm=attempt.channel_is_dm),
        action=action,
    )
    if decision.allowed:
        return decision.approval
    rule = policy.rule(attempt.rule)
    return rule.approval if rule is not None else None


async def run(
    ctx: AttemptContext,
    attempt: Attempt,
    on_accepted: Callable[[Attempt], Awaitable[None]] | None = None,
) -> Execution:
    """The saga from a pending attempt that holds its run's claim: re-check, call, verify."""
    pipeline_id, run_id = attempt.pipeline_id or "", attempt.run_id or ""
    # Both re-checks are reads: ask the policy's questions and VectorShift's at once.
    decision, status = await asyncio.gather(
        _recheck_policy(ctx, attempt), _recheck_status(ctx, pipeline_id, run_id)
    )
    if not decision.allowed:
        change = Finished(Outcome.DENIED, rule=decision.rule, error=decision.reason)
        return await _finish(ctx, attempt, change, decision=decision)
    approval = decision.approval
    if approval is not None and len(attempt.approvers) < approval.approvals:
        # The policy changed since the request (or the submission) to one needing approvers:
        # fail closed, and the user asks again under the rule as it stands.
        error = f"rule {decision.rule} now needs approval from {approval.text}"
        change = Finished(Outcome.DENIED, rule=decision.rule, error=error)
        return await _finish(ctx, attempt, change, decision=decision)
    if isinstance(status, AuthError):
        change = Finished(
            Outcome.FAILED, error="the bot's VectorShift key was rejected", http_status=401
        )
        return await _finish(ctx, attempt, change, failure=FailureReason.BAD_KEY)
    if status is not None and status.state is RunState.FINISHED:
        change = Finished(Outcome.ALREADY_FINISHED, verified_status=describe_status(status))
        return await _finish(ctx, attempt, change)
    return await _call_and_verify(ctx, replace(attempt, rule=decision.rule), decision, on_accepted)


async def _recheck_policy(ctx: AttemptContext, attempt: Attempt) -> Decision:
    facts = await ctx.directory.facts(actor_of(attempt))
    return await ctx.decide(attempt, facts, ctx.policy(), counted=True)


async def _recheck_status(
    ctx: AttemptContext, pipeline_id: str, run_id: str
) -> RunStatus | AuthError | None:
    """The run's status before acting; None when unknown (the call itself will tell)."""
    try:
        return await ctx.vectorshift.run_status(pipeline_id=pipeline_id, run_id=run_id)
    except AuthError as exc:
        return exc
    except VectorShiftError:
        return None


async def _call_and_verify(
    ctx: AttemptContext,
    attempt: Attempt,
    decision: Decision,
    on_accepted: Callable[[Attempt], Awaitable[None]] | None,
) -> Execution:
    spec = ACTIONS[attempt.action]
    try:
        result = await spec.call(
            ctx.vectorshift,
            pipeline_id=attempt.pipeline_id or "",
            run_id=attempt.run_id or "",
            deadline_s=ctx.deadline_s,
        )
    except VectorShiftError as exc:
        return await _after_error(ctx, attempt, exc, decision)
    # The API's answer is recorded with the verified result, in the attempt's final event.
    attempt = replace(attempt, http_status=result.http_status, api_status=result.api_status)
    if on_accepted is None:
        return await _verify(ctx, attempt, decision)
    # The user hears that VectorShift accepted only when verifying takes a while: usually
    # the first poll settles it, and the result itself follows at once (one Slack call fewer).
    # Telling them must not delay the polls, and failing to must not lose the result.
    try:
        async with asyncio.TaskGroup() as group:
            verifying = group.create_task(_verify(ctx, attempt, decision))
            await asyncio.wait({verifying}, timeout=ctx.accepted_notice_after_s)
            if not verifying.done():
                try:
                    await on_accepted(attempt)
                except Exception as exc:  # a lost notice must not lose the result
                    logger.warning("could not show that the call was accepted: %r", exc)
    except* Exception as group:
        raise group.exceptions[0] from None  # the verification's own error, as callers expect
    return verifying.result()


async def _after_error(
    ctx: AttemptContext, attempt: Attempt, exc: VectorShiftError, decision: Decision
) -> Execution:
    http_status = getattr(exc, "status_code", None)
    api_status = getattr(exc, "api_status", None)
    failure = failure_reason(exc)
    waited_s = getattr(exc, "waited_s", None) or ctx.deadline_s
    if exc.outcome_known:
        change = Finished(
            Outcome.FAILED,
            rule=attempt.rule,
            http_status=http_status,
            api_status=api_status,
            error=error_text(exc),
        )
        return await _finish(ctx, attempt, change, failure=failure, decision=decision)
    # The call may have reached VectorShift: ask for the run status before anything else.
    status = await ctx.status(attempt.pipeline_id or "", attempt.run_id or "")
    seen = seen_done(attempt.action, status)
    change = Finished(
        Outcome.SUCCEEDED if seen else Outcome.UNCONFIRMED,
        rule=attempt.rule,
        http_status=http_status,
        api_status=api_status,
        error=error_text(exc),
        verified_status=described(attempt.action, status),
    )
    return await _finish(
        ctx,
        attempt,
        change,
        failure=None if seen else failure,
        decision=decision,
        waited_s=waited_s,
    )


async def _verify(ctx: AttemptContext, attempt: Attempt, decision: Decision) -> Execution:
    spec = ACTIONS[attempt.action]
    status: RunStatus | None = None
    for delay in ctx.verify_delays_s:
        await ctx.sleep(delay)
        status = await ctx.status(attempt.pipeline_id or "", attempt.run_id or "")
        if status is None:
            continue
        if spec.reached(status):
            change = _answered(attempt, Outcome.SUCCEEDED, spec.reached_words(status))
            return await _finish(ctx, attempt, change, decision=decision)
        if spec.ended_alone(status):
            # The run finished by itself (a paused run can): nothing was left to pause or resume.
            change = _answered(attempt, Outcome.ALREADY_FINISHED, verified_text(status))
            return await _finish(ctx, attempt, change, decision=decision)
    change = _answered(attempt, Outcome.UNCONFIRMED, described(attempt.action, status))
    return await _finish(
        ctx, attempt, change, failure=FailureReason.STILL_ACTIVE, decision=decision
    )


def _answered(attempt: Attempt, outcome: Outcome, verified: str) -> Finished:
    return Finished(
        outcome,
        rule=attempt.rule,
        http_status=attempt.http_status,
        api_status=attempt.api_status,
        verified_status=verified,
    )


async def _finish(
    ctx: AttemptContext,
    attempt: Attempt,
    change: Finished | Blocked,
    *,
    failure: FailureReason | None = None,
    decision: Decision | None = None,
    holder: Attempt | None = None,
    waited_s: float = 0.0,
) -> Execution:
    updated = await ctx.audit.record(attempt.id, change)
    return Execution(
        attempt=updated or attempt,
        failure=failure,
        decision=decision,
        holder=holder,
        waited_s=waited_s,
    )


def seen_done(action: Action, status: RunStatus | None) -> bool:
    """Whether a status positively shows the action took effect.

    Stricter than verification's `reached`: a status that is unavailable, or a run no longer
    listed, ends polling after a success but proves nothing after an answer of unknown effect.
    """
    return status is not None and ACTIONS[action].seen(status)


def described(action: Action, status: RunStatus | None) -> str:
    """A run status as the audit records it after `action`: the action's words when reached."""
    if status is not None and ACTIONS[action].reached(status):
        return ACTIONS[action].reached_words(status)
    return verified_text(status)


def verified_text(status: RunStatus | None) -> str:
    """A verified run status as the audit records it."""
    if status is None:
        return "unknown (status could not be read)"
    if status.state is RunState.FINISHED:
        return f"stopped ({status.status})"
    if status.state is RunState.UNAVAILABLE:
        return "status unavailable"
    if status.state is RunState.NOT_FOUND:
        return "stopped (run no longer listed)"
    return f"still {status.status or status.state.value}"


_FAILURE_REASONS: Final[tuple[tuple[type[VectorShiftError], FailureReason], ...]] = (
    (AuthError, FailureReason.BAD_KEY),
    (NotFoundError, FailureReason.NOT_FOUND),
    (RateLimitError, FailureReason.RATE_LIMITED),
    (OperationFailedError, FailureReason.REJECTED),
    (BadRequestError, FailureReason.REJECTED),
    (ServerError, FailureReason.SERVER_ERROR),
    (NotSentError, FailureReason.UNREACHABLE),
    (DeadlineExceededError, FailureReason.TIMEOUT),
)


def failure_reason(exc: VectorShiftError) -> FailureReason:
    """The category of a VectorShift error."""
    for kind, reason in _FAILURE_REASONS:
        if isinstance(exc, kind):
            return reason
    return FailureReason.SERVER_ERROR


def error_text(exc: VectorShiftError) -> str:
    """A VectorShift error as the audit records it."""
    return f"{type(exc).__name__}: {exc}"[:300]
