"""Who may terminate what, where — signed requests through the in-process app (SPEC §5)."""

from __future__ import annotations

from pathlib import Path

from harness import InProcessBot, running_bot

from devkit.expect import modal, modal_saying, posted, terminate_via_modal, texts
from devkit.scenario import (
    ADMIN,
    ALICE,
    BOB,
    INCIDENTS,
    MALLORY,
    OTHER_PIPELINE_ID,
    POLICY,
    RANDOM,
    make_fakes,
)


async def test_admin_may_terminate_in_any_channel(bot: InProcessBot) -> None:
    run = bot.add_run("run-admin-001")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=RANDOM)
        confirm = await modal(bot.slack, "vs_terminate_confirm")
        assert confirm["submit"]["text"] == "Terminate"
        await slack.submit(user=ADMIN, reason="")
        await posted(bot.slack, RANDOM)
    [record] = await bot.audit_records()
    assert (record["outcome"], record["rule"]) == ("succeeded", "admins")


async def test_group_member_is_denied_outside_the_rules_channel_in_the_ack(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-chan-0001")
    async with bot.client() as slack:
        # Warm the membership cache with one allowed request first.
        await slack.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
        await modal(bot.slack, "vs_terminate_confirm")
        ack = await slack.command(f"nightly-etl {run}", user=ALICE, channel=RANDOM)
    text = ack.json()["text"]
    assert text.startswith(":no_entry: You may not terminate this run here.")
    assert RANDOM in text
    await bot.idle()
    records = {r["channel_id"]: r for r in await bot.audit_records()}
    assert records[RANDOM]["outcome"] == "denied"
    assert records[RANDOM]["rule"] == "data-oncall"
    assert bot.vectorshift.terminate_calls == []


async def test_unknown_user_is_denied_and_told_who_could(bot: InProcessBot) -> None:
    run = bot.add_run("run-mall-0001")
    async with bot.client() as slack:
        ack = await slack.command(f"nightly-etl {run}", user=MALLORY, channel=INCIDENTS)
    text = ack.json()["text"]
    assert text.startswith(":no_entry: You may not terminate this run here.")
    assert f"<@{ADMIN}>" in text
    assert "<!subteam^S0DATAONC1>" in text
    await bot.idle()
    [record] = await bot.audit_records()
    assert (record["outcome"], record["user_id"]) == ("denied", MALLORY)
    assert bot.slack.calls("views.open") == []


async def test_required_reason_is_enforced_on_the_reason_block(bot: InProcessBot) -> None:
    run = bot.add_run("run-reason-01")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
        await modal(bot.slack, "vs_terminate_confirm")
        response = await slack.submit(user=ALICE, reason="   ")
    body = response.json()
    assert body == {
        "response_action": "errors",
        "errors": {"reason": "A reason is required to terminate this pipeline."},
    }
    await bot.idle()
    assert bot.vectorshift.terminate_calls == []
    [record] = await bot.audit_records()
    assert record["outcome"] == "awaiting_confirmation"


async def test_budget_denial_says_when_to_try_again(bot: InProcessBot) -> None:
    first = bot.add_run("run-budget-01", pipeline_id=OTHER_PIPELINE_ID)
    second = bot.add_run("run-budget-02", pipeline_id=OTHER_PIPELINE_ID)
    async with bot.client() as slack:
        await terminate_via_modal(
            slack,
            bot.slack,
            f"{OTHER_PIPELINE_ID} {first}",
            user=BOB,
            channel=RANDOM,
            reason="one",
        )
        await slack.command(f"{OTHER_PIPELINE_ID} {second}", user=BOB, channel=RANDOM)
        blocked = await modal_saying(bot.slack, "You may not terminate")
    shown = texts(blocked)
    assert "You may not terminate this run here." in shown
    assert "try again" in shown.lower()
    assert blocked.get("submit") is None
    assert [c.run_id for c in bot.vectorshift.terminate_calls] == [first]
    outcomes = sorted((r["run_id"], r["outcome"]) for r in await bot.audit_records())
    assert outcomes == [(first, "succeeded"), (second, "denied")]


async def test_slack_failure_while_fetching_groups_grants_nothing(
    tmp_path: Path, sqlite_url: str
) -> None:
    fakes = make_fakes()
    fakes[0].fail("usergroups.users.list", "internal_error")
    async with running_bot(tmp_path, sqlite_url, fakes=fakes) as bot:
        run = bot.add_run("run-groups-01")
        async with bot.client() as slack:
            ack = await slack.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
            assert ack.status_code == 200
            blocked = await modal(bot.slack, "vs_terminate_result")
        assert "You may not terminate this run here." in texts(blocked)
        assert bot.vectorshift.terminate_calls == []
        [record] = await bot.audit_records()
        assert record["outcome"] == "denied"


async def test_policy_is_checked_again_on_submit(bot: InProcessBot) -> None:
    run = bot.add_run("run-recheck-1")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS)
        await modal(bot.slack, "vs_terminate_confirm")
        # An admin removes the on-call rule while the modal is open.
        (bot.workdir / "policy.toml").write_text(POLICY.split("[[rules]]")[0], encoding="utf-8")
        bot.runtime.policy.reload()  # what the 2-second poll (or SIGHUP) does
        await slack.submit(user=ALICE, reason="still stuck")
        final = await modal(bot.slack, "vs_terminate_result", count=1)
        await bot.idle()
    assert bot.vectorshift.terminate_calls == []
    [record] = await bot.audit_records()
    assert record["outcome"] == "denied"
    assert final is not None


async def test_can_i_explains_the_decision(bot: InProcessBot) -> None:
    async with bot.client() as slack:
        await slack.command("can-i nightly-etl", user=ALICE, channel=RANDOM)
        answer = await bot.slack.async_wait_for("response_url")
    text = answer.args["text"]
    assert text.startswith(":no_entry: You may not terminate, pause or resume runs of Nightly ETL")
    assert "data-oncall" in text
