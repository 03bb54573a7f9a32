"""Approvals through the real process (SPEC §4.6): signed clicks, two instances, crashes, expiry.

The request lives in the database: an approval clicked on another instance, or after the bot
was killed and started again, still runs the action once; and a request whose timeout passed
while the bot was down is expired by the restarted process's sweep (every 5 s).
"""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from scenario import ALICE, AUDIT, INCIDENTS, MALLORY, add_run

from bot.slack import ids
from devkit.expect import modal, texts
from devkit.fakes import SlackCall, SlackMessage
from devkit.scenario import APPROVALS_POLICY, BOSS, LEAD, LEADS, make_fakes
from devkit.stack import LocalStack

pytestmark = pytest.mark.e2e


def approvals_stack(
    workdir: Path, *, database_url: str | None = None, shares: LocalStack | None = None
) -> LocalStack:
    """A stack with the approvals policy; with `shares`, a second instance on its fakes."""
    if shares is not None:
        return LocalStack(
            workdir,
            policy=APPROVALS_POLICY,
            database_url=database_url,
            audit_channel=AUDIT,
            slack=shares.slack,
            vectorshift=shares.vectorshift,
            fakes_running=True,
        )
    slack, vectorshift = make_fakes()
    slack.set_group(LEADS, [LEAD])
    for user in (ALICE, LEAD, BOSS, MALLORY):
        slack.ensure_user(user)
    return LocalStack(
        workdir,
        policy=APPROVALS_POLICY,
        slack=slack,
        vectorshift=vectorshift,
        audit_channel=AUDIT,
        database_url=database_url,
    )


