"""Group commit: queued writes share one transaction, but each succeeds or fails on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.audit.repository import AuditRepository
from bot.domain import Attempt, Outcome
from bot.errors import AuditWriteError


async def test_one_failing_write_in_a_batch_leaves_the_others_committed_and_the_chain_whole(
    repository: AuditRepository, make_attempt: Callable[..., Attempt]
) -> None:
    first = await repository.add(make_attempt())
    fresh = [make_attempt() for _ in range(40)]

    results = await asyncio.gather(
        *(repository.add(a) for a in fresh[:20]),
        repository.add(first),  # the same id again: must fail alone
        *(repository.add(a) for a in fresh[20:]),
        return_exceptions=True,
    )

    failures = [r for r in results if isinstance(r, BaseException)]
    assert len(failures) == 1
    assert isinstance(failures[0], AuditWriteError)
    for attempt in fresh:
        assert await repository.get(attempt.id) == attempt
    count, _ = await repository.chain_head()
    assert count == 41
    verified = await repository.verify()
    assert (verified.ok, verified.count) == (True, 41)


async def test_concurrent_compare_and_set_on_one_attempt_lets_exactly_one_win(
    repository: AuditRepository, make_attempt: Callable[..., Attempt]
) -> None:
    attempt = await repository.add(make_attempt(nonce="n-1"))

    results = await asyncio.gather(
        *(
            repository.update(
                attempt.id,
                expect={Outcome.AWAITING_CONFIRMATION},
                expect_nonce="n-1",
                outcome=Outcome.PENDING,
            )
            for _ in range(10)
        )
    )

    assert sum(r is not None for r in results) == 1
    assert (await repository.verify()).ok


@pytest.mark.parametrize("size", [1, 2, 64, 65])
async def test_batches_of_any_size_keep_fifo_order_in_the_chain(
    repository: AuditRepository, make_attempt: Callable[..., Attempt], size: int
) -> None:
    attempts = [make_attempt() for _ in range(size)]

    await asyncio.gather(*(repository.add(a) for a in attempts))

    exported = await repository.export()
    assert [r["id"] for r in exported] == [a.id for a in attempts]
    assert (await repository.verify()).ok


async def test_start_termination_is_one_compare_and_set_and_one_claim(
    repository: AuditRepository, make_attempt: Callable[..., Attempt]
) -> None:
    base = "https://api.vectorshift.ai/v1"
    one = await repository.add(make_attempt(run_id="run-shared", nonce="n-one"))
    two = await repository.add(make_attempt(run_id="run-shared", nonce="n-two"))

    first, second = await asyncio.gather(
        repository.start_termination(one.id, expect_nonce="n-one", base_url=base, reason="a"),
        repository.start_termination(two.id, expect_nonce="n-two", base_url=base, reason="b"),
    )
    replay = await repository.start_termination(one.id, expect_nonce="n-one", base_url=base)

    assert first is not None
    assert second is not None
    holders = [first[1], second[1]]
    assert holders.count(None) == 1  # exactly one of them holds the run
    [blocked_by] = [h for h in holders if h is not None]
    assert blocked_by.outcome is Outcome.PENDING
    assert {first[0].outcome, second[0].outcome} == {Outcome.PENDING}
    assert replay is None
    assert (await repository.verify()).ok


async def test_start_termination_with_a_wrong_nonce_writes_nothing(
    repository: AuditRepository, make_attempt: Callable[..., Attempt]
) -> None:
    attempt = await repository.add(make_attempt(nonce="right"))

    result = await repository.start_termination(
        attempt.id, expect_nonce="wrong", base_url="https://api.vectorshift.ai/v1"
    )

    assert result is None
    assert await repository.get(attempt.id) == attempt
    assert (
        await repository.blocking_attempt(
            base_url="https://api.vectorshift.ai/v1",
            pipeline_id=attempt.pipeline_id or "",
            run_id=attempt.run_id or "",
        )
        is None
    )
