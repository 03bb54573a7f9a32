"""One action in flight per run, whatever the action, enforced by the database (SPEC §4.4, §4.5).

After a verified pause, a second pause finds the run held, while a resume or a terminate takes
the claim over; after a verified terminate nothing does; a pending attempt of any action holds
the run against every other. On SQLite and PostgreSQL.
"""

from __future__ import annotations

import pytest

from bot.attempts.lifecycle import Finished, Outcome, Submitted
from bot.domain import Action

BASE = "https://api.vectorshift.ai/v1"


@pytest.mark.parametrize(
    ("first", "first_outcome", "second", "held"),
    [
        (Action.PAUSE, Outcome.SUCCEEDED, Action.PAUSE, True),
        (Action.PAUSE, Outcome.SUCCEEDED, Action.RESUME, False),
        (Action.PAUSE, Outcome.SUCCEEDED, Action.TERMINATE, False),
        (Action.TERMINATE, Outcome.SUCCEEDED, Action.PAUSE, True),
        (Action.TERMINATE, Outcome.SUCCEEDED, Action.RESUME, True),
        (Action.RESUME, Outcome.SUCCEEDED, Action.PAUSE, False),
        (Action.PAUSE, Outcome.PENDING, Action.TERMINATE, True),
        (Action.RESUME, Outcome.PENDING, Action.PAUSE, True),
        (Action.PAUSE, Outcome.FAILED, Action.PAUSE, False),
    ],
)
async def test_a_run_is_held_against_an_action_as_the_table_says(
    repository, make_attempt, *, first, first_outcome, second, held
) -> None:
    started = await repository.start(make_attempt(run_id="run-held", action=first))
    claimed = await repository.submit(
        started.id, Submitted(nonce=started.nonce or "", owner="host-1"), base_url=BASE
    )
    assert claimed is not None and claimed[1] is None
    holder = claimed[0]
    if first_outcome is not Outcome.PENDING:
        holder = await repository.record(holder.id, Finished(first_outcome))
    assert await repository.blocking_attempt(
        base_url=BASE, pipeline_id=holder.pipeline_id, run_id="run-held", action=second
    ) == (holder if held else None)
    contender = await repository.start(make_attempt(run_id="run-held", action=second))

    submitted = await repository.submit(
        contender.id,
        Submitted(nonce=contender.nonce or "", owner="host-2", reason="next"),
        base_url=BASE,
    )

    assert submitted is not None
    pending, holding = submitted
    assert pending.outcome is Outcome.PENDING
    assert (holding.id if holding is not None else None) == (holder.id if held else None)
