"""Group commit: queued writes share one transaction, but each succeeds or fails on its own."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from bot.attempts.lifecycle import Attempt, Outcome, Submitted
from bot.audit.repository import AuditRepository
from bot.errors import AuditWriteError


async def test_one_failing_write_in_a_batch_leaves_the_others_committed_and_the_chain_whole(
    repository: AuditRepository, make_attempt: Callable[..., Attempt]
) -> None:
    first = await repository.start(make_attempt())
    fresh = [make_attempt() for _ in range(40)]

    results = await asyncio.gather(
        *(repository.start(a) for a in fresh[:20]),
        repository.start(first),  # the same id again: must fail alone
        *(repository.start(a) for a in fresh[20:]),
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
    attempt = await repository.start(make_attempt(nonce="n-1"))

    results = await asyncio.gather(
        *(
            repository.record(attempt.id, Submitted(nonce="n-1", owner=f"host-{n}"))
            for n in range(10)
        )
    )

    [winner] = [r for r in results if r is not None]
    assert winner.outcome is Outcome.PENDING
    assert await repository.get(attempt.id) == winner
    assert (await repository.chain_head())[0] == 2
    assert (await repository.verify()).ok


@pytest.mark.parametrize("size", [1, 2, 64, 65])
async def test_batches_of_any_size_keep_fifo_order_in_the_chain(
    repository: AuditRepository, make_attempt: Callable[..., Attempt], size: int
) -> None:
    attempts = [make_attempt() for _ in range(size)]

    await asyncio.gather(*(repository.start(a) for a in attempts))

    exported = await repository.export()
    assert [r["id"] for r in exported] == [a.id for a in attempts]
    assert (await repository.verify()).ok


async def test_submit_is_one_compare_and_set_and_one_claim(
    repository: AuditRepository, make_attempt: Callable[..., Attempt]
) -> None:
    base = "https://api.vectorshift.ai/v1"
    one = await repository.start(make_attempt(run_id="run-shared", nonce="n-one"))
    two = await repository.start(make_attempt(run_id="run-shared", nonce="n-two"))

    first, second = await asyncio.gather(
        repository.submit(
            one.id, Submitted(nonce="n-one", owner="host-1", reason="a"), base_url=base
        ),
        repository.submit(
            two.id, Submitted(nonce="n-two", owner="host-2", reason="b"), base_url=base
        ),
    )
    replay = await repository.submit(
        one.id, Submitted(nonce="n-one", owner="host-1"), base_url=base
    )

    assert first is not None
    assert second is not None
    holders = [first[1], second[1]]
    assert holders.count(None) == 1  # exactly one of them holds the run
    [blocked_by] = [h for h in holders if h is not None]
    assert blocked_by.outcome is Outcome.PENDING
    assert {first[0].outcome, second[0].outcome} == {Outcome.PENDING}
    assert replay is None
    assert (await repository.verify()).ok


async def test_submit_with_a_wrong_nonce_writes_nothing(
    repository: AuditRepository, make_attempt: Callable[..., Attempt]
) -> None:
    attempt = await repository.start(make_attempt(nonce="right"))

    result = await repository.submit(
        attempt.id,
        Submitted(nonce="wrong", owner="host-1"),
        base_url="https://api.vectorshift.ai/v1",
    )

    assert result is None
    assert await repository.get(attempt.id) == attempt
    assert (await repository.chain_head())[0] == 1
    assert (
        await repository.blocking_attempt(
            base_url="https://api.vectorshift.ai/v1",
            pipeline_id=attempt.pipeline_id or "",
            run_id=attempt.run_id or "",
        )
        is None
    )
