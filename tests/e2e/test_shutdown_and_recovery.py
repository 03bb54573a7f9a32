"""Deploys and crashes of the real process: SIGTERM drains, kill -9 is reconciled (SPEC §3, §6, §7).

Each test prints what it measured (drain time, time to settle after a crash): run with `-s` to
see the figures (`.venv/bin/pytest -s -q tests/e2e/test_shutdown_and_recovery.py`).
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import pytest
from scenario import ADMIN, INCIDENTS, add_run, make_stack

from devkit.expect import modal, posted
from devkit.fakes import RunScript
from devkit.payloads import SocketModeSlackClient
from devkit.stack import LocalStack

pytestmark = pytest.mark.e2e

HANG_S = 3.0
"""How long the fake VectorShift takes to answer the terminate: the deploy lands in the middle."""


async def confirm_slow_terminate(
    stack: LocalStack, run: str, *, socket: bool = False, hang_s: float = HANG_S
) -> None:
    """The admin confirms a terminate that VectorShift takes `hang_s` to answer."""
    stack.vectorshift.hang_s = hang_s
    add_run(stack, run, RunScript.TIMES_OUT)
    client = SocketModeSlackClient(stack.slack) if socket else stack.client()
    async with client as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        await modal(stack.slack, "vs_terminate_confirm")
        await slack.submit(user=ADMIN, reason="deploy in the middle")
    await stack.vectorshift.async_wait_for_terminate(run_id=run, timeout=15)


async def outcome_of(stack: LocalStack, run: str) -> str:
    records = await asyncio.to_thread(stack.audit_records)
    [record] = [r for r in records if r["run_id"] == run]
    return str(record["outcome"])


async def test_sigterm_during_a_slow_terminate_still_posts_the_result_and_exits_0(
    tmp_path: Path,
) -> None:
    with make_stack(tmp_path) as stack:
        await confirm_slow_terminate(stack, "run-sigterm-01")
        sent = time.monotonic()
        stack.send_signal(signal.SIGTERM)
        status = await asyncio.to_thread(stack.wait, 40)
        drained_s = time.monotonic() - sent
        message = await posted(stack.slack, INCIDENTS)
        assert await outcome_of(stack, "run-sigterm-01") == "succeeded"
    print(f"\nHTTP mode: SIGTERM to exit {drained_s:.1f} s (terminate answered {HANG_S} s late)")
    assert status == 0
    assert "Terminated — verified" in message.args["text"]
    assert drained_s < 25 + 5
    assert "SIGTERM: finishing in-flight work" in stack.log()


async def test_socket_mode_drains_then_closes_the_websocket_with_a_close_frame_and_exits_0(
    tmp_path: Path,
) -> None:
    stack = make_stack(tmp_path)
    stack.command = "socket"
    with stack:
        await stack.slack.async_wait_connected(timeout=20)
        assert stack.healthz() == 200
        await confirm_slow_terminate(stack, "run-sigterm-02", socket=True)
        sent = time.monotonic()
        stack.send_signal(signal.SIGTERM)
        status = await asyncio.to_thread(stack.wait, 40)
        drained_s = time.monotonic() - sent
        closed = await stack.slack.async_wait_socket_closed(timeout=5)
        message = await posted(stack.slack, INCIDENTS)
        assert await outcome_of(stack, "run-sigterm-02") == "succeeded"
    print(f"\nSocket Mode: SIGTERM to exit {drained_s:.1f} s; close code {closed.code}")
    assert status == 0
    assert closed.clean, closed
    assert "Terminated — verified" in message.args["text"]


async def test_socket_mode_with_a_refused_app_token_exits_2_naming_it_and_serves_nothing(
    tmp_path: Path,
) -> None:
    stack = make_stack(tmp_path)
    stack.command = "socket"
    stack.slack.refuse_app_token("invalid_auth")
    with pytest.raises(RuntimeError, match="exited with 2") as failed:
        stack.start()
    stack.stop()
    assert "SLACK_APP_TOKEN was refused by Slack (invalid_auth)" in str(failed.value)


async def test_in_socket_mode_healthz_answers_before_the_websocket_connects(tmp_path: Path) -> None:
    stack = make_stack(tmp_path)
    stack.command = "socket"
    stack.slack.delay("apps.connections.open", 8.0)  # Slack slow to hand out a WebSocket URL
    started = time.monotonic()
    with stack:
        healthy_after_s = time.monotonic() - started
        await stack.slack.async_wait_connected(timeout=40)
        connected_after_s = time.monotonic() - started
    print(
        f"\n/healthz 200 after {healthy_after_s:.1f} s, WebSocket connected after "
        f"{connected_after_s:.1f} s (apps.connections.open delayed 8 s)"
    )
    assert healthy_after_s < connected_after_s


async def killed_mid_terminate(stack: LocalStack, run: str) -> float:
    """Confirm a terminate VectorShift never answers in time, kill -9 the bot during it.

    Returns:
        `time.monotonic()` at the kill.
    """
    # Longer than the bot's deadline: the run never stops while the test watches.
    await confirm_slow_terminate(stack, run, hang_s=120.0)
    killed_at = time.monotonic()
    stack.send_signal(signal.SIGKILL)
    assert await asyncio.to_thread(stack.wait, 10) == -signal.SIGKILL
    return killed_at


async def test_after_kill_9_on_sqlite_the_restarted_process_settles_the_attempt_within_30_s(
    tmp_path: Path,
) -> None:
    with make_stack(tmp_path) as stack:
        killed_at = await killed_mid_terminate(stack, "run-kill9-01")
        await asyncio.to_thread(stack.start_bot)
        message = await posted(stack.slack, INCIDENTS, timeout_s=60)
        assert await outcome_of(stack, "run-kill9-01") == "unconfirmed"
    settled_s = message.at - killed_at
    print(f"\nSQLite, restarted process: channel told {settled_s:.1f} s after kill -9")
    assert settled_s <= 30
    assert "The bot restarted during this termination" in message.args["text"]


async def test_after_kill_9_on_postgresql_a_live_instance_settles_the_attempt_within_30_s(
    tmp_path: Path, pg_database: str
) -> None:
    url = f"postgresql://postgres@127.0.0.1:5432/{pg_database}"
    crashing = make_stack(tmp_path / "a", database_url=url)
    survivor = LocalStack(
        tmp_path / "b",
        policy=crashing.policy_file.read_text() if crashing.policy_file.exists() else "",
        database_url=url,
        slack=crashing.slack,
        vectorshift=crashing.vectorshift,
        fakes_running=True,
    )
    with crashing:
        survivor._policy = crashing.policy_file.read_text()
        with survivor:
            killed_at = await killed_mid_terminate(crashing, "run-kill9-02")
            message = await posted(crashing.slack, INCIDENTS, timeout_s=60)
            assert await outcome_of(survivor, "run-kill9-02") == "unconfirmed"
            survivor_log = survivor.log()
    settled_s = message.at - killed_at
    print(f"\nPostgreSQL, the other instance: channel told {settled_s:.1f} s after kill -9")
    assert settled_s <= 30
    assert "The bot restarted during this termination" in message.args["text"]
    assert "Traceback" not in survivor_log
