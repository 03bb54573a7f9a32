"""The product's spine, end to end: signed requests to the real server (issue 3, SPEC §4.1–4.3, §6)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator

import pytest
from helpers import modal, posted, result_modal, terminate_via_modal, texts, view_of
from scenario import ADMIN, ALICE, AUDIT, INCIDENTS, PIPELINE_ID, add_run, make_stack

from devkit.fakes import RunScript
from devkit.stack import LocalStack

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def quiet_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """One server for the tests that must leave no trace: each asserts nothing was recorded."""
    with make_stack(tmp_path_factory.mktemp("quiet")) as running:
        yield running


async def test_allowed_user_terminates_a_run_and_everyone_sees_the_verified_result(
    stack: LocalStack,
) -> None:
    run = add_run(stack, "run-ok-0001")
    async with stack.client() as slack:
        ack = await slack.command(
            f"nightly-etl {run} stuck in a loop", user=ALICE, channel=INCIDENTS
        )
        assert ack.status_code == 200
        assert ack.text == ""
        opened = await stack.slack.async_wait_for("views.open")
        assert ":hourglass_flowing_sand: Checking…" in texts(view_of(opened))
        confirm = await modal(stack.slack, "vs_terminate_confirm")
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

        message = await posted(stack.slack, INCIDENTS)
    call = stack.vectorshift.terminate_calls
    assert [(c.pipeline_id, c.run_id) for c in call] == [(PIPELINE_ID, run)]
    text = message.args["text"]
    assert f"<@{ALICE}> asked to terminate run `{run}` of Nightly ETL ({PIPELINE_ID})" in text
    assert "Terminated — verified stopped (cancelled)." in text
    assert "Reason: stuck in a loop." in text
    assert f"Attempt {attempt_id}." in text
    final = await result_modal(stack.slack)
    assert "Terminated — verified stopped (cancelled)." in texts(final)

    mirror = await posted(stack.slack, AUDIT)
    assert mirror.args["text"].startswith(":white_check_mark: *succeeded*")
    assert "|message>" in mirror.args["text"]

    [record] = stack.audit_records()
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
    verify = stack.cli("audit", "verify")
    assert verify.returncode == 0, verify.stderr
    assert verify.stdout.startswith("ok: ")


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
    quiet_stack: LocalStack, text: str, expected: str
) -> None:
    async with quiet_stack.client() as slack:
        ack = await slack.command(text, user=ALICE, channel=INCIDENTS)
    assert ack.status_code == 200
    body = ack.json()
    assert body["response_type"] == "ephemeral"
    assert body["text"].startswith(expected)
    if text not in {"", "help"}:
        assert "*Usage*" in body["text"]
    await asyncio.sleep(0.3)
    assert quiet_stack.slack.calls("views.open") == []
    assert quiet_stack.vectorshift.terminate_calls == []
    assert quiet_stack.audit_records() == []


async def test_bad_or_stale_signature_gets_401_and_changes_nothing(quiet_stack: LocalStack) -> None:
    run = add_run(quiet_stack, "run-sig-0001")
    async with quiet_stack.client() as slack:
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
    await asyncio.sleep(0.3)
    assert quiet_stack.slack.calls("views.open") == []
    assert quiet_stack.vectorshift.terminate_calls == []
    assert quiet_stack.audit_records() == []


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
    quiet_stack: LocalStack, body: str
) -> None:
    async with quiet_stack.client() as slack:
        response = await slack.send(body)
    assert response.status_code < 500
    assert quiet_stack.vectorshift.terminate_calls == []
    assert quiet_stack.healthz() == 200


async def test_unknown_pipeline_name_is_explained_in_the_modal_and_never_terminated(
    stack: LocalStack,
) -> None:
    async with stack.client() as slack:
        await slack.command('"No Such Pipeline" run-x-0001', user=ADMIN, channel=INCIDENTS)
        blocked = await modal(stack.slack, "vs_terminate_result")
    shown = texts(blocked)
    assert "No such pipeline for this key" in shown
    assert blocked.get("submit") is None
    assert stack.vectorshift.terminate_calls == []
    [record] = stack.audit_records()
    assert record["outcome"] == "failed"
    assert record["error"] == "pipeline not found"


async def test_run_already_finished_offers_no_terminate_button(stack: LocalStack) -> None:
    run = add_run(stack, "run-done-0001", RunScript.ALREADY_FINISHED)
    async with stack.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        blocked = await modal(stack.slack, "vs_terminate_result")
    assert "The run has already finished (`completed`)" in texts(blocked)
    assert blocked.get("submit") is None
    assert stack.vectorshift.terminate_calls == []
    [record] = stack.audit_records()
    assert record["outcome"] == "already_finished"


async def test_replayed_submission_changes_nothing(stack: LocalStack) -> None:
    run = add_run(stack, "run-replay-01")
    async with stack.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        confirm = await modal(stack.slack, "vs_terminate_confirm")
        view_id = (await stack.slack.async_wait_for("views.open")).args.get("view_id")
        metadata = confirm["private_metadata"]
        first = await slack.submit(
            user=ADMIN,
            reason="first",
            private_metadata=metadata,
            callback_id="vs_terminate_confirm",
            view_id=view_id,
        )
        await posted(stack.slack, INCIDENTS)
        second = await slack.submit(
            user=ADMIN,
            reason="again",
            private_metadata=metadata,
            callback_id="vs_terminate_confirm",
            view_id=view_id,
        )
    assert "Terminating" in texts(first.json()["view"])
    assert "already submitted or has expired" in texts(second.json()["view"])
    await asyncio.sleep(0.5)
    assert len(stack.vectorshift.terminate_calls) == 1
    [record] = stack.audit_records()
    assert record["reason"] == "first"
    assert record["outcome"] == "succeeded"


async def test_failed_termination_says_why_and_offers_retry(stack: LocalStack) -> None:
    run = add_run(stack, "run-fail-0001", RunScript.FAILS)
    async with stack.client() as slack:
        message = await terminate_via_modal(
            slack,
            stack.slack,
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
    [record] = stack.audit_records()
    assert button["value"] == record["id"]
    assert record["outcome"] == "failed"
    assert record["http_status"] == 500


async def test_json_log_lines_never_contain_secrets(tmp_path) -> None:  # type: ignore[no-untyped-def]
    from scenario import make_stack

    stack = make_stack(tmp_path)
    stack._extra_env["LOG_FORMAT"] = "json"
    stack._extra_env["LOG_LEVEL"] = "DEBUG"
    with stack:
        run = add_run(stack, "run-log-0001")
        async with stack.client() as slack:
            await terminate_via_modal(
                slack,
                stack.slack,
                f"nightly-etl {run}",
                user=ADMIN,
                channel=INCIDENTS,
                reason="x",
            )
        log = stack.log()
    for secret in ("xoxb-sandbox-0000-token", "sandbox-signing-secret", stack.vectorshift.api_key):
        assert secret not in log
    lines = [line for line in log.splitlines() if line.startswith("{")]
    assert lines
    assert all("level" in json.loads(line) for line in lines)
