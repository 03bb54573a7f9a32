"""The two-person rule (SPEC §4.6): approve, reject, expire, and the requests waiting on someone.

A request (`awaiting_approval`) already holds its run's claim, so nobody else acts on the run
while it waits. An approver is judged by the requesters' membership rules (`may_approve`:
groups with known membership, never guests or users of another org through a group, never the
requester). Each approval is one `Approved` change under the attempt's row lock: two approvers
clicking at once, or one clicking twice, on one instance or two, end with one action. Once
enough distinct approvers agreed, the attempt is `pending` on the approving instance and goes
through `execute.run`, the same saga as any confirmed action, which re-checks the requester's
policy and the run's state first. Rejection and expiry settle the request.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from enum import StrEnum

from bot.attempts.context import AttemptContext
from bot.attempts.lifecycle import Approved, Attempt, Expired, Outcome, Rejected, RequestPosted
from bot.domain import Actor
from bot.policy import ApproverCheck, may_approve

__all__ = [
    "Decided",
    "Verdict",
    "approve",
    "expire_overdue",
    "judge",
    "posted",
    "precheck",
    "reject",
    "waiting_on",
]


class Verdict(StrEnum):
    """What became of an approver's click."""

    APPROVED = "approved"
    """Enough approvers agreed: the attempt is pending on this instance, to be run."""
    COUNTED = "counted"
    """One approval of several: the request waits for more."""
    REJECTED = "rejected"
    NOT_ALLOWED = "not_allowed"
    """The clicker may not decide this request (not an approver, or the requester)."""
    ALREADY_YOURS = "already_yours"
    """The clicker had approved it already."""
    SETTLED = "settled"
    """The request was decided already (approved, rejected, expired) or does not exist."""


@dataclass(frozen=True)
class Decided:
    """The result of an approval or rejection click.

    Attributes:
        verdict: what became of it.
        attempt: the attempt after the click (or as found), None when unknown.
        check: how the clicker was judged, when they were.
    """

    verdict: Verdict
    attempt: Attempt | None
    check: ApproverCheck | None = None


async def judge(ctx: AttemptContext, attempt: Attempt, clicker: Actor) -> ApproverCheck:
    """Whether `clicker` may decide `attempt`, on fresh membership facts."""
    facts = await ctx.directory.facts(clicker)
    return may_approve(
        ctx.policy(), rule=attempt.rule, approver=clicker, facts=facts, requester=attempt.user_id
    )


def precheck(ctx: AttemptContext, attempt: Attempt, clicker: Actor) -> ApproverCheck:
    """Whether `clicker` could decide `attempt` at best, from cached facts alone (no I/O).

    A refusal here is certain (the click is answered at once); an allow is judged again on
    fresh facts when the decision is recorded.
    """
    return may_approve(
        ctx.policy(),
        rule=attempt.rule,
        approver=clicker,
        facts=ctx.directory.upper_bound_facts(clicker),
        requester=attempt.user_id,
    )


async def posted(ctx: AttemptContext, attempt_id: str, request_ts: str) -> Attempt | None:
    """Remember where the request was posted, so its message can be updated when decided."""
    return await ctx.audit.record(attempt_id, RequestPosted(request_ts=request_ts))


async def approve(
    ctx: AttemptContext, attempt_id: str, approver: Actor, *, request_ts: str | None = None
) -> Decided:
    """Record `approver`'s approval of a waiting request.

    Args:
        ctx: the use cases' context.
        attempt_id: the request.
        approver: who clicked.
        request_ts: the request's message when the click came from it (heals a request whose
            message ts was not saved).

    Returns:
        `APPROVED` with the pending attempt (the caller runs `execute.run` on it), `COUNTED`
        while more approvers are needed, or why nothing changed.

    Raises:
        AuditWriteError: the approval could not be recorded.
    """
    found = await ctx.audit.get(attempt_id)
    if found is None or found.outcome is not Outcome.AWAITING_APPROVAL:
        return Decided(Verdict.SETTLED, found)
    check = await judge(ctx, found, approver)
    if not check.allowed:
        return Decided(Verdict.NOT_ALLOWED, found, check)
    updated = await ctx.audit.record(
        attempt_id,
        Approved(approver=approver.user_id, owner=ctx.instance_id, request_ts=request_ts),
    )
    if updated is None:
        # Lost a race, or a second click: say which from what is stored now.
        now = await ctx.audit.get(attempt_id)
        mine = now is not None and approver.user_id in now.approvers
        still = now is not None and now.outcome is Outcome.AWAITING_APPROVAL
        return Decided(Verdict.ALREADY_YOURS if mine and still else Verdict.SETTLED, now, check)
    if updated.outcome is Outcome.PENDING:
        return Decided(Verdict.APPROVED, updated, check)
    return Decided(Verdict.COUNTED, updated, check)


async def reject(ctx: AttemptContext, attempt_id: str, approver: Actor, reason: str) -> Decided:
    """Record `approver`'s rejection of a waiting request (`reason` may be empty).

    Raises:
        AuditWriteError: the rejection could not be recorded.
    """
    found = await ctx.audit.get(attempt_id)
    if found is None or found.outcome is not Outcome.AWAITING_APPROVAL:
        return Decided(Verdict.SETTLED, found)
    check = await judge(ctx, found, approver)
    if not check.allowed:
        return Decided(Verdict.NOT_ALLOWED, found, check)
    error = f"rejected by {approver.user_id}" + (f": {reason}" if reason else "")
    updated = await ctx.audit.record(attempt_id, Rejected(error=error))
    if updated is None:
        return Decided(Verdict.SETTLED, await ctx.audit.get(attempt_id), check)
    return Decided(Verdict.REJECTED, updated, check)


async def expire_overdue(ctx: AttemptContext) -> list[Attempt]:
    """Expire the requests nobody decided in time; each is expired by one instance only.

    Returns:
        The requests this instance expired (a request another instance expired first, or that
        was decided meanwhile, drops out).
    """
    expired: list[Attempt] = []
    for attempt in await ctx.audit.overdue_approvals(now=ctx.clock()):
        deadline = attempt.expires_at or ctx.clock()
        error = f"no approval by {deadline.astimezone(UTC):%Y-%m-%d %H:%M UTC}"
        updated = await ctx.audit.record(attempt.id, Expired(error=error))
        if updated is not None:
            expired.append(updated)
    return expired


async def waiting_on(ctx: AttemptContext, actor: Actor) -> tuple[list[Attempt], list[Attempt]]:
    """The requests `actor` may decide, and their own requests still waiting (oldest first)."""
    waiting = await ctx.audit.awaiting_approval()
    mine = [a for a in waiting if a.user_id == actor.user_id]
    others = [a for a in waiting if a.user_id != actor.user_id]
    if not others:
        return [], mine
    facts = await ctx.directory.facts(actor)
    policy = ctx.policy()
    decidable = [
        a
        for a in others
        if may_approve(
            policy, rule=a.rule, approver=actor, facts=facts, requester=a.user_id
        ).allowed
    ]
    return decidable, mine
