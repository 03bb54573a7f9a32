"""Preparing the confirmation and checking a submission, on in-memory ports (SPEC §4.2)."""

from __future__ import annotations

from datetime import datetime

import pytest
from cases import ADMIN, ALICE, INCIDENTS, MALLORY, PIPELINE, request
from memory import MemoryAudit, ScriptedVectorShift

from bot.attempts import confirm
from bot.attempts.confirm import Blocker
from bot.attempts.context import AttemptContext
from bot.attempts.lifecycle import Finished, Outcome, Submitted
from bot.domain import PipelineRef, Where
from bot.errors import AuditWriteError
from bot.vectorshift import AuthError, ServerError


async def test_an_allowed_request_awaits_confirmation_with_its_details_and_a_fresh_nonce(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")

    prep = await confirm.prepare(ctx, request("run1", user=ALICE))

    assert prep.blocker is None
    attempt = prep.attempt
    assert attempt.outcome is Outcome.AWAITING_CONFIRMATION
    assert (attempt.pipeline_id, attempt.pipeline_name, attempt.rule) == (
        PIPELINE,
        "Nightly ETL",
        "oncall",
    )
    assert attempt.nonce is not None and len(attempt.nonce) >= 16
    assert prep.require_reason is True
    assert prep.status is not None and prep.status.status == "running"
    assert audit.kinds(attempt.id) == ["started"]  # one write per modal, with everything learnt
    assert ctx.awaiting[attempt.id] == attempt  # the submit ack's hint


async def test_a_request_the_policy_denies_is_blocked_with_the_closest_rule(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")

    prep = await confirm.prepare(ctx, request("run1", user=MALLORY))

    assert prep.blocker is Blocker.DENIED
    assert prep.attempt.outcome is Outcome.DENIED
    assert prep.attempt.rule == "oncall"
    assert audit.kinds(prep.attempt.id) == ["started"]
    assert vs.action_calls() == []


@pytest.mark.parametrize(
    ("error", "blocker", "recorded"),
    [
        (None, Blocker.PIPELINE_NOT_FOUND, "pipeline not found"),
        (
            AuthError(401, "Invalid API key"),
            Blocker.BAD_KEY,
            "the bot's VectorShift key was rejected",
        ),
        (ServerError(500, "boom"), Blocker.LOOKUP_FAILED, "lookup failed: HTTP 500: boom"),
    ],
)
async def test_a_pipeline_that_cannot_be_resolved_blocks_the_confirmation(
    ctx: AttemptContext,
    vs: ScriptedVectorShift,
    error: Exception | None,
    blocker: Blocker,
    recorded: str,
) -> None:
    vs.lookup_error = error  # type: ignore[assignment]

    prep = await confirm.prepare(ctx, request("run1", pipeline='"No Such Thing"'))

    assert (prep.blocker, prep.attempt.outcome, prep.attempt.error) == (
        blocker,
        Outcome.FAILED,
        recorded,
    )


async def test_a_run_that_already_finished_offers_nothing_to_do(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "completed")
    prep = await confirm.prepare(ctx, request("run1"))
    assert (prep.blocker, prep.attempt.outcome, prep.attempt.verified_status) == (
        Blocker.ALREADY_FINISHED,
        Outcome.ALREADY_FINISHED,
        "completed",
    )


async def test_an_unknown_run_is_said_to_be_unknown(ctx: AttemptContext) -> None:
    prep = await confirm.prepare(ctx, request("nosuchrun"))
    assert (prep.blocker, prep.attempt.outcome) == (Blocker.RUN_NOT_FOUND, Outcome.FAILED)


async def test_a_run_held_by_another_attempt_is_a_duplicate_naming_the_holder(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    first = (await confirm.prepare(ctx, request("run1"))).attempt
    await audit.submit(
        first.id, Submitted(nonce=first.nonce or "", owner="me"), base_url=ctx.base_url
    )

    prep = await confirm.prepare(ctx, request("run1", user=ALICE))

    assert prep.blocker is Blocker.DUPLICATE
    assert prep.holder is not None and prep.holder.id == first.id
    assert prep.attempt.outcome is Outcome.DUPLICATE
    assert prep.attempt.error is not None and f"attempt {first.id}" in prep.attempt.error


async def test_when_the_attempt_cannot_be_written_nothing_is_recorded_or_acted_on(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    """The lookups come first (one write per modal); no action is ever called without it."""
    audit.failing.add("started")
    vs.add_run("run1", "running")

    with pytest.raises(AuditWriteError):
        await confirm.prepare(ctx, request("run1"))

    assert [call[0] for call in vs.calls] == ["lookup", "status"]
    assert vs.action_calls() == []
    assert audit.attempts == {}


async def test_the_ack_path_precheck_denies_only_what_is_certain(ctx: AttemptContext) -> None:
    here = Where(INCIDENTS)
    assert confirm.precheck(ctx, MALLORY_ACTOR, here, PipelineRef("nightly-etl")).allowed is False
    assert confirm.precheck(ctx, ALICE_ACTOR, here, PipelineRef("nightly-etl")).allowed is True
    # A name is unknown before VectorShift is asked: who and where are judged, the rest later.
    assert confirm.precheck(ctx, ALICE_ACTOR, here, PipelineRef("Nightly ETL", quoted=True)).allowed


async def test_a_submission_is_checked_locally_and_the_hint_is_taken_once(
    ctx: AttemptContext, audit: MemoryAudit, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "running")
    attempt = (await confirm.prepare(ctx, request("run1", user=ALICE))).attempt
    nonce = attempt.nonce or ""

    hinted = await confirm.awaiting(ctx, attempt.id)
    assert hinted == attempt
    assert attempt.id not in ctx.awaiting  # a second submission reads the store
    assert confirm.check_submission(ctx, hinted, "forged", "why").attempt is None
    missing = confirm.check_submission(ctx, hinted, nonce, "")
    assert (missing.reason_missing, missing.accepted) == (True, False)
    assert confirm.check_submission(ctx, hinted, nonce, "why").accepted

    await audit.submit(attempt.id, Submitted(nonce=nonce, owner="me"), base_url=ctx.base_url)
    await audit.record(attempt.id, Finished(Outcome.SUCCEEDED))
    stale = await confirm.awaiting(ctx, attempt.id)
    assert confirm.check_submission(ctx, stale, nonce, "why").attempt is None


async def test_a_denial_in_the_ack_is_recorded_complete(
    ctx: AttemptContext, audit: MemoryAudit
) -> None:
    decision = confirm.precheck(ctx, MALLORY_ACTOR, Where(INCIDENTS), PipelineRef("nightly-etl"))
    attempt = await confirm.record_denial(ctx, request("run1", user=MALLORY), decision)
    assert (attempt.outcome, attempt.pipeline_id, attempt.rule) == (
        Outcome.DENIED,
        PIPELINE,
        "oncall",
    )
    assert attempt.completed_at is not None
    assert audit.kinds(attempt.id) == ["started"]


ALICE_ACTOR = request("x", user=ALICE).actor
MALLORY_ACTOR = request("x", user=MALLORY).actor
ADMIN_ACTOR = request("x", user=ADMIN).actor


async def test_budgets_are_read_only_for_allowing_rules_that_have_a_limit(
    ctx: AttemptContext,
    audit: MemoryAudit,
    vs: ScriptedVectorShift,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Limits only take away: an admin or a denial needs no budget read (one read per limit)."""
    reads: list[str] = []
    real = audit.budget_times

    async def counted(*, user_id: str, rule: str, since: datetime) -> list[datetime]:
        reads.append(rule)
        return await real(user_id=user_id, rule=rule, since=since)

    monkeypatch.setattr(audit, "budget_times", counted)
    for run, user in (("run1", ADMIN), ("run2", MALLORY), ("run3", ALICE)):
        vs.add_run(run, "running")
        await confirm.prepare(ctx, request(run, user=user))

    assert reads == ["oncall"]  # Alice's, under the rule that allows her and has max_per_hour
