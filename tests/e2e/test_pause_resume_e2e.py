"""Pause and resume through the real process: the reversible stop, then resume, then terminate."""

from __future__ import annotations

from pathlib import Path

import pytest
from scenario import ADMIN, INCIDENTS, PIPELINE_ID, add_run, make_stack

from bot.slack import ids
from devkit.expect import modal, posted, texts
from devkit.fakes import RunScript

pytestmark = pytest.mark.e2e


async def test_pause_from_an_alert_resume_then_switch_a_terminate_to_a_pause_then_terminate(
    tmp_path: Path,
) -> None:
    with make_stack(tmp_path) as stack:
        run = add_run(stack, "run-e2e-pause1")
        done = add_run(stack, "run-e2e-done01", RunScript.FINISHES_ON_PAUSE)
        status, alert = stack.post_alert(
            {"channel": INCIDENTS, "pipeline": "nightly-etl", "run": run, "text": "slow"}
        )
        assert status == 200
        ts = str(alert["ts"])
        async with stack.client() as slack:
            await slack.click(
                f"nightly-etl {run}",
                user=ADMIN,
                channel=INCIDENTS,
                action_id=ids.PAUSE_ACTION,
                message_ts=ts,
            )
            await modal(stack.slack, ids.CONFIRM_CALLBACK)
            await slack.submit(user=ADMIN, reason="checking what it did")
            paused = await posted(stack.slack, INCIDENTS, count=2)

            await slack.command(f"resume nightly-etl {run} fine", user=ADMIN, channel=INCIDENTS)
            await modal(stack.slack, ids.CONFIRM_CALLBACK, count=2)
            await slack.submit(user=ADMIN, reason="fine")
            resumed = await posted(stack.slack, INCIDENTS, count=3)

            # A terminate switched to a pause in the modal, then the terminate for real.
            await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
            await modal(stack.slack, ids.CONFIRM_CALLBACK, count=3)
            await slack.choose("pause", user=ADMIN, action_id=ids.ACTION_CHOICE)
            await stack.slack.async_wait_for(
                "views.update",
                lambda c: (c.args.get("view") or {}).get("submit", {}).get("text") == "Pause",
            )
            await slack.submit(user=ADMIN, reason="pause instead")
            paused_again = await posted(stack.slack, INCIDENTS, count=4)
            await slack.command(f"nightly-etl {run} stop it", user=ADMIN, channel=INCIDENTS)
            await modal(stack.slack, ids.CONFIRM_CALLBACK, count=5)
            await slack.submit(user=ADMIN, reason="stop it")
            terminated = await posted(stack.slack, INCIDENTS, count=5)

            await slack.command(f"pause nightly-etl {done}", user=ADMIN, channel=INCIDENTS)
            await modal(stack.slack, ids.CONFIRM_CALLBACK, count=6)
            await slack.submit(user=ADMIN, reason="odd")
            finished = await posted(stack.slack, INCIDENTS, count=6)
        records = stack.audit_records()
        verify = stack.cli("audit", "verify")
    assert "Paused — verified paused." in paused.args["text"]
    assert paused.args["thread_ts"] == ts
    assert "Resumed — verified running again (running)." in resumed.args["text"]
    assert "Paused — verified paused." in paused_again.args["text"]
    assert "Terminated — verified stopped" in terminated.args["text"]
    assert "nothing was paused" in finished.args["text"]
    assert [(r["action"], r["outcome"]) for r in records] == [
        ("pause", "succeeded"),
        ("resume", "succeeded"),
        ("pause", "succeeded"),
        ("terminate", "succeeded"),
        ("pause", "already_finished"),
    ]
    assert [c.run_id for c in stack.vectorshift.pause_calls] == [run, run, done]
    assert verify.returncode == 0, verify.stderr
    assert PIPELINE_ID in texts(paused.args["blocks"])
