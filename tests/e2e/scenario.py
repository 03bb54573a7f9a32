"""The end-to-end scenario: people, channels, pipelines and the policy they live under."""

from __future__ import annotations

from pathlib import Path

from devkit.fakes import FakeSlack, FakeVectorShift, RunScript
from devkit.stack import LocalStack

PIPELINE_ID = "65f1c0ffee0123456789abcd"
OTHER_PIPELINE_ID = "65f1c0ffee0123456789ffff"
ADMIN = "U0ADMIN0001"
ALICE = "U0ALICE0001"  # in the on-call group
BOB = "U0BOB00001"  # named directly in the budget rule
MALLORY = "U0MALLORY01"  # nobody
INCIDENTS = "C0INCIDENTS"
RANDOM = "C0RANDOM001"
AUDIT = "C0AUDIT0001"
GROUP = "S0DATAONC1"

POLICY = f"""
admins = ["{ADMIN}"]

[aliases]
nightly-etl = "{PIPELINE_ID}"

[[rules]]
name = "data-oncall"
who = ["{GROUP}"]
pipelines = ["nightly-etl"]
channels = ["{INCIDENTS}"]
require_reason = true

[[rules]]
name = "bob-budget"
who = ["{BOB}"]
pipelines = ["{OTHER_PIPELINE_ID}"]
channels = ["*"]
max_per_hour = 1
"""


def make_stack(tmp_path: Path, *, database_url: str | None = None) -> LocalStack:
    """A stack with the standard policy, pipelines and group, not yet started."""
    slack = FakeSlack()
    slack.set_group(GROUP, [ALICE])
    vectorshift = FakeVectorShift()
    vectorshift.add_pipeline(PIPELINE_ID, "Nightly ETL")
    vectorshift.add_pipeline(OTHER_PIPELINE_ID, "Hourly Sync")
    return LocalStack(
        tmp_path,
        policy=POLICY,
        slack=slack,
        vectorshift=vectorshift,
        audit_channel=AUDIT,
        database_url=database_url,
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
