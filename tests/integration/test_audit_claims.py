"""Run claims (SPEC §4.4) on SQLite and PostgreSQL: one holder per run, across instances."""

from __future__ import annotations

import asyncio

from bot.attempts.lifecycle import Action, Finished, Outcome
from bot.audit.db import Database
from bot.audit.repository import AuditRepository

RUN = {"base_url": "https://api.vectorshift.ai/v1", "pipeline_id": "P1", "run_id": "r1"}
CONTENDERS = 6


async def test_the_first_claim_of_a_run_is_granted(repository, attempt_in):
    attempt = await attempt_in(Outcome.PENDING)

    assert await repository.claim_run(**RUN, attempt_id=attempt.id) is None
    assert await repository.blocking_attempt(**RUN) == attempt


async def test_claiming_again_with_the_holding_attempt_is_granted(repository, attempt_in):
    attempt = await attempt_in(Outcome.PENDING)
    await repository.claim_run(**RUN, attempt_id=attempt.id)

    assert await repository.claim_run(**RUN, attempt_id=attempt.id) is None


async def test_a_pending_or_succeeded_holder_blocks_a_second_claim(repository, attempt_in):
    for outcome in (Outcome.PENDING, Outcome.SUCCEEDED):
        run = {**RUN, "run_id": f"run-{outcome}"}
        holder = await attempt_in(Outcome.PENDING)
        await repository.claim_run(**run, attempt_id=holder.id)
        if outcome is not Outcome.PENDING:
            holder = await repository.record(holder.id, Finished(outcome=outcome))
            assert holder is not None
            assert holder.outcome is Outcome.SUCCEEDED
        second = await attempt_in(Outcome.PENDING)

        assert await repository.claim_run(**run, attempt_id=second.id) == holder
        assert await repository.blocking_attempt(**run) == holder


async def test_a_request_waiting_for_approval_holds_its_run(repository, make_attempt, advance):
    holder = await repository.start(make_attempt())
    await repository.claim_run(**RUN, attempt_id=holder.id)
    holder = await advance(holder, Outcome.AWAITING_APPROVAL)
    second = await repository.start(make_attempt())

    assert await repository.claim_run(**RUN, attempt_id=second.id) == holder
    assert await repository.blocking_attempt(**RUN, action=Action.PAUSE) == holder
    assert await repository.blocking_attempt(**RUN, action=Action.RESUME) == holder


async def test_a_holder_in_any_other_outcome_is_replaced(
    repository, make_attempt, advance, attempt_in
):
    holding = {Outcome.PENDING, Outcome.SUCCEEDED, Outcome.AWAITING_APPROVAL}
    others = [o for o in Outcome if o not in holding]
    for outcome in others:
        run = {**RUN, "run_id": f"run-{outcome}"}
        # Claimed while awaiting, then moved on: through pending wherever the outcome is one a
        # pending attempt can finish in.
        holder = await repository.start(make_attempt())
        await repository.claim_run(**run, attempt_id=holder.id)
        holder = await advance(holder, outcome)
        assert holder.outcome is outcome
        assert await repository.blocking_attempt(**run) is None
        second = await attempt_in(Outcome.PENDING)

        assert await repository.claim_run(**run, attempt_id=second.id) is None
        assert await repository.blocking_attempt(**run) == second


async def test_claims_are_per_base_url_pipeline_and_run(repository, attempt_in):
    first = await attempt_in(Outcome.PENDING)
    await repository.claim_run(**RUN, attempt_id=first.id)

    for other in ({"base_url": "https://eu.example/v1"}, {"pipeline_id": "P2"}, {"run_id": "r2"}):
        attempt = await attempt_in(Outcome.PENDING)
        assert await repository.claim_run(**{**RUN, **other}, attempt_id=attempt.id) is None


async def test_blocking_attempt_only_reads(repository, execute_sql):
    assert await repository.blocking_attempt(**RUN) is None
    assert execute_sql("SELECT count(*) AS n FROM run_claims")[0].n == 0


async def contenders(url: str, clock, count: int) -> list[tuple[Database, AuditRepository]]:
    """`count` independent handles (each its own thread and connection), like instances."""
    pairs = []
    for _ in range(count):
        db = Database.open(url)
        pairs.append((db, AuditRepository(db, hmac_key=b"k", clock=clock)))
    return pairs


async def test_concurrent_claims_from_separate_handles_have_exactly_one_winner(
    database_url, clock, attempt_in
):
    handles = await contenders(database_url, clock, CONTENDERS)
    try:
        for round_no in range(3):
            run = {**RUN, "run_id": f"race-{round_no}"}
            attempts = [await attempt_in(Outcome.PENDING, repository=repo) for _, repo in handles]

            results = await asyncio.gather(
                *(
                    repo.claim_run(**run, attempt_id=attempt.id)
                    for (_, repo), attempt in zip(handles, attempts, strict=True)
                )
            )

            winners = [a for a, r in zip(attempts, results, strict=True) if r is None]
            assert len(winners) == 1
            assert [r for r in results if r is not None] == [winners[0]] * (CONTENDERS - 1)
            assert await handles[0][1].blocking_attempt(**run) == winners[0]
    finally:
        for db, _ in handles:
            await db.close()


async def test_concurrent_takeovers_of_a_failed_holder_have_exactly_one_winner(
    database_url, clock, attempt_in
):
    handles = await contenders(database_url, clock, CONTENDERS)
    try:
        repo0 = handles[0][1]
        for round_no in range(3):
            run = {**RUN, "run_id": f"takeover-{round_no}"}
            failed = await attempt_in(Outcome.PENDING, repository=repo0)
            await repo0.claim_run(**run, attempt_id=failed.id)
            assert await repo0.record(failed.id, Finished(outcome=Outcome.FAILED)) is not None
            attempts = [await attempt_in(Outcome.PENDING, repository=repo) for _, repo in handles]

            results = await asyncio.gather(
                *(
                    repo.claim_run(**run, attempt_id=attempt.id)
                    for (_, repo), attempt in zip(handles, attempts, strict=True)
                )
            )

            winners = [a for a, r in zip(attempts, results, strict=True) if r is None]
            assert len(winners) == 1
            assert [r for r in results if r is not None] == [winners[0]] * (CONTENDERS - 1)
    finally:
        for db, _ in handles:
            await db.close()
