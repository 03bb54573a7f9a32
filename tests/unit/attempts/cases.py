"""The people, pipeline and policy of the use-case unit tests, and a request builder."""

from __future__ import annotations

from bot.attempts.confirm import AttemptRequest
from bot.attempts.lifecycle import Source
from bot.domain import Action, ActionCommand, Actor, PipelineRef, Where
from bot.policy import parse_policy

BASE = "https://vs.test/v1"
PIPELINE = "65f1c0ffee0123456789abcd"
ADMIN = "U0ADMIN0001"
ALICE = "U0ALICE0001"
MALLORY = "U0MALLORY01"
INCIDENTS = "C0INCIDENTS"
POLICY = parse_policy(
    f"""
admins = ["{ADMIN}"]
[aliases]
nightly-etl = "{PIPELINE}"
[[rules]]
name = "oncall"
who = ["{ALICE}"]
pipelines = ["nightly-etl"]
channels = ["{INCIDENTS}"]
require_reason = true
max_per_hour = 2
"""
)


def request(
    run_id: str,
    *,
    user: str = ADMIN,
    channel: str = INCIDENTS,
    pipeline: str = "nightly-etl",
    reason: str = "runaway",
    action: Action = Action.TERMINATE,
    source: Source = Source.SLASH_COMMAND,
) -> AttemptRequest:
    return AttemptRequest(
        actor=Actor(user_id=user, team_id="T0TEAM"),
        where=Where(channel_id=channel),
        source=source,
        command=ActionCommand(PipelineRef(pipeline), run_id, reason, action),
        request_id="req-1",
        response_url="https://hooks.slack.test/r/1",
    )
