"""Alerts, buttons, threads and delivery that always arrives (issue 5, SPEC §4.3–4.4)."""

from __future__ import annotations

import asyncio

import pytest
from helpers import modal, posted, terminate_via_modal, texts, view_of
from scenario import ADMIN, ALICE, INCIDENTS, PIPELINE_ID, add_run

from devkit.fakes import RunScript
from devkit.stack import ALERTS_TOKEN, LocalStack

pytestmark = pytest.mark.e2e
PRIVATE = "C0PRIVATE001"


def alert(run: str, **extra: object) -> dict[str, object]:
    return {
        "channel": INCIDENTS,
        "pipeline": "nightly-etl",
        "run": run,
        "text": "<!channel> Nightly ETL running for 3 h",
        **extra,
    }


async def test_alert_endpoint_checks_token_and_fields(stack: LocalStack) -> None:
    assert stack.post_alert(alert("run-a-1"), token="wrong-token-xxxxxxxx")[0] == 401
    status, body = stack.post_alert({**alert("run-a-1"), "run": "../x"})
    assert (status, body["field"]) == (400, "run")
    status, body = stack.post_alert("{not json")
    assert (status, body["error"]) == (400, "body: not valid JSON")
    assert stack.slack.calls("chat.postMessage") == []


async def test_same_alert_again_updates_the_existing_message(stack: LocalStack) -> None:
    status, first = stack.post_alert(alert("run-a-2"))
    assert (status, first["ok"], first["channel"]) == (200, True, INCIDENTS)
    status, again = stack.post_alert(alert("run-a-2", text="still running"))
    assert again["ts"] == first["ts"]
    assert len(stack.slack.calls("chat.postMessage")) == 1
    [update] = stack.slack.calls("chat.update")
    assert update.args["ts"] == first["ts"]
    message = stack.slack.message(INCIDENTS, str(first["ts"]))
    assert message is not None
    assert message.blocks[0]["text"] == {
        "type": "plain_text",
        "text": "still running",
        "emoji": False,
    }


async def test_terminate_button_answers_in_the_thread_and_retires_the_alert(
    stack: LocalStack,
) -> None:
    run = add_run(stack, "run-button-01")
    _, posted_alert = stack.post_alert(alert(run))
    ts = str(posted_alert["ts"])
    message = stack.slack.message(INCIDENTS, ts)
    assert message is not None
    async with stack.client() as slack:
        await slack.click(
            f"nightly-etl {run}",
            user=ALICE,
            channel=INCIDENTS,
            message_ts=ts,
            message_blocks=message.blocks,
            message_text=message.text,
        )
        await modal(stack.slack, "vs_terminate_confirm")
        await slack.submit(user=ALICE, reason="alert fired")
        reply = await posted(stack.slack, INCIDENTS, count=2)
    assert reply.args["thread_ts"] == ts
    assert "Terminated — verified stopped (cancelled)." in reply.args["text"]
    update = await stack.slack.async_wait_for(
        "chat.update", lambda c: "succeeded" in texts(c.args.get("blocks")), timeout=10
    )
    assert update.args["ts"] == ts
    assert not [b for b in update.args["blocks"] if b["type"] == "actions"]
    assert f"<@{ALICE}>" in texts(update.args["blocks"])
    [record] = stack.audit_records()
    assert (record["source"], record["thread_ts"], record["outcome"]) == ("button", ts, "succeeded")


async def test_private_channel_result_falls_back_to_response_url(stack: LocalStack) -> None:
    stack.slack.private_channel(PRIVATE)
    run = add_run(stack, "run-private-1")
    async with stack.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=PRIVATE)
        await modal(stack.slack, "vs_terminate_confirm")
        await slack.submit(user=ADMIN, reason="private")
        fallback = await stack.slack.async_wait_for(
            "response_url", lambda c: c.args.get("response_type") == "in_channel", timeout=20
        )
    assert "Terminated — verified" in fallback.args["text"]
    assert [
        c.error for c in stack.slack.calls("chat.postMessage") if c.args.get("channel") == PRIVATE
    ] == ["channel_not_found"]


async def test_retry_starts_a_new_attempt_through_the_same_checks(stack: LocalStack) -> None:
    run = add_run(stack, "run-retry-001", RunScript.FAILS_THEN_SUCCEEDS)
    async with stack.client() as slack:
        failure = await terminate_via_modal(
            slack,
            stack.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason="first try",
        )
        [retry] = [
            e for b in failure.args["blocks"] if b["type"] == "actions" for e in b["elements"]
        ]
        message = stack.slack.message(INCIDENTS, failure.args.get("ts") or "") or None
        ts = message.ts if message else stack.slack.messages(INCIDENTS)[-1].ts
        await slack.click(
            retry["value"],
            user=ADMIN,
            channel=INCIDENTS,
            action_id="vs_terminate_retry",
            message_ts=ts,
            message_blocks=failure.args["blocks"],
        )
        confirm = await modal(stack.slack, "vs_terminate_confirm", count=2)
        assert "first try" in str(confirm)
        await slack.submit(user=ADMIN, reason="second try")
        success = await posted(stack.slack, INCIDENTS, count=2)
    assert "Terminated — verified" in success.args["text"]
    assert len(stack.vectorshift.terminate_calls) == 2
    records = sorted(stack.audit_records(), key=lambda r: str(r["requested_at"]))
    assert [(r["source"], r["outcome"]) for r in records] == [
        ("slash_command", "failed"),
        ("retry", "succeeded"),
    ]


async def test_closing_the_modal_records_abandoned(stack: LocalStack) -> None:
    run = add_run(stack, "run-close-001")
    async with stack.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        await modal(stack.slack, "vs_terminate_confirm")
        closed = await slack.close_view(user=ADMIN)
        assert closed.status_code == 200
        for _ in range(50):
            records = stack.audit_records()
            if records and records[0]["outcome"] == "abandoned":
                break
            await asyncio.sleep(0.1)
    assert [r["outcome"] for r in stack.audit_records()] == ["abandoned"]
    assert stack.vectorshift.terminate_calls == []


async def test_status_and_history_answer_ephemerally(stack: LocalStack) -> None:
    run = add_run(stack, "run-status-01")
    async with stack.client() as slack:
        await slack.command(f"status nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        status = await stack.slack.async_wait_for("response_url")
        assert (
            status.args["text"]
            == f"Run `{run}` of Nightly ETL ({PIPELINE_ID}) is running (`running`)."
        )
        await terminate_via_modal(
            slack,
            stack.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason="done",
        )
        await slack.command("history nightly-etl", user=ADMIN, channel=INCIDENTS)
        history = await stack.slack.async_wait_for("response_url", count=2)
    assert history.args["response_type"] == "ephemeral"
    assert history.args["text"].startswith("*Last termination attempts*")
    assert f"<@{ADMIN}>" in history.args["text"]
    assert "*succeeded*" in history.args["text"]
    assert view_of is not None and ALERTS_TOKEN


async def test_an_alert_is_retired_when_its_run_is_stopped_by_command(stack: LocalStack) -> None:
    run = add_run(stack, "run-alert-cmd1")
    _, posted_alert = stack.post_alert(alert(run))
    async with stack.client() as slack:
        await terminate_via_modal(
            slack,
            stack.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason="seen the alert",
            count=1,
        )
        update = await stack.slack.async_wait_for(
            "chat.update", lambda c: c.args.get("ts") == posted_alert["ts"], timeout=10
        )
    assert not [b for b in update.args["blocks"] if b["type"] == "actions"]
    assert "succeeded" in texts(update.args["blocks"])