def buttons(blocks: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def is_request(call: SlackCall) -> bool:
    return call.args.get("channel") == INCIDENTS and any(
        a == ids.APPROVE_ACTION for a, _ in buttons(call.args.get("blocks"))
    )


def request_of(stack: LocalStack, attempt_id: str) -> SlackMessage:
    """The approval request as it now stands in the channel."""
    [found] = [
        m
        for m in stack.slack.messages(INCIDENTS)
        if m.thread_ts is None
        and m.ephemeral_to is None
        and f"Attempt {attempt_id}" in texts(m.blocks)
    ]
    return found


async def ask(stack: LocalStack, run: str, *, reason: str = "double-charging") -> tuple[str, str]:
    """Alice asks to terminate `run`; returns the attempt id and the request's ts."""
    opened_or_updated = stack.slack.calls("views.open") + stack.slack.calls("views.update")
    modals = len([c for c in opened_or_updated if _callback(c) == ids.CONFIRM_CALLBACK])
    requests = len([c for c in stack.slack.calls("chat.postMessage") if is_request(c)])
    async with stack.client() as slack:
        await slack.command(f"nightly-etl {run} {reason}", user=ALICE, channel=INCIDENTS)
        await modal(stack.slack, ids.CONFIRM_CALLBACK, count=modals + 1)
        await slack.submit(user=ALICE, reason=reason)
    request = await stack.slack.async_wait_for(
        "chat.postMessage", is_request, timeout=15, count=requests + 1
    )
    [(_, attempt_id), _] = buttons(request.args["blocks"])
    # The request's ts is recorded before the audit channel hears of it: wait for that, so a
    # kill -9 that follows lands after the request is fully stored.
    await stack.slack.async_wait_for(
        "chat.postMessage",
        lambda c: c.args.get("channel") == AUDIT and attempt_id in str(c.args.get("text")),
        timeout=15,
    )
    ts = next(
        m.ts
        for m in stack.slack.messages(INCIDENTS)
        if any(v == attempt_id for _, v in buttons(m.blocks))
    )
    return attempt_id, ts


def _callback(call: SlackCall) -> object:
    view = call.args.get("view")
    return view.get("callback_id") if isinstance(view, dict) else None


async def click(
    stack: LocalStack, attempt_id: str, ts: str, *, user: str, action: str = ids.APPROVE_ACTION
) -> str:
    """`user` clicks on the request through `stack`'s process; returns the response_url id."""
    async with stack.client() as slack:
        ack = await slack.click(
            attempt_id, user=user, channel=INCIDENTS, action_id=action, message_ts=ts
        )
        assert ack.status_code == 200
        assert slack.last_response_url is not None
        return slack.last_response_url.rsplit("/", 1)[1]


async def answer(stack: LocalStack, response_url_id: str) -> str:
    """What the bot said privately through one response_url."""
    call = await stack.slack.async_wait_for(
        "response_url", lambda c: c.args.get("response_url_id") == response_url_id, timeout=15
    )
    return str(call.args.get("text", ""))


async def result_in_thread(stack: LocalStack, ts: str, *, timeout_s: float = 20) -> SlackCall:
    return await stack.slack.async_wait_for(
        "chat.postMessage",
        lambda c: c.args.get("thread_ts") == ts and "Terminated" in str(c.args.get("text")),
        timeout=timeout_s,
    )


async def records_of(stack: LocalStack) -> list[dict[str, object]]:
    return await asyncio.to_thread(stack.audit_records)


async def test_signed_clicks_only_an_approver_runs_it_and_the_result_is_in_the_thread(
    tmp_path: Path,
) -> None:
    with approvals_stack(tmp_path) as stack:
        run = add_run(stack, "run-e2e-appr-01")
        attempt_id, ts = await ask(stack, run)
        own = await answer(stack, await click(stack, attempt_id, ts, user=ALICE))
        outsider = await answer(stack, await click(stack, attempt_id, ts, user=MALLORY))
        assert stack.vectorshift.terminate_calls == []
        await click(stack, attempt_id, ts, user=LEAD)
        result = await result_in_thread(stack, ts)
        await stack.vectorshift.async_wait_for_terminate(run_id=run, timeout=5)
        [record] = await records_of(stack)
        stack.slack.assert_within_limits()
        log = stack.log()
    assert "someone else has to approve it" in own, own
    assert f"<@{BOSS}>" in outsider and f"<!subteam^{LEADS}>" in outsider, outsider
    assert [c.run_id for c in stack.vectorshift.terminate_calls] == [run]
    assert "Terminated — verified stopped" in result.args["text"]
    assert (record["outcome"], record["approved_by"]) == ("succeeded", LEAD)
    request = request_of(stack, attempt_id)
    assert "Approved by" in request.text and buttons(request.blocks) == []
    assert "Traceback" not in log


async def test_two_instances_on_postgresql_approve_across_instances_and_race_once(
    tmp_path: Path, pg_database: str
) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    a = approvals_stack(tmp_path / "a", database_url=url)
    b = approvals_stack(tmp_path / "b", database_url=url, shares=a)
    with a, b:
        # Asked on A, approved on B.
        first = add_run(a, "run-e2e-cross-01")
        attempt_id, ts = await ask(a, first)
        await click(b, attempt_id, ts, user=LEAD)
        crossed = await result_in_thread(a, ts)
        crossed_request = request_of(a, attempt_id)
        # Two approvers at the same moment, one on each instance.
        second = add_run(a, "run-e2e-race-001")
        raced_id, raced_ts = await ask(a, second)
        rids = await asyncio.gather(
            click(a, raced_id, raced_ts, user=LEAD), click(b, raced_id, raced_ts, user=BOSS)
        )
        raced = await result_in_thread(a, raced_ts)
        # Only the click that lost is answered on its response_url.
        loser = await a.slack.async_wait_for(
            "response_url", lambda c: c.args.get("response_url_id") in rids, timeout=15
        )
        await asyncio.sleep(1.0)  # let any second action show itself
        records = {r["id"]: r for r in await records_of(a)}
        a.slack.assert_within_limits()
        logs = a.log() + b.log()
    assert "Terminated — verified stopped" in crossed.args["text"]
    assert f"Approved by <@{LEAD}>" in crossed_request.text, crossed_request.text
    assert "Terminated — verified stopped" in raced.args["text"]
    assert [c.run_id for c in a.vectorshift.terminate_calls] == [first, second]
    assert (records[attempt_id]["outcome"], records[attempt_id]["approved_by"]) == (
        "succeeded",
        LEAD,
    )
    assert records[raced_id]["outcome"] == "succeeded"
    assert records[raced_id]["approved_by"] in {LEAD, BOSS}, records[raced_id]
    assert "nothing changed" in str(loser.args.get("text")), loser.args
    answered = [c for c in a.slack.calls("response_url") if c.args["response_url_id"] in rids]
    assert len(answered) == 1, [c.args.get("text") for c in answered]
    results = [m for m in a.slack.messages(INCIDENTS) if m.thread_ts == raced_ts]
    assert len([m for m in results if "Terminated" in m.text]) == 1
    assert "Traceback" not in logs


async def test_a_request_survives_kill_9_and_is_approved_after_the_restart(
    tmp_path: Path,
) -> None:
    with approvals_stack(tmp_path) as stack:
        run = add_run(stack, "run-e2e-surv-01")
        attempt_id, ts = await ask(stack, run)
        stack.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(stack.wait, 10) == -signal.SIGKILL
        await asyncio.to_thread(stack.start_bot)
        [waiting] = await records_of(stack)
        await click(stack, attempt_id, ts, user=BOSS)
        result = await result_in_thread(stack, ts)
        [record] = await records_of(stack)
        request = request_of(stack, attempt_id)
    assert waiting["outcome"] == "awaiting_approval"
    assert f"Approved by <@{BOSS}>" in request.text, request.text
    assert buttons(request.blocks) == []
    assert "Terminated — verified stopped" in result.args["text"]
    assert [c.run_id for c in stack.vectorshift.terminate_calls] == [run]
    assert (record["outcome"], record["approved_by"]) == ("succeeded", BOSS)


async def test_a_request_whose_timeout_passed_while_the_bot_was_down_expires_after_restart(
    tmp_path: Path,
) -> None:
    with approvals_stack(tmp_path) as stack:
        run = add_run(stack, "run-e2e-expire1")
        attempt_id, ts = await ask(stack, run)
        stack.send_signal(signal.SIGKILL)
        assert await asyncio.to_thread(stack.wait, 10) == -signal.SIGKILL
        past = datetime.now(UTC) - timedelta(minutes=1)
        with sqlite3.connect(tmp_path / "audit.db") as db:
            (stored,) = db.execute(
                "SELECT expires_at FROM attempts WHERE id = ?", (attempt_id,)
            ).fetchone()
            changed = db.execute(
                "UPDATE attempts SET expires_at = ? WHERE id = ?",
                (past.strftime("%Y-%m-%d %H:%M:%S.%f"), attempt_id),
            ).rowcount
        assert changed == 1, f"no attempt {attempt_id} (expires_at was {stored!r})"
        restarted = time.monotonic()
        await asyncio.to_thread(stack.start_bot)
        told = await stack.slack.async_wait_for(
            "chat.postMessage",
            lambda c: c.args.get("thread_ts") == ts and "Expired" in str(c.args.get("text")),
            timeout=20,
        )
        expired_after_s = time.monotonic() - restarted
        updated = await stack.slack.async_wait_for(
            "chat.update",
            lambda c: c.args.get("ts") == ts and "Expired" in str(c.args.get("text")),
            timeout=5,
        )
        late = await answer(stack, await click(stack, attempt_id, ts, user=LEAD))
        [record] = await records_of(stack)
    print(f"\nexpired {expired_after_s:.1f} s after the restart began")
    assert f"<@{ALICE}>" in told.args["text"], told.args["text"]
    assert buttons(updated.args.get("blocks")) == []
    assert record["outcome"] == "expired"
    assert "already expired" in late, late
    assert stack.vectorshift.terminate_calls == []
    assert expired_after_s < 15
