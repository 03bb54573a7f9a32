"""The result's way to people: channel, then response_url in channel, ephemeral, then a DM (§4.3).

`Delivery` against the stub Web API: each test closes one more door and checks where the result
arrives, and that a DM carries no buttons.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.attempts.execute import Execution, FailureReason
from bot.attempts.lifecycle import Attempt, Outcome, Source
from bot.metrics import Metrics
from bot.slack.delivery import Delivery
from devkit.fakes import FakeSlack

CHANNEL = "C0PRIVATE01"
USER = "U0ALICE0001"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.ensure_user(USER)
    async with fake.serve():
        yield fake


@pytest.fixture
async def delivery(slack: FakeSlack) -> AsyncIterator[Delivery]:
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, session=session)
        yield Delivery(
            client, session=session, audit_channel=None, metrics=Metrics(), channel_interval_s=0
        )


def failed_attempt(slack: FakeSlack, *, dm: bool = False) -> Execution:
    attempt = Attempt(
        id="att-1",
        request_id="req-1",
        requested_at=datetime(2026, 12, 1, 9, tzinfo=UTC),
        user_id=USER,
        source=Source.SLASH_COMMAND,
        outcome=Outcome.FAILED,
        channel_id=CHANNEL,
        channel_is_dm=dm,
        pipeline_id="65f1c0ffee0123456789abcd",
        run_id="run1",
        http_status=500,
        response_url=slack.response_url(channel=CHANNEL, user_id=USER),
    )
    return Execution(attempt, failure=FailureReason.SERVER_ERROR)


def retry_buttons(blocks: object) -> list[str]:
    return [
        e["action_id"]
        for b in blocks or []  # type: ignore[attr-defined]
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


async def test_a_channel_the_bot_can_post_in_gets_the_result(
    delivery: Delivery, slack: FakeSlack
) -> None:
    posted = await delivery.announce(failed_attempt(slack))
    assert (posted.route, posted.channel) == ("channel", CHANNEL)
    [call] = slack.calls("chat.postMessage")
    assert retry_buttons(call.args["blocks"]) == ["vs_terminate_retry"]


async def test_a_private_channel_falls_back_to_the_response_url_in_channel(
    delivery: Delivery, slack: FakeSlack
) -> None:
    slack.private_channel(CHANNEL)
    posted = await delivery.announce(failed_attempt(slack))
    assert posted.route == "response_url:in_channel"
    [answer] = slack.calls("response_url")
    assert answer.args["response_type"] == "in_channel"


async def test_a_refused_in_channel_response_falls_back_to_an_ephemeral_one(
    delivery: Delivery, slack: FakeSlack
) -> None:
    slack.private_channel(CHANNEL)
    slack.fail("response_url", "invalid_blocks", times=1, status=400)
    posted = await delivery.announce(failed_attempt(slack))
    assert posted.route == "response_url:ephemeral"
    assert [c.args["response_type"] for c in slack.calls("response_url")] == [
        "in_channel",
        "ephemeral",
    ]


async def test_when_every_other_door_is_shut_a_dm_without_buttons_arrives(
    delivery: Delivery, slack: FakeSlack
) -> None:
    slack.private_channel(CHANNEL)
    slack.fail("response_url", "expired_url", status=404)
    posted = await delivery.announce(failed_attempt(slack))
    assert posted.route == "dm"
    [dm] = [c for c in slack.calls("chat.postMessage") if c.error is None]
    assert dm.args["channel"].startswith("D")
    assert retry_buttons(dm.args.get("blocks")) == []


async def test_an_attempt_from_a_dm_is_not_posted_in_a_channel(
    delivery: Delivery, slack: FakeSlack
) -> None:
    posted = await delivery.announce(failed_attempt(slack, dm=True))
    assert posted.route == "response_url:in_channel"
    assert slack.calls("chat.postMessage") == []
