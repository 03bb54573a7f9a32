"""Socket Mode in process: envelopes over the stub's WebSocket, through the same guard (SPEC §3)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from harness import running_bot

from bot.errors import ConfigError
from devkit.expect import modal, posted
from devkit.fakes.socket_mode import INTERACTIVE, SLASH_COMMANDS
from devkit.payloads import SocketModeSlackClient
from devkit.scenario import ADMIN, INCIDENTS, make_fakes


async def test_a_command_and_its_submission_arrive_as_envelopes_and_terminate(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_bot(tmp_path, sqlite_url, socket_mode=True) as bot:
        await bot.slack.async_wait_connected()
        run = bot.add_run("run-socket-01")
        user = SocketModeSlackClient(bot.slack)
        ack = await user.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        assert (ack.status_code, ack.content) == (200, b"")
        await modal(bot.slack, "vs_terminate_confirm")
        submitted = await user.submit(user=ADMIN, reason="over the socket")
        assert submitted.json()["response_action"] == "update"
        message = await posted(bot.slack, INCIDENTS)
        await bot.idle()
    assert "Terminated — verified" in message.args["text"]
    assert [c.run_id for c in bot.vectorshift.terminate_calls] == [run]


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        (INTERACTIVE, None),
        (INTERACTIVE, [1, 2]),
        (INTERACTIVE, {"type": "block_actions", "actions": None, "user": None}),
        (INTERACTIVE, {"type": "view_submission", "view": "x"}),
        (SLASH_COMMANDS, {"command": "/vs-terminate", "text": ["not", "text"]}),
    ],
)
async def test_a_malformed_envelope_is_acked_and_changes_nothing(
    tmp_path: Path, sqlite_url: str, kind: str, payload: object
) -> None:
    async with running_bot(tmp_path, sqlite_url, socket_mode=True) as bot:
        await bot.slack.async_wait_connected()
        ack = await bot.slack.async_send_envelope(kind, payload)
        await bot.idle()
        assert "envelope_id" in ack
        assert bot.slack.calls("views.open") == []
        assert bot.vectorshift.terminate_calls == []
        assert await bot.audit_records() == []


async def test_garbage_frames_do_not_stop_the_next_envelope(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_bot(tmp_path, sqlite_url, socket_mode=True) as bot:
        await bot.slack.async_wait_connected()
        await bot.slack.async_send_raw("{not json")
        await bot.slack.async_send_raw(json.dumps([1, 2, 3]))
        user = SocketModeSlackClient(bot.slack)
        ack = await user.command("help", user=ADMIN, channel=INCIDENTS)
    assert ack.json()["text"].startswith("*Usage*")


async def test_a_refused_app_token_stops_the_start_naming_the_variable(
    tmp_path: Path, sqlite_url: str
) -> None:
    fakes = make_fakes()
    fakes[0].refuse_app_token("invalid_auth")
    with pytest.raises(ConfigError, match="SLACK_APP_TOKEN was refused by Slack"):
        async with running_bot(tmp_path, sqlite_url, socket_mode=True, fakes=fakes):
            pass
