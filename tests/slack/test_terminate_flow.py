"""The product's spine: signed requests through the in-process app (SPEC §4.1–4.3, §6)."""

from __future__ import annotations

import pytest
from harness import InProcessBot

from devkit.expect import modal, posted, result_modal, terminate_via_modal, texts, view_of
from devkit.fakes import RunScript
from devkit.scenario import ADMIN, ALICE, AUDIT, INCIDENTS, PIPELINE_ID


async def test_a_slow_lookup_opens_checking_first_then_the_details(bot: InProcessBot) -> None:
    bot.vectorshift.latency_s = 0.9  # past QUICK_OPEN_S: the trigger window is not risked
    run = bot.add_run("run-slow-0001")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run} slow", user=ALICE, channel=INCIDENTS)
        opened = await bot.slack.async_wait_for("views.open")
        assert ":hourglass_flowing_sand: Checking…" in texts(view_of(opened))
        confirm = await modal(bot.slack, "vs_terminate_confirm")
        await bot.idle()
    # One modal: the placeholder, then updated in place to the details.
    [update] = bot.slack.calls("views.update")
    shown = bot.slack.current_view(ALICE)
    assert shown is not None
    assert (update.args["view_id"], shown["callback_id"]) == (shown["id"], "vs_terminate_confirm")
    assert len(bot.slack.calls("views.open")) == 1
    assert f"Run: {run}" in texts(confirm)


async def test_allowed_user_terminates_a_run_and_everyone_sees_the_verified_result(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-ok-0001")
    async with bot.client() as slack:
        ack = await slack.command(
            f"nightly-etl {run} stuck in a loop", user=ALICE, channel=INCIDENTS
        )
        assert ack.status_code == 200
        assert ack.text == ""
        # The details came quickly: the modal opens complete, in one call, with no placeholder.
        opened = await bot.slack.async_wait_for("views.open")
        assert view_of(opened)["callback_id"] == "vs_terminate_confirm"
        assert bot.slack.calls("views.update") == []
        confirm = await modal(bot.slack, "vs_terminate_confirm")
        shown = texts(confirm)
        assert f"Pipeline: Nightly ETL ({PIPELINE_ID})" in shown
        assert f"Run: {run}" in shown
        assert "Run status: running" in shown
        reason_block = next(b for b in confirm["blocks"] if b.get("block_id") == "reason")
        assert reason_block["optional"] is False  # the rule says require_reason
        assert reason_block["element"]["initial_value"] == "stuck in a loop"
        attempt_id, nonce = confirm["private_metadata"].split(":")
        assert len(nonce) >= 16

        submitted = await slack.submit(user=ALICE, reason="stuck in a loop")
        assert submitted.status_code == 200
        assert submitted.json()["response_action"] == "update"
        assert "Terminating" in texts(submitted.json()["view"])

        message = await posted(bot.slack, INCIDENTS)
    call = bot.vectorshift.terminate_calls
    assert [(c.pipeline_id, c.run_id) for c in call] == [(PIPELINE_ID, run)]
    text = message.args["text"]
    assert f"<@{ALICE}> asked to terminate run `{run}` of Nightly ETL ({PIPELINE_ID})" in text
    assert "Terminated — verified stopped (cancelled)." in text
    assert "Reason: stuck in a loop." in text
    assert f"Attempt {attempt_id}." in text
    final = await result_modal(bot.slack)
    assert "Terminated — verified stopped (cancelled)." in texts(final)

    mirror = await posted(bot.slack, AUDIT)
    assert mirror.args["text"].startswith(":white_check_mark: *succeeded*")
    assert "|message>" in mirror.args["text"]

    [record] = await bot.audit_records()
    assert record["id"] == attempt_id
    assert record["outcome"] == "succeeded"
    assert record["user_id"] == ALICE
    assert record["channel_id"] == INCIDENTS
    assert record["source"] == "slash_command"
    assert record["pipeline_id"] == PIPELINE_ID
    assert record["pipeline_name"] == "Nightly ETL"
    assert record["run_id"] == run
    assert record["reason"] == "stuck in a loop"
    assert record["rule"] == "data-oncall"
    assert record["http_status"] == 200
    assert record["api_status"] == "success"
    assert record["verified_status"] == "stopped (cancelled)"
    assert record["completed_at"] is not None
    verify = await bot.runtime.repository.verify()
    assert verify.ok, verify.problem


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "*Usage*"),
        ("help", "*Usage*"),
        ("nightly-etl", ":warning: a pipeline and a run id are both needed."),
        ("nightly-etl ../etc/passwd", ":warning: `../etc/passwd` is not a valid run id"),
        ('"Nightly ETL run-1', ":warning: a quote opened at character 1 is never closed."),
        ("status nightly-etl", ":warning: `status` takes a pipeline and a run id."),
        ("x" * 3500, ":warning: the command text is longer than 3000 characters."),
    ],
)
async def test_help_and_bad_input_answer_in_the_ack_and_call_nothing(
    bot: InProcessBot, text: str, expected: str
) -> None:
    async with bot.client() as slack:
        ack = await slack.command(text, user=ALICE, channel=INCIDENTS)
    assert ack.status_code == 200
    body = ack.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith(expected)
    if text not in {"", "help"}:
        assert "*Usage*" in body["text"]
    await bot.idle()
    assert bot.slack.calls("views.open") == []
    assert bot.vectorshift.terminate_calls == []
    assert await bot.audit_records() == []


