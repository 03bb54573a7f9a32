"""Pause and resume, the reversible stop, everywhere terminate is (SPEC §4.5), in process.

From an alert: Pause beside Terminate; a verified pause posts its result with Resume and
Terminate, and the alert shows who paused it. By command: `pause` and `resume`. In the modal: a
terminate can become a pause before it is submitted. And the policy's `actions`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import InProcessBot, running_bot

from bot.slack import ids
from devkit.expect import posted, texts
from devkit.fakes import RunScript, SlackMessage
from devkit.payloads import SlackClient
from devkit.scenario import ADMIN, ALICE, INCIDENTS, PIPELINE_ID, POLICY


def buttons(blocks: object) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in blocks or []  # type: ignore[attr-defined]
        if b.get("type") == "actions"
        for e in b["elements"]
        if e.get("type") == "button"
    ]


def message_with(bot: InProcessBot, action_id: str, *, thread_ts: str) -> SlackMessage:
    """The newest message in the thread that offers this button."""
    found = [
        m
        for m in bot.slack.messages(INCIDENTS)
        if m.thread_ts == thread_ts and any(a == action_id for a, _ in buttons(m.blocks))
    ]
    assert found, f"no message in the thread offers {action_id}"
    return found[-1]


async def confirm(
    bot: InProcessBot, slack: SlackClient, *, user: str = ADMIN, reason: str = "look"
) -> dict[str, Any]:
    """Submit the confirmation the user has open; returns it as it was shown."""
    await bot.idle()
    shown = bot.slack.current_view(user)
    assert shown is not None and shown["callback_id"] == ids.CONFIRM_CALLBACK, shown
    await slack.submit(user=user, reason=reason)
    await bot.idle()
    return shown


async def test_pause_from_an_alert_then_resume_then_terminate(bot: InProcessBot) -> None:
    run = bot.add_run("run-pause-0001")
    _, alert = await bot.post_alert(
        {"channel": INCIDENTS, "pipeline": "nightly-etl", "run": run, "text": "slow"}
    )
    ts = str(alert["ts"])
    assert buttons(bot.slack.message(INCIDENTS, ts).blocks) == [  # type: ignore[union-attr]
        (ids.PAUSE_ACTION, f"nightly-etl {run}"),
        (ids.TERMINATE_ACTION, f"nightly-etl {run}"),
    ]
    async with bot.client() as slack:
        await slack.click(
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            action_id=ids.PAUSE_ACTION,
            message_ts=ts,
        )
        shown = await confirm(bot, slack)
        paused = await posted(bot.slack, INCIDENTS, count=2)
        # The alert now says who paused it, and offers what may follow.
        alert_now = bot.slack.message(INCIDENTS, ts)
        assert alert_now is not None
        assert "*paused* — <@U0ADMIN0001>" in texts(alert_now.blocks)
        assert buttons(alert_now.blocks) == [
            (ids.RESUME_ACTION, f"{PIPELINE_ID} {run}"),
            (ids.TERMINATE_ACTION, f"{PIPELINE_ID} {run}"),
        ]
        # Resume from the result message's button, in the alert's thread.
        result = message_with(bot, ids.RESUME_ACTION, thread_ts=ts)
        await slack.click(
            f"{PIPELINE_ID} {run}",
            user=ADMIN,
            channel=INCIDENTS,
            action_id=ids.RESUME_ACTION,
            message_ts=result.ts,
        )
        await confirm(bot, slack)
        resumed = await posted(bot.slack, INCIDENTS, count=3)
        await slack.click(
            f"{PIPELINE_ID} {run}",
            user=ADMIN,
            channel=INCIDENTS,
            action_id=ids.TERMINATE_ACTION,
            message_ts=ts,
        )
        await confirm(bot, slack)
        terminated = await posted(bot.slack, INCIDENTS, count=4)
    assert shown["submit"]["text"] == "Pause"
    assert "It stops where it is; it can be resumed." in texts(shown)
    assert "Paused — verified paused. It can be resumed or terminated." in paused.args["text"]
    assert buttons(paused.args["blocks"]) == [
        (ids.RESUME_ACTION, f"{PIPELINE_ID} {run}"),
        (ids.TERMINATE_ACTION, f"{PIPELINE_ID} {run}"),
    ]
    assert "Resumed — verified running again" in resumed.args["text"]
    # Clicked on a reply, answered in the thread: under the alert, never under the reply.
    assert resumed.args["thread_ts"] == ts
    assert "Terminated — verified stopped" in terminated.args["text"]
    records = await bot.audit_records()
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("pause", "succeeded"),
        ("resume", "succeeded"),
        ("terminate", "succeeded"),
    ]


async def test_a_terminate_can_be_switched_to_a_pause_in_the_modal(bot: InProcessBot) -> None:
    run = bot.add_run("run-switch-001")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run} odd", user=ADMIN, channel=INCIDENTS)
        await bot.idle()
        before = bot.slack.current_view(ADMIN)
        assert before is not None
        await slack.choose("pause", user=ADMIN, action_id=ids.ACTION_CHOICE)
        await bot.idle()
        after = bot.slack.current_view(ADMIN)
        assert after is not None
        await slack.submit(user=ADMIN, reason="odd, pausing instead")
        await bot.idle()
    radio = next(b for b in before["blocks"] if b.get("block_id") == ids.ACTION_CHOICE_BLOCK)
    assert radio["elements"][0]["initial_option"]["value"] == "terminate"
    assert (before["submit"]["text"], after["submit"]["text"]) == ("Terminate", "Pause")
    assert "It cannot be undone." in texts(before)
    assert "It stops where it is; it can be resumed." in texts(after)
    assert after["private_metadata"] == before["private_metadata"]
    assert bot.vectorshift.terminate_calls == []
    assert [c.run_id for c in bot.vectorshift.pause_calls] == [run]
    [record] = await bot.audit_records()
    assert (record["action"], record["outcome"]) == ("pause", "succeeded")


async def test_pause_and_resume_by_command_and_a_second_pause_names_who_paused(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-command-01")
    async with bot.client() as slack:
        await slack.command(f"pause nightly-etl {run} checking", user=ADMIN, channel=INCIDENTS)
        shown = await confirm(bot, slack)
        await slack.command(f"pause nightly-etl {run}", user=ALICE, channel=INCIDENTS)
        await bot.idle()
        second = bot.slack.current_view(ALICE)
        await slack.command(f"resume nightly-etl {run} all good", user=ADMIN, channel=INCIDENTS)
        resumed = await confirm(bot, slack)
    assert (shown["title"]["text"], shown["submit"]["text"]) == ("Pause run", "Pause")
    assert second is not None and second.get("submit") is None
    assert f"This run is already paused by <@{ADMIN}>" in texts(second)
    assert (resumed["title"]["text"], resumed["submit"]["text"]) == ("Resume run", "Resume")
    assert not any(b.get("block_id") == ids.ACTION_CHOICE_BLOCK for b in resumed["blocks"])
    outcomes = [(r["action"], r["outcome"]) for r in await bot.audit_records()]
    assert outcomes == [("pause", "succeeded"), ("pause", "duplicate"), ("resume", "succeeded")]


PAUSE_ONLY = POLICY.replace(
    "require_reason = true\n", 'require_reason = true\nactions = ["pause", "resume"]\n', 1
)


async def test_a_policy_that_allows_pause_but_not_terminate(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_bot(tmp_path, sqlite_url, policy=PAUSE_ONLY) as bot:
        run = bot.add_run("run-pause-only")
        async with bot.client() as slack:
            denied = await slack.command(f"nightly-etl {run} x", user=ALICE, channel=INCIDENTS)
            await slack.command("can-i nightly-etl", user=ALICE, channel=INCIDENTS)
            await bot.idle()
            await slack.command(f"pause nightly-etl {run} x", user=ALICE, channel=INCIDENTS)
            await confirm(bot, slack, user=ALICE)
            can_i = bot.slack.calls("response_url")[0]
        records = await bot.audit_records()
    assert denied.json()["text"].startswith(":no_entry: You may not terminate this run here.")
    assert "does not allow terminate (it allows pause and resume)" in denied.json()["text"]
    assert can_i.args["text"].startswith(":white_check_mark: You may pause and resume runs of")
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("terminate", "denied"),
        ("pause", "succeeded"),
    ]
    assert bot.vectorshift.terminate_calls == []


async def test_a_pause_answered_200_failed_says_so_and_offers_retry(bot: InProcessBot) -> None:
    run = bot.add_run("run-pause-fail", RunScript.PAUSE_FAILED_200)
    async with bot.client() as slack:
        await slack.command(f"pause nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        await confirm(bot, slack)
    message = await posted(bot.slack, INCIDENTS)
    assert (
        "Failed: VectorShift refused to pause the run: run could not be paused"
        in (message.args["text"])
    )
    assert buttons(message.args["blocks"])[0][0] == ids.RETRY_ACTION
    [record] = await bot.audit_records()
    assert (record["action"], record["outcome"], record["api_status"]) == (
        "pause",
        "failed",
        "failed",
    )


async def test_a_run_that_finishes_on_its_own_while_being_paused(bot: InProcessBot) -> None:
    run = bot.add_run("run-pause-done", RunScript.FINISHES_ON_PAUSE)
    async with bot.client() as slack:
        await slack.command(f"pause nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        await confirm(bot, slack)
    message = await posted(bot.slack, INCIDENTS)
    assert (
        "The run had already finished (stopped (completed)); nothing was paused."
        in (message.args["text"])
    )
    [record] = await bot.audit_records()
    assert (record["action"], record["outcome"]) == ("pause", "already_finished")
    assert buttons(message.args["blocks"]) == []


async def test_the_audit_mirror_and_history_name_the_action(bot: InProcessBot) -> None:
    run = bot.add_run("run-mirror-001")
    async with bot.client() as slack:
        await slack.command(f"pause nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        await confirm(bot, slack)
        await slack.command("history", user=ADMIN, channel=INCIDENTS)
        await bot.idle()
    mirror = await posted(bot.slack, "C0AUDIT0001")
    assert mirror.args["text"].startswith(":white_check_mark: *succeeded* · pause · <@U0ADMIN0001>")
    history = bot.slack.calls("response_url")[-1]
    assert f"— pause Nightly ETL ({PIPELINE_ID}) run `{run}` — *succeeded*" in history.args["text"]
