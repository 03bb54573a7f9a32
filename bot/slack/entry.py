"""Where Slack traffic enters: the HTTP adapter, the Socket Mode handler and the one guard for both.

Bolt parses a body before it checks anything else, and some malformed bodies or payloads make
its parsing, argument injection or even its own error handler raise. `dispatch_guarded` is the
single place that turns those into a 400 (HTTP) or a bare ack (Socket Mode) instead of a 500 or
an envelope Slack redelivers for ever; both entry points go through it.

HTTP requests must carry a signature that can at least be read: a timestamp that is not a plain
integer (`""`, `abc`, `1.5`, `1e10`) or a missing signature is a bad signature, answered 401
before Bolt sees the request (Bolt itself would raise on `int(timestamp)` and answer through the
error handler). Bolt then verifies the signature itself; verification is never turned off.

Socket Mode envelopes arrive over the WebSocket (slack_sdk's aiohttp `SocketModeClient`). The
handler listens to raw messages rather than slack_sdk's parsed requests, because an envelope
whose payload is not an object never reaches a request listener and so is never acked; here
every envelope with an id is acked, the malformed ones with no payload.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from typing import Any, Final

from slack_bolt.adapter.asgi.async_handler import AsyncSlackRequestHandler
from slack_bolt.adapter.asgi.http_request import AsgiHttpRequest
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.socket_mode.aiohttp import SocketModeClient
from slack_sdk.socket_mode.async_client import AsyncBaseSocketModeClient
from slack_sdk.socket_mode.response import SocketModeResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.asgi import read_body

logger = logging.getLogger(__name__)

MAX_SLACK_BODY: Final = 1_000_000
"""Slack's largest payloads (view submissions of big modals) stay far below this."""
MALFORMED: Final = (
    ValueError,
    UnicodeDecodeError,
    TypeError,
    KeyError,
    IndexError,
    AttributeError,
    RecursionError,
)
"""What Bolt raises for bodies and payloads it cannot make sense of (RecursionError: JSON nested
deeper than the parser's limit, far deeper than any Slack payload)."""
_TIMESTAMP: Final = re.compile(r"[0-9]{1,12}")
_UNAUTHORIZED: Final = BoltResponse(status=401, body=json.dumps({"error": "invalid request"}))


def _bad_request() -> BoltResponse:
    return BoltResponse(status=400, body="malformed request")


async def dispatch_guarded(app: AsyncApp, build: Callable[[], AsyncBoltRequest]) -> BoltResponse:
    """Hand one request to Bolt; a body or payload Bolt cannot handle is answered 400.

    Args:
        app: the Bolt app.
        build: makes the `AsyncBoltRequest` (Bolt parses the body while building it).

    Returns:
        Bolt's response, or a 400 for a malformed request.
    """
    try:
        request = build()
    except MALFORMED as exc:
        logger.info("malformed Slack request refused: %s", type(exc).__name__)
        return _bad_request()
    try:
        return await app.async_dispatch(request)
    except MALFORMED as exc:
        # A signed payload of the wrong shape (e.g. `"actions": null`) makes Bolt's own
        # argument injection raise, even inside its middleware error handler.
        logger.info("Slack payload of the wrong shape refused: %s", type(exc).__name__)
        return _bad_request()


def readable_signature(headers: dict[str, list[str]] | dict[str, Any]) -> bool:
    """Whether the signature headers can even be checked: an integer timestamp and a signature."""
    timestamp = _first(headers.get("x-slack-request-timestamp"))
    signature = _first(headers.get("x-slack-signature"))
    return bool(timestamp and _TIMESTAMP.fullmatch(timestamp) and signature)


def _first(value: object) -> str | None:
    if isinstance(value, list | tuple):
        value = value[0] if value else None
    return value if isinstance(value, str) else None


class GuardedSlackHandler(AsyncSlackRequestHandler):
    """Bolt's ASGI adapter behind the guard: unreadable signatures 401, malformed bodies 400."""

    async def dispatch(self, request: AsgiHttpRequest) -> BoltResponse:
        """Hand a request to Bolt, or refuse it before Bolt could trip over it."""
        headers = request.get_headers()
        if not readable_signature(headers):
            logger.info("Slack request with an unreadable signature refused")
            return _UNAUTHORIZED
        try:
            raw = await read_body(request.receive, MAX_SLACK_BODY)
            body = raw.decode("utf-8")
        except MALFORMED as exc:
            logger.info("malformed Slack request refused: %s", type(exc).__name__)
            return _bad_request()
        return await dispatch_guarded(
            self.app,
            lambda: AsyncBoltRequest(body=body, query=request.query_string, headers=headers),
        )


class GuardedSocketModeHandler:
    """Socket Mode for the Bolt app: every envelope through `dispatch_guarded`, every one acked.

    Args:
        app: the Bolt app.
        app_token: the app-level token (`xapp-…`).
        web_client: the Web API client `apps.connections.open` is called with.
        ping_interval_s: how often the client pings the server.
    """

    def __init__(
        self,
        app: AsyncApp,
        *,
        app_token: str,
        web_client: AsyncWebClient,
        ping_interval_s: float = 10,
    ) -> None:
        self.app = app
        self.client = SocketModeClient(
            app_token=app_token,
            logger=logging.getLogger("slack_sdk.socket_mode"),
            web_client=web_client,
            ping_interval=ping_interval_s,
        )
        self.client.message_listeners.append(self._on_message)

    async def connect(self) -> None:
        """Open the WebSocket (slack_sdk reconnects by itself after that)."""
        await self.client.connect()  # type: ignore[no-untyped-call]

    async def close(self) -> None:
        """Close the WebSocket with a close frame and release the client's session."""
        await self.client.close()  # type: ignore[no-untyped-call]

    async def _on_message(
        self, client: AsyncBaseSocketModeClient, message: dict[Any, Any], _raw: str | None
    ) -> None:
        envelope_id = message.get("envelope_id") if isinstance(message, dict) else None
        if not isinstance(envelope_id, str) or not envelope_id:
            return  # hello, disconnect, pings: nothing to acknowledge
        payload = message.get("payload")
        if isinstance(payload, dict):
            response = await dispatch_guarded(
                self.app,
                lambda: AsyncBoltRequest(mode="socket_mode", body=payload, headers=None),
            )
        else:
            logger.info("Socket Mode envelope without an object payload refused")
            response = _bad_request()
        await client.send_socket_mode_response(_ack(envelope_id, response))


def _ack(envelope_id: str, response: BoltResponse) -> SocketModeResponse:
    """The envelope's ack: Bolt's answer as the payload, or a bare ack when there is none."""
    body = response.body
    if response.status != 200 or not body:
        return SocketModeResponse(envelope_id=envelope_id)
    content_type = (response.headers.get("content-type") or [""])[0]
    if content_type.startswith("application/json"):
        return SocketModeResponse(envelope_id=envelope_id, payload=json.loads(body))
    return SocketModeResponse(envelope_id=envelope_id, payload={"text": body})
