"""Pause and resume through the one saga: targets, verification, claims, a switch in the modal."""

from __future__ import annotations

from cases import ALICE, request
from memory import MemoryAudit, ScriptedVectorShift

from bot.attempts import confirm, execute
from bot.attempts.confirm import Blocker
from bot.attempts.context import AttemptContext
from bot.attempts.execute import Execution
from bot.attempts.lifecycle import Outcome
from bot.domain import Action
from bot.vectorshift import OperationFailedError


async def act(
    ctx: AttemptContext, run: str, action: Action, *, switch_to: Action | None = None
) -> Execution:
    prep = await confirm.prepare(ctx, request(run, user=ALICE, action=action))
    assert prep.blocker is None, prep.blocker
    done = await execute.execute(
        ctx, prep.attempt.id, prep.attempt.nonce or "", "why", action=switch_to
    )
    assert done is not None
    return done


def pausable(vs: ScriptedVectorShift, run: str) -> None:
    scripted = vs.add_run(run, "running")
    scripted.becomes = {
        Action.PAUSE: "paused",
        Action.RESUME: "running",
        Action.TERMINATE: "cancelled",
    }


async def test_a_pause_is_verified_when_the_run_reports_paused(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    pausable(vs, "run1")
    done = await act(ctx, "run1", Action.PAUSE)
    assert (done.attempt.action, done.attempt.outcome, done.attempt.verified_status) == (
        Action.PAUSE,
        Outcome.SUCCEEDED,
        "paused",
    )
    assert vs.action_calls(Action.PAUSE) == ["run1"]


async def test_a_paused_run_resumes_and_is_verified_running_again(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    pausable(vs, "run1")
    await act(ctx, "run1", Action.PAUSE)
    done = await act(ctx, "run1", Action.RESUME)
    assert (done.attempt.outcome, done.attempt.verified_status) == (
        Outcome.SUCCEEDED,
        "running again (running)",
    )


async def test_after_a_verified_pause_a_second_pause_is_a_duplicate_naming_who_paused(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    pausable(vs, "run1")
    first = await act(ctx, "run1", Action.PAUSE)
    second = await confirm.prepare(ctx, request("run1", action=Action.PAUSE))
    assert second.blocker is Blocker.DUPLICATE
    assert second.holder is not None and second.holder.id == first.attempt.id


async def test_after_a_verified_pause_terminate_goes_ahead(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    pausable(vs, "run1")
    await act(ctx, "run1", Action.PAUSE)
    done = await act(ctx, "run1", Action.TERMINATE)
    assert (done.attempt.outcome, done.attempt.verified_status) == (
        Outcome.SUCCEEDED,
        "stopped (cancelled)",
    )
    after = await confirm.prepare(ctx, request("run1", action=Action.RESUME))
    assert after.blocker is not None  # a terminated run is done with: nothing more goes ahead


async def test_resuming_a_running_run_or_pausing_a_paused_one_offers_nothing_to_do(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("running", "running")
    vs.add_run("paused", "paused")
    resume = await confirm.prepare(ctx, request("running", action=Action.RESUME))
    pause = await confirm.prepare(ctx, request("paused", action=Action.PAUSE))
    assert (resume.blocker, pause.blocker) == (Blocker.NOT_PAUSED, Blocker.ALREADY_PAUSED)
    assert vs.action_calls(Action.PAUSE) == vs.action_calls(Action.RESUME) == []


async def test_a_run_that_finishes_on_its_own_while_being_paused_is_said_to_have_finished(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running").becomes = {Action.PAUSE: "completed"}
    done = await act(ctx, "run1", Action.PAUSE)
    assert (done.attempt.outcome, done.attempt.verified_status) == (
        Outcome.ALREADY_FINISHED,
        "stopped (completed)",
    )


async def test_a_pause_answered_200_failed_fails_with_vectorshifts_words(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run(
        "run1", "running", pause=OperationFailedError(200, "run could not be paused", "failed")
    )
    done = await act(ctx, "run1", Action.PAUSE)
    assert (done.attempt.outcome, done.attempt.http_status, done.attempt.api_status) == (
        Outcome.FAILED,
        200,
        "failed",
    )


async def test_a_terminate_switched_to_a_pause_in_the_modal_pauses_and_records_it(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    pausable(vs, "run1")
    done = await act(ctx, "run1", Action.TERMINATE, switch_to=Action.PAUSE)
    assert (done.attempt.action, done.attempt.outcome) == (Action.PAUSE, Outcome.SUCCEEDED)
    assert vs.action_calls(Action.TERMINATE) == []
    assert vs.action_calls(Action.PAUSE) == ["run1"]
    [submitted] = [fields for aid, kind, fields in audit.events if kind == "submitted"]
    assert "action" in submitted


async def test_a_policy_that_allows_pause_but_not_terminate_is_decided_on_the_chosen_action(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    from bot.policy import parse_policy

    ctx.policy = lambda: parse_policy(
        '[aliases]\nnightly-etl = "65f1c0ffee0123456789abcd"\n[[rules]]\nname = "pausers"\n'
        f'who = ["{ALICE}"]\npipelines = ["nightly-etl"]\nchannels = ["*"]\n'
        'actions = ["pause", "resume"]\n'
    )
    pausable(vs, "run1")
    denied = await confirm.prepare(ctx, request("run1", user=ALICE, action=Action.TERMINATE))
    assert denied.blocker is Blocker.DENIED
    assert denied.decision is not None and "does not allow terminate" in denied.decision.reason
    paused = await act(ctx, "run1", Action.PAUSE)
    assert paused.attempt.outcome is Outcome.SUCCEEDED
    # Switching a pause back to terminate in the modal is decided again on submit, and denied.
    pausable(vs, "run2")
    switched = await act(ctx, "run2", Action.PAUSE, switch_to=Action.TERMINATE)
    assert switched.attempt.outcome is Outcome.DENIED
    assert vs.action_calls(Action.TERMINATE) == []
