"""Ablation `no_status`: the run-status read answers without a request (see README.md)."""

import asyncio

from bot import vectorshift
from bot.domain import RunState, RunStatus

RUNNING = RunStatus(RunState.ACTIVE, "running", None, 200)
FAKE_LATENCY_S = 0.2
"""The bench's fake VectorShift answers after this long; the stand-in waits as long."""


async def run_status(
    self: vectorshift.VectorShiftClient, *, pipeline_id: str, run_id: str
) -> RunStatus:
    """Stand-in for `VectorShiftClient.run_status`: "running", after the fake's latency."""
    await asyncio.sleep(FAKE_LATENCY_S)
    return RUNNING


vectorshift.VectorShiftClient.run_status = run_status  # type: ignore[method-assign]
