"""The end-to-end scenario: the standard people and policy (`devkit.scenario`) on a real process."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from devkit.fakes import RunScript
from devkit.scenario import (
    ADMIN,
    ALICE,
    AUDIT,
    BOB,
    GROUP,
    INCIDENTS,
    MALLORY,
    OTHER_PIPELINE_ID,
    PIPELINE_ID,
    POLICY,
    RANDOM,
    make_fakes,
)
from devkit.stack import LocalStack

__all__ = [
    "ADMIN",
    "ALICE",
    "AUDIT",
    "BOB",
    "GROUP",
    "INCIDENTS",
    "MALLORY",
    "OTHER_PIPELINE_ID",
    "PIPELINE_ID",
    "RANDOM",
    "add_run",
    "make_stack",
]


def make_stack(
    tmp_path: Path, *, database_url: str | None = None, env: Mapping[str, str] | None = None
) -> LocalStack:
    """A stack with the standard policy, pipelines and group, not yet started.

    `env` adds to the bot's environment (e.g. `VS_ALERTS_DEFAULT_CHANNEL`).
    """
    slack, vectorshift = make_fakes()
    return LocalStack(
        tmp_path,
        policy=POLICY,
        slack=slack,
        vectorshift=vectorshift,
        audit_channel=AUDIT,
        database_url=database_url,
        env=env,
    )


def add_run(
    stack: LocalStack,
    run_id: str,
    script: RunScript = RunScript.SUCCEEDS,
    pipeline_id: str = PIPELINE_ID,
) -> str:
    """Script a run on the fake VectorShift; returns its id."""
    stack.vectorshift.add_run(pipeline_id, run_id, script)
    return run_id
