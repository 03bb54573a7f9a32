"""Who may terminate what, where — through the real server (issue 4, SPEC §5)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from helpers import modal, modal_saying, posted, terminate_via_modal, texts
from scenario import (
    ADMIN,
    ALICE,
    BOB,
    INCIDENTS,
    MALLORY,
    OTHER_PIPELINE_ID,
    POLICY,
    RANDOM,
    add_run,
    make_stack,
)

from devkit.stack import LocalStack

pytestmark = pytest.mark.e2e


async def test_admin_may_terminate_in_any_channel(stack: LocalStack) -> None:
    run = add_run(stack, "run-admin-001")
    async with stack.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=RANDOM)
        confirm = await modal(stack.slack, "vs_terminate_confirm")
        assert confirm["submit"]["text"] == "Terminate"
        await slack.submit(user=ADMIN, reason="")
        await posted(stack.slack, RANDOM)
    [record] = stack.audit_records()
    assert (record["outcome"], record["rule"]) == ("succeeded", "admins")


async def test_group_member_is_denied_outside_the_rules_channel_in_the_ack(
    stack: LocalStack,
) -> None:
    run = add_run(stack, "run-chan-0001")
    async with stack.client() as slack:
        # Warm the membership cache with one allowed request first.
        await slack.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
        await modal(stack.slack, "vs_terminate_confirm")
        ack = await slack.command(f"nightly-etl {run}", user=ALICE, channel=RANDOM)
    text = ack.json()["text"]
    assert text.startswith(":no_entry: You may not terminate this run here.")
    assert RANDOM in text
    await asyncio.sleep(0.5)
    records = {r["channel_id"]: r for r in stack.audit_records()}
    assert records[RANDOM]["outcome"] == "denied"
    assert records[RANDOM]["rule"] == "data-oncall"
    assert stack.vectorshift.terminate_calls == []


async def test_unknown_user_is_denied_and_told_who_could(stack: LocalStack) -> None:
    run = add_run(stack, "run-mall-0001")
    async with stack.client() as slack:
        ack = await slack.command(f"nightly-etl {run}", user=MALLORY, channel=INCIDENTS)
    text = ack.json()["text"]
    assert text.startswith(":no_entry: You may not terminate this run here.")
    assert f"<@{ADMIN}>" in text
    assert "<!subteam^S0DATAONC1>" in text
    await asyncio.sleep(0.5)
    [record] = stack.audit_records()
    assert (record["outcome"], record["user_id"]) == ("denied", MALLORY)
    assert stack.slack.calls("views.open") == []


async def test_required_reason_is_enforced_on_the_reason_block(stack: LocalStack) -> None:
    run = add_run(stack, "run-reason-01")
    async with stack.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
        await modal(stack.slack, "vs_terminate_confirm")
        response = await slack.submit(user=ALICE, reason="   ")
    body = response.json()
    assert body == {
        "response_action": "errors",
        "errors": {"reason": "A reason is required to terminate this pipeline."},
    }
    await asyncio.sleep(0.3)
    assert stack.vectorshift.terminate_calls == []
    [record] = stack.audit_records()
    assert record["outcome"] == "awaiting_confirmation"


async def test_budget_denial_says_when_to_try_again(stack: LocalStack) -> None:
    first = add_run(stack, "run-budget-01", pipeline_id=OTHER_PIPELINE_ID)
    second = add_run(stack, "run-budget-02", pipeline_id=OTHER_PIPELINE_ID)
    async with stack.client() as slack:
        await terminate_via_modal(
            slack,
            stack.slack,
            f"{OTHER_PIPELINE_ID} {first}",
            user=BOB,
            channel=RANDOM,
            reason="one",
        )
        await slack.command(f"{OTHER_PIPELINE_ID} {second}", user=BOB, channel=RANDOM)
        blocked = await modal_saying(stack.slack, "You may not terminate")
    shown = texts(blocked)
    assert "You may not terminate this run here." in shown
    assert "try again" in shown.lower()
    assert blocked.get("submit") is None
    assert [c.run_id for c in stack.vectorshift.terminate_calls] == [first]
    outcomes = sorted((r["run_id"], r["outcome"]) for r in stack.audit_records())
    assert outcomes == [(first, "succeeded"), (second, "denied")]


async def test_slack_failure_while_fetching_groups_grants_nothing(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    stack.slack.fail("usergroups.users.list", "internal_error")
    with stack:
        run = add_run(stack, "run-groups-01")
        async with stack.client() as slack:
            ack = await slack.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
            assert ack.status_code == 200
            blocked = await modal(stack.slack, "vs_terminate_result")
        assert "You may not terminate this run here." in texts(blocked)
        assert stack.vectorshift.terminate_calls == []
        [record] = stack.audit_records()
        assert record["outcome"] == "denied"


async def test_policy_is_checked_again_on_submit(stack: LocalStack) -> None:
    run = add_run(stack, "run-recheck-1")
    async with stack.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
        await modal(stack.slack, "vs_terminate_confirm")
        # An admin removes the on-call rule while the modal is open.
        stack.policy_file.write_text(POLICY.split("[[rules]]")[0], encoding="utf-8")
        await asyncio.sleep(3)  # the policy file is polled every 2 s
        await slack.submit(user=ALICE, reason="still stuck")
        final = await modal(stack.slack, "vs_terminate_result", count=1)
        await asyncio.sleep(0.5)
    assert stack.vectorshift.terminate_calls == []
    [record] = stack.audit_records()
    assert record["outcome"] == "denied"
    assert final is not None


async def test_can_i_explains_the_decision(stack: LocalStack) -> None:
    async with stack.client() as slack:
        await slack.command("can-i nightly-etl", user=ALICE, channel=RANDOM)
        answer = await stack.slack.async_wait_for("response_url")
    text = answer.args["text"]
    assert text.startswith(":no_entry: You may not terminate runs of Nightly ETL")
    assert "data-oncall" in text
