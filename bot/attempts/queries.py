"""Read-only answers: `can-i`, `status` and `history` (SPEC §4.1). Nothing here writes."""

from __future__ import annotations

from bot.attempts.confirm import Blocker
from bot.attempts.context import AttemptContext
from bot.attempts.lifecycle import Attempt
from bot.domain import Action, Actor, ActorFacts, Pipeline, PipelineRef, RunStatus, Where
from bot.errors import BotError
from bot.policy import Decision, Policy, decide
from bot.vectorshift import AuthError, NotFoundError, VectorShiftError


class LookupFailedError(BotError):
    """A read-only question could not be answered by VectorShift; `blocker` says why."""

    def __init__(self, exc: VectorShiftError) -> None:
        if isinstance(exc, NotFoundError):
            self.blocker = Blocker.PIPELINE_NOT_FOUND
        elif isinstance(exc, AuthError):
            self.blocker = Blocker.BAD_KEY
        else:
            self.blocker = Blocker.LOOKUP_FAILED
        super().__init__(self.blocker.value)


async def can_act(
    ctx: AttemptContext, actor: Actor, where: Where, pipeline: PipelineRef
) -> tuple[dict[Action, Decision], Pipeline]:
    """What `actor` may do to runs of `pipeline` here, per action, decided on fresh facts.

    Raises:
        LookupFailedError: the pipeline could not be resolved.
    """
    policy = ctx.policy()
    try:
        resolved = await ctx.resolve(policy, pipeline)
    except VectorShiftError as exc:
        raise LookupFailedError(exc) from None
    facts = await ctx.directory.facts(actor)
    budget = await ctx.budget(actor.user_id, policy)
    decisions = {
        action: decide(
            policy,
            actor,
            facts,
            pipeline_id=resolved.id,
            where=where,
            budget=budget,
            now=ctx.clock(),
            action=action,
        )
        for action in Action
    }
    return decisions, resolved


def may_act(decisions: dict[Action, Decision]) -> Decision | None:
    """A decision allowing some action (terminate first), or None when none is allowed."""
    allowed = [d for d in decisions.values() if d.allowed]
    return (
        decisions[Action.TERMINATE]
        if decisions[Action.TERMINATE].allowed
        else next(iter(allowed), None)
    )


async def run_status(ctx: AttemptContext, pipeline: Pipeline, run_id: str) -> RunStatus:
    """The run's current status.

    Raises:
        LookupFailedError: VectorShift could not answer.
    """
    try:
        return await ctx.vectorshift.run_status(pipeline_id=pipeline.id, run_id=run_id)
    except VectorShiftError as exc:
        raise LookupFailedError(exc) from None


async def history(
    ctx: AttemptContext,
    actor: Actor,
    where: Where,
    pipeline: PipelineRef | None,
    run_id: str | None,
) -> list[Attempt]:
    """The last 10 attempts on pipelines the actor may act on (here).

    Raises:
        LookupFailedError: a named pipeline could not be resolved.
    """
    policy = ctx.policy()
    facts = await ctx.directory.facts(actor)
    if pipeline is not None:
        try:
            resolved = await ctx.resolve(policy, pipeline)
        except VectorShiftError as exc:
            raise LookupFailedError(exc) from None
        if not _any_action(policy, actor, facts, resolved.id, where):
            return []
        return await ctx.audit.history(pipeline_ids=[resolved.id], run_id=run_id)
    if _any_action(policy, actor, facts, "*", where):
        return await ctx.audit.history(pipeline_ids=None)
    allowed = {
        pid
        for rule in policy.rules
        for pid in rule.pipelines
        if pid != "*" and _any_action(policy, actor, facts, pid, where)
    }
    return await ctx.audit.history(pipeline_ids=sorted(allowed)) if allowed else []


def _any_action(
    policy: Policy, actor: Actor, facts: ActorFacts, pipeline_id: str, where: Where
) -> bool:
    return any(
        decide(policy, actor, facts, pipeline_id=pipeline_id, where=where, action=a).allowed
        for a in Action
    )
