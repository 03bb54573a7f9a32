"""FakeSlack's Socket Mode side behaves like Slack's, as slack_sdk's own client sees it.

The client is slack_sdk's aiohttp `SocketModeClient` (what Bolt's `AsyncSocketModeHandler`
runs) with an `AsyncWebClient` pointed at the fake, so `apps.connections.open`, the link URL,
`hello`, envelopes, acks, `disconnect` and closes all go through the real protocol code. Only
the ping, ticket and shutdown checks use a bare aiohttp WebSocket, to see single frames.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import aiohttp
import pytest
from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler
from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.request.internals import parse_body
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from devkit.fakes import (
    EVENTS_API,
    INTERACTIVE,
    SLASH_COMMANDS,
    FakeSlack,
    SocketConnection,
    SocketEnd,
    envelope,
)
from devkit.payloads import (
    block_actions_body,
    block_actions_payload,
    slash_command_body,
    slash_command_payload,
    view_submission_payload,
)

APP_TOKEN = "xapp-1-A0TEST-1-abcdef"
BOT_TOKEN = "xoxb-test-token"
SECRET = "test-signing-secret"
RUN = "66aa00bb11cc22dd33ee44ff"


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    async with FakeSlack(app_token=APP_TOKEN).serve() as fake:
        yield fake


class Listener:
    """A Socket Mode request listener that records requests and acks them (or not)."""

    def __init__(self, *, ack_payload: dict[str, Any] | None = None, ack: bool = True) -> None:
        self.ack_payload = ack_payload
        self.ack = ack
        self.requests: list[SocketModeRequest] = []
        self.messages: list[dict[str, Any]] = []
        self.hello = asyncio.Event()

    async def on_request(self, client: AsyncBaseSocketModeClient, req: SocketModeRequest) -> None:
        self.requests.append(req)
        if self.ack:
            await client.send_socket_mode_response(
                SocketModeResponse(envelope_id=req.envelope_id, payload=self.ack_payload)
            )

    async def on_message(
        self, _client: AsyncBaseSocketModeClient, message: dict[str, Any], _raw: str | None
    ) -> None:
        self.messages.append(message)
        if message.get("type") == "hello":
            self.hello.set()


@contextlib.asynccontextmanager
async def socket_client(
    slack: FakeSlack, listener: Listener | None = None, *, auto_reconnect: bool = True
) -> AsyncIterator[SocketModeClient]:
    client = SocketModeClient(
        app_token=APP_TOKEN,
        web_client=AsyncWebClient(base_url=slack.api_url, timeout=5),
        auto_reconnect_enabled=auto_reconnect,
    )
    if listener is not None:
        client.socket_mode_request_listeners.append(listener.on_request)
        client.message_listeners.append(listener.on_message)
    try:
        await client.connect()
        yield client
    finally:
        await client.close()


async def adopted(slack: FakeSlack, count: int = 1) -> SocketConnection:
    """Waits until the client has taken connection `count` as its current session.

    `hello` goes out during the handshake, before slack_sdk stores the new session; it pings
    right after storing it, so that ping is the sign it reads from (and closes) that one.
    """
    connection = await slack.async_wait_connected(count=count)
    await slack.async_wait_for_frame(
        lambda f: f.kind == "ping" and f.connection_id == connection.id
    )
    return connection


def command_payload(text: str = "help") -> dict[str, str]:
    return slash_command_payload(
        text,
        user_id="U0ALICE",
        channel_id="C0INC",
        response_url="http://127.0.0.1/response/R1",
        trigger_id="1.2.abc",
    )


# -- apps.connections.open --------------------------------------------------------------------


async def test_apps_connections_open_hands_out_a_loopback_link_and_is_recorded(slack: FakeSlack):
    answer = await AsyncWebClient(base_url=slack.api_url).apps_connections_open(app_token=APP_TOKEN)

    url = urlsplit(answer["url"])
    assert (url.scheme, url.netloc, url.path) == ("ws", urlsplit(slack.root_url).netloc, "/link/")
    query = parse_qs(url.query)
    assert query["app_id"] == ["A0TEST"]
    assert query["ticket"][0]
    [call] = slack.calls("apps.connections.open")
    assert (call.token, call.error) == (APP_TOKEN, None)


@pytest.mark.parametrize(
    ("token", "error"),
    [
        (BOT_TOKEN, "not_allowed_token_type"),
        ("xapp-1-A0TEST-1-other", "invalid_auth"),
    ],
)
async def test_apps_connections_open_refuses_any_token_but_the_app_token(
    slack: FakeSlack, token: str, error: str
):
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(base_url=slack.api_url).apps_connections_open(app_token=token)

    assert raised.value.response["error"] == error
    assert [c.error for c in slack.calls("apps.connections.open")] == [error]


async def test_apps_connections_open_wants_the_token_in_the_authorization_header(
    slack: FakeSlack,
):
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(base_url=slack.api_url).api_call(
            "apps.connections.open", data={"token": APP_TOKEN}
        )

    assert raised.value.response["error"] == "not_authed"


async def test_a_refused_app_token_is_scripted_and_can_recover(slack: FakeSlack):
    web = AsyncWebClient(base_url=slack.api_url)
    slack.refuse_app_token("invalid_auth", times=1)

    with pytest.raises(SlackApiError) as raised:
        await web.apps_connections_open(app_token=APP_TOKEN)
    answer = await web.apps_connections_open(app_token=APP_TOKEN)

    assert raised.value.response.data == {"ok": False, "error": "invalid_auth"}
    assert answer["ok"] is True
    assert [c.error for c in slack.calls("apps.connections.open")] == ["invalid_auth", None]


async def test_other_methods_refuse_an_app_level_token(slack: FakeSlack):
    with pytest.raises(SlackApiError) as raised:
        await AsyncWebClient(token=APP_TOKEN, base_url=slack.api_url).auth_test()

    assert raised.value.response["error"] == "not_allowed_token_type"


# -- the link ---------------------------------------------------------------------------------


async def test_the_client_gets_hello_when_it_connects(slack: FakeSlack):
    listener = Listener()

    async with socket_client(slack, listener):
        connection = await slack.async_wait_connected()
        async with asyncio.timeout(5):
            await listener.hello.wait()
        open_now = slack.socket_connections

    [hello] = [m for m in listener.messages if m.get("type") == "hello"]
    assert hello == connection.hello
    assert hello["num_connections"] == 1
    assert hello["connection_info"] == {"app_id": "A0TEST"}
    assert hello["debug_info"]["approximate_connection_time"] > 0
    assert open_now == 1


async def test_an_envelope_reaches_the_client_and_its_ack_comes_back_to_the_test(
    slack: FakeSlack,
):
    listener = Listener(ack_payload={"text": "Usage: /vs-terminate <pipeline> <run>"})
    payload = command_payload()

    async with socket_client(slack, listener):
        ack = await slack.async_send_envelope(SLASH_COMMANDS, payload, envelope_id="E1")

    assert ack == {
        "envelope_id": "E1",
        "payload": {"text": "Usage: /vs-terminate <pipeline> <run>"},
    }
    [request] = listener.requests
    assert (request.type, request.envelope_id, request.accepts_response_payload) == (
        "slash_commands",
        "E1",
        True,
    )
    assert request.payload == payload
    [frame] = slack.socket_frames(lambda f: f.kind == "text")
    assert (frame.envelope_id, frame.connection_id) == ("E1", 1)


def test_envelopes_carry_retry_fields_only_for_events():
    event = envelope(EVENTS_API, {"type": "event_callback"}, envelope_id="E1")
    click = envelope(INTERACTIVE, {"type": "block_actions"}, envelope_id="E2")

    assert event == {
        "envelope_id": "E1",
        "type": "events_api",
        "payload": {"type": "event_callback"},
        "accepts_response_payload": False,
        "retry_attempt": 0,
        "retry_reason": "",
    }
    assert click == {
        "envelope_id": "E2",
        "type": "interactive",
        "payload": {"type": "block_actions"},
        "accepts_response_payload": True,
    }


async def test_bolt_acks_envelopes_built_from_the_payload_builders(slack: FakeSlack):
    app = AsyncApp(
        client=AsyncWebClient(token=BOT_TOKEN, base_url=slack.api_url),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @app.command("/vs-terminate")
    async def command(ack: AsyncAck) -> None:
        await ack("Checking…")

    @app.action("vs_terminate")
    async def click(ack: AsyncAck) -> None:
        await ack()

    @app.view("vs_terminate_confirm")
    async def submit(ack: AsyncAck) -> None:
        await ack(response_action="errors", errors={"reason": "Give a reason"})

    handler = AsyncSocketModeHandler(app, APP_TOKEN)
    await handler.connect_async()
    try:
        command_ack = await slack.async_send_envelope(SLASH_COMMANDS, command_payload())
        click_ack = await slack.async_send_envelope(
            INTERACTIVE,
            block_actions_payload(
                "vs_terminate",
                f"nightly-etl {RUN}",
                user_id="U0ALICE",
                channel_id="C0INC",
                message_ts="1700000000.000100",
                trigger_id="1.2.abc",
                response_url="http://127.0.0.1/response/R1",
            ),
        )
        submit_ack = await slack.async_send_envelope(
            INTERACTIVE,
            view_submission_payload(
                "vs_terminate_confirm", "att-1:nonce-1", {}, user_id="U0ALICE", view_id="V1"
            ),
        )
    finally:
        await handler.close_async()

    assert command_ack["payload"] == {"text": "Checking…"}
    assert "payload" not in click_ack
    assert submit_ack["payload"] == {
        "response_action": "errors",
        "errors": {"reason": "Give a reason"},
    }


async def test_frames_that_are_not_envelopes_get_no_ack(slack: FakeSlack):
    listener = Listener()

    async with socket_client(slack, listener):
        await slack.async_send_raw("not json {")
        await slack.async_send_raw("[1, 2]")
        await slack.async_send_raw(json.dumps(envelope(SLASH_COMMANDS, None, envelope_id="E0")))
        # The client reads frames in order: once this one is acked, the ones before are settled.
        await slack.async_send_envelope(SLASH_COMMANDS, command_payload(), envelope_id="E1")

    assert [f.envelope_id for f in slack.socket_frames(lambda f: f.kind != "ping")] == ["E1"]
    assert [r.envelope_id for r in listener.requests] == ["E1"]


async def test_an_envelope_nobody_acks_times_out_naming_it(slack: FakeSlack):
    async with socket_client(slack, Listener(ack=False)):
        with pytest.raises(
            TimeoutError, match=r"no ack for slash_commands envelope E9 within 0\.2 s"
        ):
            await slack.async_send_envelope(
                SLASH_COMMANDS, command_payload(), envelope_id="E9", timeout=0.2
            )


async def test_sending_with_no_client_connected_times_out_saying_so(slack: FakeSlack):
    with pytest.raises(TimeoutError, match="a Socket Mode client is not connected"):
        await slack.async_send_envelope(SLASH_COMMANDS, command_payload(), timeout=0.1)


async def test_a_ping_is_answered_and_recorded(slack: FakeSlack):
    answer = await AsyncWebClient(base_url=slack.api_url).apps_connections_open(app_token=APP_TOKEN)

    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(answer["url"], autoping=False) as ws,
    ):
        hello = await ws.receive_json(timeout=5)
        await ws.ping(b"are-you-there")
        pong = await ws.receive(timeout=5)

    assert hello["type"] == "hello"
    assert (pong.type, pong.data) == (aiohttp.WSMsgType.PONG, b"are-you-there")
    [ping] = slack.socket_frames(lambda f: f.kind == "ping")
    assert ping.text == "are-you-there"


async def test_a_link_without_a_ticket_from_apps_connections_open_is_refused(slack: FakeSlack):
    url = slack.root_url.replace("http://", "ws://") + "/link/?ticket=forged&app_id=A0TEST"

    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.WSServerHandshakeError) as raised:
            await session.ws_connect(url)

    assert raised.value.status == 401
    assert slack.opened_sockets() == []


# -- how connections end ----------------------------------------------------------------------


async def test_closing_the_client_is_recorded_as_a_clean_close(slack: FakeSlack):
    async with socket_client(slack, Listener()):
        await adopted(slack)

    end = await slack.async_wait_socket_closed()

    assert (end.connection_id, end.how, end.clean, end.code) == (
        1,
        SocketEnd.CLIENT_CLOSE,
        True,
        1000,
    )
    assert slack.socket_connections == 0


async def test_a_connection_that_just_goes_away_is_recorded_as_dropped(slack: FakeSlack):
    async with socket_client(slack, Listener(), auto_reconnect=False) as client:
        await adopted(slack)
        # Closing the HTTP session tears the TCP connection down without a CLOSE frame, as
        # when the process is killed.
        await client.aiohttp_client_session.close()

        end = await slack.async_wait_socket_closed()

    assert (end.how, end.clean, end.code) == (SocketEnd.DROPPED, False, None)


async def test_a_disconnect_makes_the_client_move_to_a_new_connection(slack: FakeSlack):
    listener = Listener()

    async with socket_client(slack, listener):
        await adopted(slack)
        await slack.async_send_disconnect("refresh_requested")
        second = await adopted(slack, count=2)
        first_end = await slack.async_wait_socket_closed(connection=1)
        ack = await slack.async_send_envelope(SLASH_COMMANDS, command_payload(), envelope_id="E2")

    # slack_sdk acts on disconnect messages itself and never shows them to message listeners.
    assert [m["type"] for m in listener.messages] == ["hello", "hello", "slash_commands"]
    assert (first_end.how, first_end.code) == (SocketEnd.CLIENT_CLOSE, 1000)
    assert second.id == 2
    assert ack["envelope_id"] == "E2"
    [ack_frame] = slack.socket_frames(lambda f: f.envelope_id == "E2")
    assert ack_frame.connection_id == 2
    assert len(slack.calls("apps.connections.open")) == 2


async def test_a_close_from_slack_makes_the_client_reconnect(slack: FakeSlack):
    async with socket_client(slack, Listener()):
        await adopted(slack)
        await slack.async_close_socket()
        await adopted(slack, count=2)
        end = await slack.async_wait_socket_closed(connection=1)

    assert (end.how, end.clean, end.code) == (SocketEnd.SERVER_CLOSE, False, 1001)


async def test_stopping_the_fake_closes_open_links_with_going_away():
    async with FakeSlack(app_token=APP_TOKEN).serve() as slack:
        answer = await AsyncWebClient(base_url=slack.api_url).apps_connections_open(
            app_token=APP_TOKEN
        )
        session = aiohttp.ClientSession()
        ws = await session.ws_connect(answer["url"])
        await ws.receive_json(timeout=5)
    try:
        closing = await ws.receive(timeout=5)
    finally:
        await ws.close()
        await session.close()

    assert (closing.type, closing.data) == (aiohttp.WSMsgType.CLOSE, 1001)
    [end] = slack.socket_closes()
    assert (end.how, end.code) == (SocketEnd.SERVER_CLOSE, 1001)


async def test_the_blocking_twins_work_while_the_fake_runs_in_its_thread():
    with FakeSlack(app_token=APP_TOKEN) as slack:
        async with socket_client(slack, Listener(ack_payload={"text": "ok"})):
            await asyncio.to_thread(slack.wait_connected)
            ack = await asyncio.to_thread(
                slack.send_envelope, SLASH_COMMANDS, command_payload(), envelope_id="E1"
            )
            with pytest.raises(RuntimeError, match="await async_send_envelope"):
                slack.send_envelope(SLASH_COMMANDS, command_payload())
        end = await asyncio.to_thread(slack.wait_socket_closed)

    assert ack == {"envelope_id": "E1", "payload": {"text": "ok"}}
    assert end.clean


# -- payload builders -------------------------------------------------------------------------


def test_a_slash_command_payload_is_the_form_the_http_body_encodes():
    arguments: dict[str, Any] = {
        "user_id": "U0ALICE",
        "channel_id": "C0INC",
        "response_url": "http://127.0.0.1/response/R1",
        "trigger_id": "1.2.abc",
    }

    payload = slash_command_payload("nightly-etl <run>", **arguments)
    body = slash_command_body("nightly-etl <run>", **arguments)

    assert {k: v[0] for k, v in parse_qs(body).items()} == payload
    assert payload["text"] == "nightly-etl &lt;run&gt;"


def test_an_interaction_payload_is_what_the_http_body_carries():
    arguments: dict[str, Any] = {
        "user_id": "U0ALICE",
        "channel_id": "C0INC",
        "message_ts": "1700000000.000100",
        "trigger_id": "1.2.abc",
        "response_url": "http://127.0.0.1/response/R1",
    }

    payload = block_actions_payload("vs_terminate", f"nightly-etl {RUN}", **arguments)
    carried = parse_body(
        block_actions_body("vs_terminate", f"nightly-etl {RUN}", **arguments),
        "application/x-www-form-urlencoded",
    )

    # Only the click's own timestamp differs between two builds.
    for built in (payload, carried):
        built["actions"][0].pop("action_ts")
    assert carried == payload
