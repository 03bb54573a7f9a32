"""Fixtures for the use-case unit tests: an `AttemptContext` on in-memory ports."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cases import BASE, PIPELINE, POLICY
from memory import Clock, MemoryAudit, ScriptedVectorShift, StaticDirectory

from bot.attempts.context import AttemptContext


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime(2026, 12, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def audit(clock: Clock) -> MemoryAudit:
    return MemoryAudit(clock)


@pytest.fixture
def vs() -> ScriptedVectorShift:
    scripted = ScriptedVectorShift()
    scripted.add_pipeline(PIPELINE, "Nightly ETL")
    return scripted


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def ctx(
    audit: MemoryAudit, vs: ScriptedVectorShift, clock: Clock, sleeps: list[float]
) -> AttemptContext:
    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    return AttemptContext(
        vectorshift=vs,
        audit=audit,
        directory=StaticDirectory(),
        policy=lambda: POLICY,
        base_url=BASE,
        instance_id="me",
        clock=clock,
        sleep=sleep,
        deadline_s=10.0,
    )
