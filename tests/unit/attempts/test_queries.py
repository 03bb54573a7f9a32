"""`can-i`, `status` and `history`: read-only answers on fresh facts (SPEC §4.1)."""

from __future__ import annotations

import pytest
from cases import ADMIN, ALICE, INCIDENTS, MALLORY, PIPELINE, request
from memory import Clock, ScriptedVectorShift

from bot.attempts import confirm, queries
from bot.attempts.confirm import Blocker
from bot.attempts.context import AttemptContext
from bot.domain import Action, Actor, Pipeline, PipelineRef, RunState, Where
from bot.vectorshift import AuthError, ServerError

HERE = Where(INCIDENTS)


async def test_can_i_decides_on_fresh_facts_and_names_the_pipeline(ctx: AttemptContext) -> None:
    alice, pipeline = await queries.can_act(ctx, Actor(ALICE), HERE, PipelineRef("nightly-etl"))
    mallory, _ = await queries.can_act(ctx, Actor(MALLORY), HERE, PipelineRef("nightly-etl"))
    allowed, denied = alice[Action.TERMINATE], mallory[Action.TERMINATE]
    assert queries.may_act(alice) and not queries.may_act(mallory)
    assert (allowed.allowed, allowed.rule, pipeline) == (
        True,
        "oncall",
        Pipeline(PIPELINE, "Nightly ETL"),
    )
    assert (denied.allowed, denied.rule) == (False, "oncall")


@pytest.mark.parametrize(
    ("error", "blocker"),
    [
        (None, Blocker.PIPELINE_NOT_FOUND),
        (AuthError(401, "no"), Blocker.BAD_KEY),
        (ServerError(503, "down"), Blocker.LOOKUP_FAILED),
    ],
)
async def test_a_pipeline_vectorshift_cannot_resolve_is_a_lookup_failure(
    ctx: AttemptContext, vs: ScriptedVectorShift, error: Exception | None, blocker: Blocker
) -> None:
    vs.lookup_error = error  # type: ignore[assignment]
    with pytest.raises(queries.LookupFailedError) as caught:
        await queries.can_act(ctx, Actor(ADMIN), HERE, PipelineRef("Unknown", quoted=True))
    assert caught.value.blocker is blocker


async def test_status_reads_the_run_and_an_error_is_a_lookup_failure(
    ctx: AttemptContext, vs: ScriptedVectorShift
) -> None:
    vs.add_run("run1", "queued")
    status = await queries.run_status(ctx, Pipeline(PIPELINE, None), "run1")
    assert (status.state, status.status) == (RunState.ACTIVE, "queued")
    vs.runs["run1"].statuses = [ServerError(500, "boom")]  # type: ignore[list-item]
    with pytest.raises(queries.LookupFailedError):
        await queries.run_status(ctx, Pipeline(PIPELINE, None), "run1")


async def test_history_shows_only_pipelines_the_caller_may_act_on_here(
    ctx: AttemptContext, vs: ScriptedVectorShift, clock: Clock
) -> None:
    vs.add_run("run1", "running")
    vs.add_run("run2", "running")
    first = (await confirm.prepare(ctx, request("run1"))).attempt
    clock.advance(1)
    second = (await confirm.prepare(ctx, request("run2"))).attempt

    for_alice = await queries.history(ctx, Actor(ALICE), HERE, None, None)
    for_alice_run = await queries.history(
        ctx, Actor(ALICE), HERE, PipelineRef("nightly-etl"), "run1"
    )
    elsewhere = await queries.history(ctx, Actor(ALICE), Where("C0RANDOM001"), None, None)
    for_mallory = await queries.history(ctx, Actor(MALLORY), HERE, None, None)

    assert [a.id for a in for_alice] == [second.id, first.id]
    assert [a.id for a in for_alice_run] == [first.id]
    assert (elsewhere, for_mallory) == ([], [])
