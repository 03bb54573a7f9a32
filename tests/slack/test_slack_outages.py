"""Slack or the audit store failing around an action: retried, fallen back, said plainly (§4.3, §7).

A completed action is never reported as "something went wrong": Slack server errors on the
result post are retried with backoff and then the fallback chain takes over; an audit write that
fails turns the modal into the plain reason; a hung VectorShift call is reported with the wait
that really happened.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from harness import InProcessBot, running_bot

from bot.domain import Actor, Where
from bot.slack.error_handler import report
from bot.slack.requests import Interaction
from devkit.expect import modal, modal_saying, result_modal, terminate_via_modal, texts
from devkit.fakes import RunScript
from devkit.scenario import ADMIN, INCIDENTS


@pytest.mark.parametrize(
    ("error", "status"),
    [
        ("internal_error", 500),
        ("fatal_error", 200),
        ("service_unavailable", 503),
        ("request_timeout", 200),
    ],
)
async def test_a_result_post_refused_by_a_slack_outage_is_retried_and_arrives(
    bot: InProcessBot, error: str, status: int
) -> None:
    bot.slack.fail("chat.postMessage", error, status=status, times=1, channel=INCIDENTS)
    run = bot.add_run("run-outage-01")
    async with bot.client() as slack:
        delivered = await terminate_via_modal(
            slack, bot.slack, f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS, reason="x"
        )
        final = await result_modal(bot.slack)
        await bot.idle()
    attempts = [c for c in bot.slack.calls("chat.postMessage") if c.args["channel"] == INCIDENTS]
    assert [c.error for c in attempts] == [error, None]
    assert "Terminated — verified" in delivered.args["text"]
    assert "Terminated — verified" in texts(final)
    assert "Something went wrong" not in texts(bot.slack.calls())


async def test_a_slack_outage_that_outlasts_the_retries_falls_back_and_never_says_error(
    bot: InProcessBot,
) -> None:
    bot.slack.fail("chat.postMessage", "internal_error", status=500, channel=INCIDENTS)
    run = bot.add_run("run-outage-02")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ADMIN, reason="outage")
        fallback = await bot.slack.async_wait_for(
            "response_url", lambda c: "Terminated — verified" in str(c.args.get("text"))
        )
        final = await result_modal(bot.slack)
        await bot.idle()
    assert fallback.args["response_type"] == "in_channel"
    assert "Terminated — verified" in texts(final)
    shown = [texts(c.args) for c in bot.slack.calls() if c.error is None]
    assert not any("Something went wrong" in t for t in shown)
    [record] = await bot.audit_records()
    assert record["outcome"] == "succeeded"


async def test_when_the_first_audit_write_fails_the_modal_says_so_and_nothing_is_called(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_bot(tmp_path, sqlite_url) as bot:
        # The database is pulled from under the bot (a restore, a full disk, a hand edit).
        with sqlite3.connect(sqlite_url.removeprefix("sqlite+pysqlite:///")) as db:
            db.execute("ALTER TABLE attempts RENAME TO attempts_gone")
        run = bot.add_run("run-audit-gone")
        async with bot.client() as slack:
            await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
            shown = await modal_saying(bot.slack, "audit trail could not be written")
            await bot.idle()
    assert "Checking" not in texts(shown)
    assert bot.vectorshift.terminate_calls == []
    told = bot.slack.calls("response_url")
    assert any("nothing was done to the run" in texts(c.args) for c in told)


async def test_a_hung_vectorshift_call_is_reported_with_the_wait_that_happened(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_bot(tmp_path, sqlite_url, deadline_s=0.6) as bot:
        bot.vectorshift.hang_s = 5.0
        run = bot.add_run("run-hung-0001", RunScript.TIMES_OUT)
        async with bot.client() as slack:
            message = await terminate_via_modal(
                slack, bot.slack, f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS, reason="x"
            )
        await bot.idle()
        [record] = await bot.audit_records()
    assert "VectorShift did not answer within 0.6 s" in message.args["text"]
    assert record["outcome"] == "unconfirmed"


async def test_a_failure_after_the_action_says_the_outcome_stands(bot: InProcessBot) -> None:
    interaction = Interaction(
        actor=Actor("U0ADMIN0001"),
        where=Where(INCIDENTS),
        request_id="req-1",
        received_at=0.0,
        response_url=bot.slack.response_url(channel=INCIDENTS, user_id=ADMIN),
        view_id="V0NOTUSED",
        settled="succeeded",
    )
    deps = bot.runtime.deps
    await report(RuntimeError("boom"), interaction, deps.delivery, deps.client)
    [told] = bot.slack.calls("response_url")
    assert told.args["text"].startswith(":warning: The action is over (outcome: *succeeded*;")
    assert bot.slack.calls("views.update") == []  # the modal keeps showing the result
