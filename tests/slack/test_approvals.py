"""Approvals in process (SPEC §4.6): request, approve, reject, expire, list — signed clicks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import InProcessBot, running_bot

from devkit.expect import modal, posted, texts
from devkit.scenario import ADMIN, ALICE, GROUP, INCIDENTS, PIPELINE_ID

BOSS = "U0BOSS00001"
LEAD = "U0LEAD00001"
LEADS = "S0LEADS0001"
POLICY = f"""
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


@pytest.fixture
async def bot(tmp_path: Path, sqlite_url: str) -> AsyncIterator[InProcessBot]:
    async with running_bot(tmp_path, sqlite_url, policy=POLICY) as running:
        running.slack.set_group(LEADS, [LEAD])
        await running.runtime.deps.directory.refresh_all()
        yield running


def buttons(blocks: list[dict] | None) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


async def test_a_request_waits_for_an_approver_then_runs_and_reports_in_its_thread(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-approve-01")
    async with bot.client() as slack:
        await slack.command(
            f"nightly-etl {run} billing is double-charging", user=ALICE, channel=INCIDENTS
        )
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ALICE)
        request = await posted(bot.slack, INCIDENTS)
        assert bot.vectorshift.terminate_calls == []
        [(approve_id, attempt_id), (reject_id, _)] = buttons(request.args["blocks"])
        assert (approve_id, reject_id) == ("vs_approve", "vs_reject")
        assert f"<@{BOSS}>" in texts(request.args["blocks"])
        ts = bot.slack.messages(INCIDENTS)[-1].ts
        await slack.click(
            attempt_id, user=LEAD, channel=INCIDENTS, action_id="vs_approve", message_ts=ts
        )
        result = await posted(bot.slack, INCIDENTS, count=2)
    assert result.args["thread_ts"] == ts
    assert "Terminated — verified stopped" in result.args["text"]
    assert len(bot.vectorshift.terminate_calls) == 1
    [record] = await bot.audit_records()
    assert (record["outcome"], record["approved_by"]) == ("succeeded", LEAD)
