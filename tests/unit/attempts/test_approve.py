"""The two-person rule on in-memory ports: request, approve, reject, expire (SPEC §4.6)."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from cases import ADMIN, ALICE, INCIDENTS, PIPELINE, request
from memory import Clock, MemoryAudit, ScriptedVectorShift, StaticDirectory

from bot.attempts import approve, confirm, execute
from bot.attempts.approve import Verdict
from bot.attempts.confirm import Blocker
from bot.attempts.context import AttemptContext
from bot.attempts.lifecycle import Attempt, Outcome
from bot.domain import Action, Actor, ActorFacts
from bot.policy import parse_policy

BOSS = "U0BOSS00001"
LEAD = "U0LEAD00001"
DAVE = "U0DAVE00001"  # in the leads group
MALLORY = "U0MALLORY01"
LEADS = "S0LEADS0001"


def policy(approvals: int = 1, who: str = ALICE) -> str:
    return f"""
admins = ["{ADMIN}"]
[aliases]
nightly-etl = "{PIPELINE}"
[[rules]]
name = "prod"
who = ["{who}"]
pipelines = ["nightly-etl"]
channels = ["{INCIDENTS}"]
approvers = ["{BOSS}", "{LEAD}", "{LEADS}"]
approvals = {approvals}
approval_timeout_minutes = 30
"""


@pytest.fixture
def two_person(ctx: AttemptContext) -> AttemptContext:
    rules = parse_policy(policy())
    ctx.policy = lambda: rules
    ctx.directory = StaticDirectory(facts_of={DAVE: ActorFacts(groups=frozenset({LEADS}))})
    return ctx


async def requested(ctx: AttemptContext, run_id: str, user: str = ALICE) -> Attempt:
    prep = await confirm.prepare(ctx, request(run_id, user=user))
    assert prep.blocker is None, prep.blocker
    done = await execute.execute(ctx, prep.attempt.id, prep.attempt.nonce or "", "runaway")
    assert done is not None
    return done.attempt


async def test_a_request_calls_nothing_claims_the_run_and_waits(
    two_person: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift, clock: Clock
) -> None:
    vs.add_run("run1", "running")
    waiting = await requested(two_person, "run1")

    assert waiting.outcome is Outcome.AWAITING_APPROVAL
    assert (waiting.approvals_needed, waiting.expires_at) == (1, clock() + timedelta(minutes=30))
    assert (waiting.reason, waiting.owner, waiting.nonce) == ("runaway", None, None)
    assert vs.action_calls() == []
    assert audit.kinds(waiting.id) == ["started", "requested"]
    # The run is held: a second request (an admin's too) is a duplicate naming the first.
    second = await confirm.prepare(two_person, request("run1", user=ADMIN))
    assert second.blocker is Blocker.DUPLICATE
    assert second.holder is not None
    assert second.holder.id == waiting.id


async def test_an_approver_approves_and_the_same_saga_runs(
    two_person: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running", "running", "cancelled")
    waiting = await requested(two_person, "run1")

    decided = await approve.approve(two_person, waiting.id, Actor(BOSS))

    assert decided.verdict is Verdict.APPROVED
    assert decided.attempt is not None
    assert (decided.attempt.outcome, decided.attempt.owner) == (Outcome.PENDING, "me")
    done = await execute.run(two_person, decided.attempt)
    assert done.attempt.outcome is Outcome.SUCCEEDED
    assert done.attempt.approved_by == BOSS
    assert done.attempt.approved_at is not None
    assert vs.action_calls() == ["run1"]
    assert audit.kinds(waiting.id) == ["started", "requested", "approved", "finished"]


@pytest.mark.parametrize(
    ("clicker", "why"),
    [
        (ALICE, "You asked for this"),
        (MALLORY, "Only"),
    ],
)
async def test_the_requester_and_outsiders_cannot_approve(
    two_person: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift, clicker: str, why: str
) -> None:
    vs.add_run("run1", "running")
    waiting = await requested(two_person, "run1")
    events = list(audit.events)

    for decide in (approve.approve, lambda c, i, a: approve.reject(c, i, a, "no")):
        decided = await decide(two_person, waiting.id, Actor(clicker))
        assert decided.verdict is Verdict.NOT_ALLOWED
        assert decided.check is not None
        assert why in decided.check.reason

    assert audit.events == events
    assert vs.action_calls() == []


async def test_a_group_approver_counts_only_with_known_membership(
    two_person: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    waiting = await requested(two_person, "run1")
    directory = StaticDirectory(
        facts_of={DAVE: ActorFacts(groups=frozenset({LEADS}), groups_known=False)}
    )
    two_person.directory = directory
    assert (await approve.approve(two_person, waiting.id, Actor(DAVE))).verdict is (
        Verdict.NOT_ALLOWED
    )
    two_person.directory = StaticDirectory(facts_of={DAVE: ActorFacts(groups=frozenset({LEADS}))})
    assert (await approve.approve(two_person, waiting.id, Actor(DAVE))).verdict is Verdict.APPROVED


async def test_two_approvals_need_two_people_and_one_counts_once(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    rules = parse_policy(policy(approvals=2))
    ctx.policy = lambda: rules
    vs.add_run("run1", "running", "running", "cancelled")
    waiting = await requested(ctx, "run1")

    first = await approve.approve(ctx, waiting.id, Actor(BOSS))
    again = await approve.approve(ctx, waiting.id, Actor(BOSS))
    second = await approve.approve(ctx, waiting.id, Actor(LEAD))

    assert (first.verdict, again.verdict, second.verdict) == (
        Verdict.COUNTED,
        Verdict.ALREADY_YOURS,
        Verdict.APPROVED,
    )
    assert second.attempt is not None
    assert second.attempt.approvers == (BOSS, LEAD)
    assert audit.kinds(waiting.id).count("approved") == 2
    assert vs.action_calls() == []


async def test_two_approvers_at_once_make_one_action(
    two_person: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running", "running", "cancelled")
    waiting = await requested(two_person, "run1")

    decided = await asyncio.gather(
        approve.approve(two_person, waiting.id, Actor(BOSS)),
        approve.approve(two_person, waiting.id, Actor(LEAD)),
    )

    assert sorted(d.verdict for d in decided) == [Verdict.APPROVED, Verdict.SETTLED]
    [winner] = [d for d in decided if d.verdict is Verdict.APPROVED]
    assert winner.attempt is not None
    await execute.run(two_person, winner.attempt)
    # A replayed click after the action changes nothing either.
    assert (await approve.approve(two_person, waiting.id, Actor(BOSS))).verdict is Verdict.SETTLED
    assert vs.action_calls() == ["run1"]


async def test_a_rejection_settles_the_request_with_who_and_why(
    two_person: AttemptContext, vs: ScriptedVectorShift, audit: MemoryAudit
) -> None:
    vs.add_run("run1", "running")
    waiting = await requested(two_person, "run1")

    decided = await approve.reject(two_person, waiting.id, Actor(LEAD), "wait for the 06:00 load")

    assert decided.verdict is Verdict.REJECTED
    assert decided.attempt is not None
    assert decided.attempt.outcome is Outcome.REJECTED
    assert decided.attempt.error == f"rejected by {LEAD}: wait for the 06:00 load"
    assert decided.attempt.completed_at is not None
    assert (await approve.approve(two_person, waiting.id, Actor(BOSS))).verdict is Verdict.SETTLED
    assert audit.kinds(waiting.id)[-1] == "rejected"
    assert vs.action_calls() == []
    # The run is free again: a new request may be made.
    again = await confirm.prepare(two_person, request("run1", user=ALICE))
    assert again.blocker is None


async def test_requests_nobody_decided_expire_once(
    two_person: AttemptContext, vs: ScriptedVectorShift, clock: Clock
) -> None:
    vs.add_run("run1", "running")
    vs.add_run("run2", "running")
    early = await requested(two_person, "run1")
    clock.advance(20 * 60)
    late = await requested(two_person, "run2")

    assert await approve.expire_overdue(two_person) == []
    clock.advance(10 * 60)
    [expired] = await approve.expire_overdue(two_person)
    assert await approve.expire_overdue(two_person) == []

    assert expired.id == early.id
    assert expired.outcome is Outcome.EXPIRED
    assert expired.error == "no approval by 2026-12-01 09:30 UTC"
    assert (await two_person.audit.get(late.id)).outcome is Outcome.AWAITING_APPROVAL  # type: ignore[union-attr]
    assert (await approve.approve(two_person, early.id, Actor(BOSS))).verdict is Verdict.SETTLED


async def test_the_requesters_policy_is_checked_again_after_approval(
    two_person: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    waiting = await requested(two_person, "run1")
    decided = await approve.approve(two_person, waiting.id, Actor(BOSS))
    assert decided.attempt is not None
    rules = parse_policy(policy(who=MALLORY))  # Alice was taken off the rule meanwhile
    two_person.policy = lambda: rules

    done = await execute.run(two_person, decided.attempt)

    assert done.attempt.outcome is Outcome.DENIED
    assert vs.action_calls() == []


async def test_a_run_that_finished_while_waiting_is_not_acted_on(
    two_person: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running", "completed")
    waiting = await requested(two_person, "run1")
    decided = await approve.approve(two_person, waiting.id, Actor(BOSS))
    assert decided.attempt is not None

    done = await execute.run(two_person, decided.attempt)

    assert done.attempt.outcome is Outcome.ALREADY_FINISHED
    assert vs.action_calls() == []


async def test_a_rule_that_gained_approvers_meanwhile_does_not_let_a_submission_through(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    """Prepared under a rule without approvers, submitted after one was added: it waits."""
    vs.add_run("run1", "running")
    prep = await confirm.prepare(ctx, request("run1", user=ALICE))
    rules = parse_policy(policy().replace('name = "prod"', 'name = "oncall"'))
    ctx.policy = lambda: rules

    done = await execute.execute(ctx, prep.attempt.id, prep.attempt.nonce or "", "runaway")

    assert done is not None
    assert done.attempt.outcome is Outcome.AWAITING_APPROVAL
    assert vs.action_calls() == []


async def test_what_waits_on_whom(two_person: AttemptContext, vs: ScriptedVectorShift) -> None:
    vs.add_run("run1", "running")
    waiting = await requested(two_person, "run1")

    assert await approve.waiting_on(two_person, Actor(BOSS)) == ([waiting], [])
    assert await approve.waiting_on(two_person, Actor(DAVE)) == ([waiting], [])
    assert await approve.waiting_on(two_person, Actor(ALICE)) == ([], [waiting])
    assert await approve.waiting_on(two_person, Actor(MALLORY)) == ([], [])


async def test_pause_needs_approval_under_a_rule_that_says_so(
    two_person: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    prep = await confirm.prepare(two_person, request("run1", user=ALICE, action=Action.PAUSE))
    done = await execute.execute(two_person, prep.attempt.id, prep.attempt.nonce or "", "look")
    assert done is not None
    assert (done.attempt.outcome, done.attempt.action) == (Outcome.AWAITING_APPROVAL, Action.PAUSE)


SPLIT = f"""
[aliases]
nightly-etl = "{PIPELINE}"
[[rules]]
name = "pause-alone"
who = ["{ALICE}"]
pipelines = ["nightly-etl"]
channels = ["{INCIDENTS}"]
actions = ["pause", "resume"]
[[rules]]
name = "terminate-with-approval"
who = ["{ALICE}"]
pipelines = ["nightly-etl"]
channels = ["{INCIDENTS}"]
actions = ["terminate"]
approvers = ["{BOSS}"]
"""


@pytest.mark.parametrize(
    ("asked", "submitted", "outcome"),
    [
        # The modal switched a terminate (which needs approval) to a pause (which does not).
        (Action.TERMINATE, Action.PAUSE, Outcome.SUCCEEDED),
        # And the other way: the pause's rule acts alone, the terminate's does not.
        (Action.PAUSE, Action.TERMINATE, Outcome.AWAITING_APPROVAL),
    ],
)
async def test_approval_follows_the_action_submitted_not_the_one_asked_for(
    ctx: AttemptContext,
    vs: ScriptedVectorShift,
    asked: Action,
    submitted: Action,
    outcome: Outcome,
) -> None:
    rules = parse_policy(SPLIT)
    ctx.policy = lambda: rules
    vs.add_run("run1", "running", "paused")
    prep = await confirm.prepare(ctx, request("run1", user=ALICE, action=asked))
    assert prep.blocker is None

    done = await execute.execute(
        ctx, prep.attempt.id, prep.attempt.nonce or "", "why", action=submitted
    )

    assert done is not None
    assert (done.attempt.outcome, done.attempt.action) == (outcome, submitted)
    called = vs.action_calls(Action.PAUSE) + vs.action_calls(Action.TERMINATE)
    assert called == (["run1"] if outcome is Outcome.SUCCEEDED else [])
