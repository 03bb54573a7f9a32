"""Alerts, buttons, threads and delivery that always arrives — in-process (SPEC §4.3–4.4)."""

from __future__ import annotations

from harness import ALERTS_TOKEN, InProcessBot

from devkit.expect import modal, posted, terminate_via_modal, texts, view_of
from devkit.fakes import RunScript
from devkit.scenario import ADMIN, ALICE, INCIDENTS, PIPELINE_ID

PRIVATE = "C0PRIVATE001"


def alert(run: str, **extra: object) -> dict[str, object]:
    return {
        "channel": INCIDENTS,
        "pipeline": "nightly-etl",
        "run": run,
        "text": "<!channel> Nightly ETL running for 3 h",
        **extra,
    }


async def test_alert_endpoint_checks_token_and_fields(bot: InProcessBot) -> None:
    assert (await bot.post_alert(alert("run-a-1"), token="wrong-token-xxxxxxxx"))[0] == 401
    status, body = await bot.post_alert({**alert("run-a-1"), "run": "../x"})
    assert (status, body["field"]) == (400, "run")
    status, body = await bot.post_alert("{not json")
    assert (status, body["error"]) == (400, "body: not valid JSON")
    assert bot.slack.calls("chat.postMessage") == []


async def test_same_alert_again_updates_the_existing_message(bot: InProcessBot) -> None:
    status, first = await bot.post_alert(alert("run-a-2"))
    assert (status, first["ok"], first["channel"]) == (200, True, INCIDENTS)
    status, again = await bot.post_alert(alert("run-a-2", text="still running"))
    assert again["ts"] == first["ts"]
    assert len(bot.slack.calls("chat.postMessage")) == 1
    [update] = bot.slack.calls("chat.update")
    assert update.args["ts"] == first["ts"]
    message = bot.slack.message(INCIDENTS, str(first["ts"]))
    assert message is not None
    assert message.blocks[0]["text"] == {
        "type": "plain_text",
        "text": "still running",
        "emoji": False,
    }


async def test_terminate_button_answers_in_the_thread_and_retires_the_alert(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-button-01")
    _, posted_alert = await bot.post_alert(alert(run))
    ts = str(posted_alert["ts"])
    message = bot.slack.message(INCIDENTS, ts)
    assert message is not None
    async with bot.client() as slack:
        await slack.click(
            f"nightly-etl {run}",
            user=ALICE,
            channel=INCIDENTS,
            message_ts=ts,
            message_blocks=message.blocks,
            message_text=message.text,
        )
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ALICE, reason="alert fired")
        reply = await posted(bot.slack, INCIDENTS, count=2)
    assert reply.args["thread_ts"] == ts
    assert "Terminated — verified stopped (cancelled)." in reply.args["text"]
    update = await bot.slack.async_wait_for(
        "chat.update", lambda c: "succeeded" in texts(c.args.get("blocks")), timeout=10
    )
    assert update.args["ts"] == ts
    assert not [b for b in update.args["blocks"] if b["type"] == "actions"]
    assert f"<@{ALICE}>" in texts(update.args["blocks"])
    [record] = await bot.audit_records()
    assert (record["source"], record["thread_ts"], record["outcome"]) == ("button", ts, "succeeded")


async def test_private_channel_result_falls_back_to_response_url(bot: InProcessBot) -> None:
    bot.slack.private_channel(PRIVATE)
    run = bot.add_run("run-private-1")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=PRIVATE)
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ADMIN, reason="private")
        fallback = await bot.slack.async_wait_for(
            "response_url", lambda c: c.args.get("response_type") == "in_channel", timeout=20
        )
    assert "Terminated — verified" in fallback.args["text"]
    assert [
        c.error for c in bot.slack.calls("chat.postMessage") if c.args.get("channel") == PRIVATE
    ] == ["channel_not_found"]


async def test_retry_starts_a_new_attempt_through_the_same_checks(bot: InProcessBot) -> None:
    run = bot.add_run("run-retry-001", RunScript.FAILS_THEN_SUCCEEDS)
    async with bot.client() as slack:
        failure = await terminate_via_modal(
            slack,
            bot.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason="first try",
        )
        [retry] = [
            e for b in failure.args["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]
        message = bot.slack.message(INCIDENTS, failure.args.get("ts") or "") or None
        ts = message.ts if message else bot.slack.messages(INCIDENTS)[-1].ts
        await slack.click(
            retry["value"],
            user=ADMIN,
            channel=INCIDENTS,
            action_id="vs_terminate_retry",
            message_ts=ts,
            message_blocks=failure.args["blocks"],
        )
        confirm = await modal(bot.slack, "vs_terminate_confirm", count=2)
        assert "first try" in str(confirm)
        await slack.submit(user=ADMIN, reason="second try")
        success = await posted(bot.slack, INCIDENTS, count=2)
    assert "Terminated — verified" in success.args["text"]
    assert len(bot.vectorshift.terminate_calls) == 2
    records = sorted(await bot.audit_records(), key=lambda r: str(r["requested_at"]))
    assert [(r["source"], r["outcome"]) for r in records] == [
        ("slash_command", "failed"),
        ("retry", "succeeded"),
    ]


async def test_closing_the_modal_records_abandoned(bot: InProcessBot) -> None:
    run = bot.add_run("run-close-001")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        await modal(bot.slack, "vs_terminate_confirm")
        closed = await slack.close_view(user=ADMIN)
        assert closed.status_code == 200
        await bot.idle()
    assert [r["outcome"] for r in await bot.audit_records()] == ["abandoned"]
    assert bot.vectorshift.terminate_calls == []


async def test_status_and_history_answer_ephemerally(bot: InProcessBot) -> None:
    run = bot.add_run("run-status-01")
    async with bot.client() as slack:
        await slack.command(f"status nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        status = await bot.slack.async_wait_for("response_url")
        assert (
            status.args["text"]
            == f"Run `{run}` of Nightly ETL ({PIPELINE_ID}) is running (`running`)."
        )
        await terminate_via_modal(
            slack,
            bot.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason="done",
        )
        await slack.command("history nightly-etl", user=ADMIN, channel=INCIDENTS)
        history = await bot.slack.async_wait_for("response_url", count=2)
    assert history.args["response_type"] == "ephemeral"
    assert history.args["text"].startswith("*Last attempts*")
    assert f"— terminate Nightly ETL ({PIPELINE_ID}) run `{run}` —" in history.args["text"]
    assert f"<@{ADMIN}>" in history.args["text"]
    assert "*succeeded*" in history.args["text"]
    assert view_of is not None and ALERTS_TOKEN


async def test_an_alert_is_retired_when_its_run_is_stopped_by_command(bot: InProcessBot) -> None:
    run = bot.add_run("run-alert-cmd1")
    _, posted_alert = await bot.post_alert(alert(run))
    async with bot.client() as slack:
        await terminate_via_modal(
            slack,
            bot.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason="seen the alert",
            count=1,
        )
        update = await bot.slack.async_wait_for(
            "chat.update", lambda c: c.args.get("ts") == posted_alert["ts"], timeout=10
        )
    assert not [b for b in update.args["blocks"] if b["type"] == "actions"]
    assert "succeeded" in texts(update.args["blocks"])
