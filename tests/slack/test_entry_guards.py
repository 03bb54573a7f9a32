"""Forged, unreadable and malformed requests are refused at the door (issue 9, SPEC §3, §7)."""

from __future__ import annotations

from pathlib import Path

import pytest
from harness import ALERTS_TOKEN, InProcessBot, running_bot, settings_for

from bot.app import StartupError, open_runtime
from devkit.payloads import slash_command_body
from devkit.scenario import ADMIN, INCIDENTS, make_fakes

FORGED_HISTORY = slash_command_body(
    "history",
    user_id=ADMIN,
    channel_id=INCIDENTS,
    response_url="http://127.0.0.1:9/attacker-picked",
)


async def nothing_happened(bot: InProcessBot) -> None:
    await bot.idle()
    assert bot.slack.calls("views.open") == []
    assert bot.slack.calls("chat.postMessage") == []
    assert bot.slack.calls("response_url") == []
    assert bot.vectorshift.terminate_calls == []
    assert await bot.audit_records() == []


async def test_socket_mode_does_not_serve_slack_events_over_http(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_bot(tmp_path, sqlite_url, socket_mode=True) as bot, bot.http() as http:
        forged = await http.post(
            "/slack/events",
            content=FORGED_HISTORY,
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        command = await http.post(
            "/slack/events",
            content=slash_command_body(
                "nightly-etl run-forged-01 x",
                user_id=ADMIN,
                channel_id=INCIDENTS,
                response_url="http://127.0.0.1:9/attacker-picked",
            ),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        health = await http.get("/healthz")
        assert (forged.status_code, command.status_code, health.status_code) == (404, 404, 200)
        await nothing_happened(bot)


async def test_http_mode_never_runs_without_a_signing_secret(
    tmp_path: Path, sqlite_url: str
) -> None:
    slack, vectorshift = make_fakes()
    async with slack.serve(), vectorshift.serve():
        settings = settings_for(
            slack, vectorshift, database_url=sqlite_url, policy_file=tmp_path / "none.toml"
        )
        unsigned = type(settings)(**{**settings.__dict__, "slack_signing_secret": None})
        with pytest.raises(StartupError, match="SLACK_SIGNING_SECRET"):
            async with open_runtime(unsigned, periodic=False):
                pass


@pytest.mark.parametrize("timestamp", ["", "abc", "1.5", "1e10", " ", "-1"])
async def test_an_unreadable_signature_timestamp_is_a_bad_signature(
    bot: InProcessBot, timestamp: str
) -> None:
    async with bot.client() as user:
        response = await user.send(FORGED_HISTORY, headers={"X-Slack-Request-Timestamp": timestamp})
    assert response.status_code == 401
    await nothing_happened(bot)


async def test_a_missing_signature_is_a_bad_signature(bot: InProcessBot) -> None:
    async with bot.client() as user:
        response = await user.send(FORGED_HISTORY, headers={"X-Slack-Signature": ""})
    assert response.status_code == 401
    await nothing_happened(bot)


def deep_json(depth: int) -> str:
    return "[" * depth + "]" * depth


@pytest.mark.parametrize(
    "body",
    [
        "payload=" + deep_json(100_000),
        "payload=" + '{"type":"block_actions","actions":' + deep_json(50_000) + "}",
    ],
)
async def test_signed_json_nested_past_the_parser_limit_is_a_bad_request(
    bot: InProcessBot, body: str
) -> None:
    async with bot.client() as user:
        response = await user.send(body)
    assert response.status_code == 400
    await nothing_happened(bot)


async def test_an_alert_nested_past_the_parser_limit_is_a_bad_request(bot: InProcessBot) -> None:
    status, answer = await bot.post_alert(deep_json(8_000), token=ALERTS_TOKEN)
    assert (status, answer["error"]) == (400, "body: not valid JSON")
    await nothing_happened(bot)
