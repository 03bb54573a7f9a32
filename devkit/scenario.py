"""The standard test scenario: people, channels, pipelines and the policy they live under.

Shared by the in-process Slack tests (`tests/slack/`) and the end-to-end tests (`tests/e2e/`),
so both levels speak of the same Alice, the same incident channel and the same rules.
"""

from __future__ import annotations

from typing import Final

from devkit.fakes import FakeSlack, FakeVectorShift

PIPELINE_ID: Final = "65f1c0ffee0123456789abcd"
OTHER_PIPELINE_ID: Final = "65f1c0ffee0123456789ffff"
ADMIN: Final = "U0ADMIN0001"
ALICE: Final = "U0ALICE0001"  # in the on-call group
BOB: Final = "U0BOB00001"  # named directly in the budget rule
MALLORY: Final = "U0MALLORY01"  # nobody
INCIDENTS: Final = "C0INCIDENTS"
RANDOM: Final = "C0RANDOM001"
AUDIT: Final = "C0AUDIT0001"
GROUP: Final = "S0DATAONC1"

POLICY: Final = f"""
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


# The two-person rule (SPEC §4.6): on-call asks, a lead or the boss approves.
BOSS: Final = "U0BOSS00001"
LEAD: Final = "U0LEAD00001"  # in the leads group
LEADS: Final = "S0LEADS0001"
APPROVALS_POLICY: Final = f"""
admins = ["{ADMIN}"]

[aliases]
nightly-etl = "{PIPELINE_ID}"

[[rules]]
name = "prod-oncall"
who = ["{GROUP}"]
pipelines = ["nightly-etl"]
channels = ["{INCIDENTS}"]
approvers = ["{LEADS}", "{BOSS}"]
approval_timeout_minutes = 30
"""


def make_fakes(*, vectorshift_latency_s: float = 0.0) -> tuple[FakeSlack, FakeVectorShift]:
    """A stub Slack with the on-call group and a fake VectorShift with both pipelines."""
    slack = FakeSlack()
    slack.set_group(GROUP, [ALICE])
    vectorshift = FakeVectorShift(latency_s=vectorshift_latency_s)
    vectorshift.add_pipeline(PIPELINE_ID, "Nightly ETL")
    vectorshift.add_pipeline(OTHER_PIPELINE_ID, "Hourly Sync")
    return slack, vectorshift