async def test_bad_or_stale_signature_gets_401_and_changes_nothing(bot: InProcessBot) -> None:
    run = bot.add_run("run-sig-0001")
    async with bot.client() as slack:
        tampered = await slack.send(
            f"command=%2Fvs-terminate&text=nightly-etl+{run}&user_id={ADMIN}&channel_id={INCIDENTS}",
            headers={"X-Slack-Signature": "v0=" + "0" * 64},
        )
        stale = await slack.send(
            f"command=%2Fvs-terminate&text=nightly-etl+{run}&user_id={ADMIN}&channel_id={INCIDENTS}",
            timestamp=1_600_000_000,
        )
        unsigned = await slack.send("command=%2Fvs-terminate&text=help", signed=False)
    assert [tampered.status_code, stale.status_code, unsigned.status_code] == [401, 401, 401]
    await bot.idle()
    assert bot.slack.calls("views.open") == []
    assert bot.vectorshift.terminate_calls == []
    assert await bot.audit_records() == []


@pytest.mark.parametrize(
    "body",
    [
        "payload=%7Bnot-json",
        "payload=%5B1%2C2%5D",
        "\x00\x01binary\xff",
        "payload=" + "%7B%22type%22%3A%22view_submission%22%7D",
        "command=%2Fvs-terminate&text=" + "%F0%9F%92%A5" * 1000,
    ],
)
async def test_signed_garbage_gets_a_4xx_or_a_polite_answer_never_a_500(
    bot: InProcessBot, body: str
) -> None:
    async with bot.client() as slack:
        response = await slack.send(body)
    assert response.status_code < 500
    assert bot.vectorshift.terminate_calls == []
    assert await bot.healthz() == 200


async def test_unknown_pipeline_name_is_explained_in_the_modal_and_never_terminated(
    bot: InProcessBot,
) -> None:
    async with bot.client() as slack:
        await slack.command('"No Such Pipeline" run-x-0001', user=ADMIN, channel=INCIDENTS)
        blocked = await modal(bot.slack, "vs_terminate_result")
    shown = texts(blocked)
    assert "No such pipeline for this key" in shown
    assert blocked.get("submit") is None
    assert bot.vectorshift.terminate_calls == []
    [record] = await bot.audit_records()
    assert record["outcome"] == "failed"
    assert record["error"] == "pipeline not found"


async def test_run_already_finished_offers_no_terminate_button(bot: InProcessBot) -> None:
    run = bot.add_run("run-done-0001", RunScript.ALREADY_FINISHED)
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        blocked = await modal(bot.slack, "vs_terminate_result")
    assert "The run has already finished (completed)" in texts(blocked)
    assert blocked.get("submit") is None
    assert bot.vectorshift.terminate_calls == []
    [record] = await bot.audit_records()
    assert record["outcome"] == "already_finished"


async def test_replayed_submission_changes_nothing(bot: InProcessBot) -> None:
    run = bot.add_run("run-replay-01")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        confirm = await modal(bot.slack, "vs_terminate_confirm")
        view_id = (await bot.slack.async_wait_for("views.open")).args.get("view_id")
        metadata = confirm["private_metadata"]
        first = await slack.submit(
            user=ADMIN,
            reason="first",
            private_metadata=metadata,
            callback_id="vs_terminate_confirm",
            view_id=view_id,
        )
        await posted(bot.slack, INCIDENTS)
        second = await slack.submit(
            user=ADMIN,
            reason="again",
            private_metadata=metadata,
            callback_id="vs_terminate_confirm",
            view_id=view_id,
        )
    assert "Terminating" in texts(first.json()["view"])
    assert "already submitted or has expired" in texts(second.json()["view"])
    await bot.idle()
    assert len(bot.vectorshift.terminate_calls) == 1
    [record] = await bot.audit_records()
    assert record["reason"] == "first"
    assert record["outcome"] == "succeeded"


async def test_failed_termination_says_why_and_offers_retry(bot: InProcessBot) -> None:
    run = bot.add_run("run-fail-0001", RunScript.FAILS)
    async with bot.client() as slack:
        message = await terminate_via_modal(
            slack,
            bot.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason="runaway",
        )
    assert (
        "Failed: VectorShift had an internal error; the run was not terminated (HTTP 500)."
        in message.args["text"]
    )
    actions = [b for b in message.args["blocks"] if b["type"] == "actions"]
    [button] = actions[0]["elements"]
    assert button["action_id"] == "vs_terminate_retry"
    [record] = await bot.audit_records()
    assert button["value"] == record["id"]
    assert record["outcome"] == "failed"
    assert record["http_status"] == 500
