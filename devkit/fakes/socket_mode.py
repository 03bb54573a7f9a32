"""The stub Slack's Socket Mode side: the WebSocket link, envelopes and acks, how links end.

Slack's protocol, as docs.slack.dev ("Using Socket Mode", `apps.connections.open`) describes it
and slack_sdk's `socket_mode.aiohttp.SocketModeClient` speaks it:

1. The app calls `apps.connections.open` with its app-level token (`xapp-…`) in the
   Authorization header and gets a short-lived URL, `wss://…/link/?ticket=…&app_id=…`.
2. It opens a WebSocket there, and Slack sends `hello` with `num_connections`, `debug_info`
   and `connection_info.app_id`.
3. Slack sends envelopes, `{"envelope_id", "type", "payload", "accepts_response_payload"}`
   (`events_api` ones add `retry_attempt` and `retry_reason`); `type` is `slash_commands`,
   `interactive` or `events_api` and `payload` is exactly what Slack would POST over HTTP, as
   JSON. The app acks each on the same socket with `{"envelope_id", "payload"?}`, the payload
   being what its HTTP response body would have been (a command's reply, a `response_action`).
4. Slack asks the app to move with `{"type": "disconnect", "reason": …}` (`warning` about ten
   seconds ahead, `refresh_requested`, `link_disabled`); either side may ping.

`SocketModeFake` plays Slack's side. `FakeSlack` is one, so `apps.connections.open` is one of
its recorded Web API methods and the WebSocket is served by the same aiohttp application on the
same 127.0.0.1 port, at `/link/`. A test sends envelopes and waits for their acks
(`async_send_envelope`), sends anything else (`async_send_raw`, for malformed frames), asks the
client to reconnect (`async_send_disconnect`) and reads how each connection ended
(`async_wait_socket_closed`): a CLOSE frame from the client is a clean close, a connection that
just went away is a drop. Every `async_*` method has a blocking twin without the prefix for sync
tests, which must run the fake in its background thread (`with FakeSlack() as slack:`).

Everything the client sends is a `SocketFrame` in arrival order (acks, anything else it writes,
its pings), so a test can tell which frames were acked: frames are read in order, so once an
envelope sent after a bad frame is acked, the bad frame's (missing) ack is settled too.
"""

from __future__ import annotations

import asyncio
import functools
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Concatenate, Final, ParamSpec, TypeVar

from aiohttp import WSCloseCode, WSMsgType, web

from devkit.fakes.runner import FakeApp, Journal

__all__ = [
    "APPS_CONNECTIONS_OPEN",
    "DISCONNECT_REASONS",
    "EVENTS_API",
    "INTERACTIVE",
    "LINK_PATH",
    "SLASH_COMMANDS",
    "SocketClose",
    "SocketConnection",
    "SocketEnd",
    "SocketFrame",
    "SocketModeFake",
    "envelope",
]

APPS_CONNECTIONS_OPEN: Final = "apps.connections.open"
LINK_PATH: Final = "/link/"

SLASH_COMMANDS: Final = "slash_commands"
INTERACTIVE: Final = "interactive"
EVENTS_API: Final = "events_api"
"""The envelope types Slack sends; an envelope's `type`."""

DISCONNECT_REASONS: Final = ("warning", "refresh_requested", "link_disabled")
"""The `reason`s of Slack's `disconnect` messages."""

APP_TOKEN_PREFIX: Final = "xapp-"  # noqa: S105 - the kind of token, not a secret
APPROXIMATE_CONNECTION_TIME_S: Final = 3600
"""What `hello` says about when Slack will refresh the link (Slack's own value is hours)."""

_HOST: Final = "applink-fake-127-0-0-1"

S = TypeVar("S", bound="SocketModeFake")
P = ParamSpec("P")
T = TypeVar("T")


class SocketEnd(StrEnum):
    """How a Socket Mode connection ended."""

    CLIENT_CLOSE = "client_close"
    """The client sent a WebSocket CLOSE frame: a clean close."""
    SERVER_CLOSE = "server_close"
    """The stub closed it (`async_close_socket`, or the fake shutting down)."""
    DROPPED = "dropped"
    """The TCP connection went away without a CLOSE frame (a killed process, a reset)."""


@dataclass(frozen=True, slots=True)
class SocketConnection:
    """A WebSocket connection a client opened, recorded once `hello` went out.

    Attributes:
        id: 1, 2, … in the order connections were opened.
        ticket: The `apps.connections.open` ticket it connected with.
        hello: The `hello` message it was sent.
        at: `time.monotonic()` when `hello` went out.
    """

    id: int
    ticket: str
    hello: dict[str, Any]
    at: float


@dataclass(frozen=True, slots=True)
class SocketFrame:
    """A frame the client sent: an ack, anything else it wrote, or a ping.

    Attributes:
        connection_id: The connection it came over.
        kind: `text`, `binary` or `ping`.
        text: Its content (binary frames and ping data decoded as UTF-8 with replacement).
        data: A text frame's JSON value; None when it is not JSON (or is `null`).
        at: `time.monotonic()` when it arrived.
    """

    connection_id: int
    kind: str
    text: str
    data: Any
    at: float

    @property
    def envelope_id(self) -> str | None:
        """The `envelope_id` of a JSON object frame (an ack), else None."""
        if isinstance(self.data, dict) and isinstance(self.data.get("envelope_id"), str):
            return str(self.data["envelope_id"])
        return None


@dataclass(frozen=True, slots=True)
class SocketClose:
    """How one connection ended.

    Attributes:
        connection_id: The connection.
        how: Client close, server close or drop.
        code: The close code: the one in the client's CLOSE frame, or the one the stub sent;
            None for a drop.
        reason: The close frame's reason text, if any.
        at: `time.monotonic()` when it ended.
    """

    connection_id: int
    how: SocketEnd
    code: int | None
    reason: str
    at: float

    @property
    def clean(self) -> bool:
        """True when the client closed it with a CLOSE frame."""
        return self.how is SocketEnd.CLIENT_CLOSE


@dataclass(slots=True)
class _Link:
    connection: SocketConnection
    ws: web.WebSocketResponse
    loop: asyncio.AbstractEventLoop
    server_close_code: int | None = None


def envelope(
    kind: str,
    payload: Any,
    *,
    envelope_id: str | None = None,
    accepts_response_payload: bool | None = None,
    retry_attempt: int | None = None,
    retry_reason: str | None = None,
) -> dict[str, Any]:
    """Builds a Socket Mode envelope as Slack sends it.

    Args:
        kind: The envelope `type`: `slash_commands`, `interactive` or `events_api` (anything
            else is sent as given).
        payload: What Slack would POST over HTTP, as data (see `devkit.payloads`); any value,
            so malformed envelopes can be built too.
        envelope_id: The id; a fresh UUID when None.
        accepts_response_payload: Whether the ack may carry a payload; by default true except
            for `events_api` (Slack sends false for events and for global shortcuts).
        retry_attempt: Slack sends it, with `retry_reason`, on `events_api` envelopes only;
            0 there by default, left out elsewhere unless given.
        retry_reason: Why Slack retries (`timeout`, …); empty on a first attempt.

    Returns:
        The envelope.
    """
    built: dict[str, Any] = {
        "envelope_id": envelope_id or str(uuid.uuid4()),
        "type": kind,
        "payload": payload,
        "accepts_response_payload": (
            kind != EVENTS_API if accepts_response_payload is None else accepts_response_payload
        ),
    }
    if kind == EVENTS_API or retry_attempt is not None or retry_reason is not None:
        built["retry_attempt"] = retry_attempt or 0
        built["retry_reason"] = retry_reason or ""
    return built


def _blocking(
    method: Callable[Concatenate[S, P], Coroutine[Any, Any, T]],
) -> Callable[Concatenate[S, P], T]:
    """The blocking twin of an `async_*` method, for sync tests.

    It runs the coroutine in a private event loop on the calling thread; sends reach the
    connection's own loop thread-safely and waits use the thread-safe journals, so it works
    while the fake runs in its `FakeServer` thread.
    """

    @functools.wraps(method)
    def run(self: S, /, *args: P.args, **kwargs: P.kwargs) -> T:
        try:
            asyncio.get_running_loop()
        except RuntimeError:
            return asyncio.run(method(self, *args, **kwargs))
        raise RuntimeError(f"this blocks the running loop; await {method.__name__}() instead")

    run.__name__ = method.__name__.removeprefix("async_")
    run.__qualname__ = method.__qualname__.replace(method.__name__, run.__name__)
    return run


class SocketModeFake(FakeApp):
    """Slack's side of Socket Mode: hands out link URLs, serves the links, sends envelopes.

    `FakeSlack` builds on it; see the module docstring for the protocol.

    Args:
        app_id: The app id the link URLs and `hello` carry.
        app_token: When set, `apps.connections.open` with another `xapp-` token gets
            `invalid_auth`; otherwise any app-level token is accepted.
    """

    def __init__(self, *, app_id: str, app_token: str | None = None) -> None:
        super().__init__()
        self.app_id = app_id
        self._app_token = app_token
        self._socket_lock = threading.Lock()
        self._tickets: set[str] = set()
        self._links: dict[int, _Link] = {}
        self._link_ids = itertools.count(1)
        self._opened: Journal[SocketConnection] = Journal()
        self._frames: Journal[SocketFrame] = Journal()
        self._closes: Journal[SocketClose] = Journal()

    # -- queries -------------------------------------------------------------------------------

    @property
    def socket_connections(self) -> int:
        """How many Socket Mode connections are open now."""
        with self._socket_lock:
            return len(self._links)

    def opened_sockets(self) -> list[SocketConnection]:
        """Returns every connection opened so far, in order."""
        return self._opened.snapshot()

    def socket_frames(
        self, predicate: Callable[[SocketFrame], bool] | None = None
    ) -> list[SocketFrame]:
        """Returns what clients sent, in arrival order, optionally only the matching frames."""
        return self._frames.snapshot(predicate)

    def socket_closes(self) -> list[SocketClose]:
        """Returns how each connection that ended so far ended, in order."""
        return self._closes.snapshot()

    # -- waiting -------------------------------------------------------------------------------

    async def async_wait_connected(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109 - waits on the server's records, not on one call
        *,
        count: int = 1,
    ) -> SocketConnection:
        """Waits until `count` connections were opened (earlier ones count) and got `hello`.

        `hello` goes out during the handshake, before slack_sdk's client has stored the new
        connection as its session; the client pings right after storing it. Before closing
        the client (or asserting how it closes), wait for that ping with
        `async_wait_for_frame(lambda f: f.kind == "ping" and f.connection_id == …)`, or its
        close may miss the connection it was still adopting.

        Args:
            timeout: Seconds to wait at most.
            count: Which connection to wait for: 1 the first, 2 the one after a reconnect, …

        Returns:
            The `count`-th connection.

        Raises:
            TimeoutError: Fewer connections were opened in time.
        """
        try:
            return await self._opened.async_wait(lambda _: True, timeout=timeout, count=count)
        except TimeoutError:
            calls = len(self.opened_sockets())
            raise TimeoutError(
                f"fake Slack: no Socket Mode connection #{count} within {timeout} s "
                f"({calls} opened so far)"
            ) from None

    async def async_wait_for_frame(
        self,
        predicate: Callable[[SocketFrame], bool],
        timeout: float = 10.0,  # noqa: ASYNC109 - waits on the server's records, not on one call
        *,
        count: int = 1,
    ) -> SocketFrame:
        """Waits until `count` frames from clients match (earlier ones count).

        Args:
            predicate: Which frames count.
            timeout: Seconds to wait at most.
            count: Wait for this many and return the last of them.

        Returns:
            The `count`-th matching frame.

        Raises:
            TimeoutError: Fewer matching frames arrived in time.
        """
        try:
            return await self._frames.async_wait(predicate, timeout=timeout, count=count)
        except TimeoutError:
            raise TimeoutError(
                f"fake Slack: fewer than {count} matching Socket Mode frame(s) within {timeout} s; "
                f"frames so far: {self._frame_summary()}"
            ) from None

    async def async_wait_for_ack(
        self,
        envelope_id: str,
        timeout: float = 10.0,  # noqa: ASYNC109 - waits on the server's records, not on one call
    ) -> SocketFrame:
        """Waits for the client's ack of an envelope (an ack that already came counts).

        Args:
            envelope_id: The envelope's id.
            timeout: Seconds to wait at most.

        Returns:
            The ack frame: `data` is the ack, `at` when it came.

        Raises:
            TimeoutError: No ack in time.
        """
        try:
            return await self._frames.async_wait(
                lambda frame: frame.envelope_id == envelope_id, timeout=timeout
            )
        except TimeoutError:
            raise TimeoutError(self._no_ack(envelope_id, timeout)) from None

    async def async_wait_socket_closed(
        self,
        timeout: float = 10.0,  # noqa: ASYNC109 - waits on the server's records, not on one call
        *,
        connection: int | None = None,
        count: int = 1,
    ) -> SocketClose:
        """Waits until a connection ended (one that already ended counts).

        Args:
            timeout: Seconds to wait at most.
            connection: The connection id; any connection when None.
            count: Without `connection`, wait for this many ends and return the last.

        Returns:
            How it ended.

        Raises:
            TimeoutError: It did not end in time.
        """
        try:
            return await self._closes.async_wait(
                lambda end: connection is None or end.connection_id == connection,
                timeout=timeout,
                count=count,
            )
        except TimeoutError:
            which = (
                "any Socket Mode connection" if connection is None else f"connection {connection}"
            )
            raise TimeoutError(
                f"fake Slack: {which} did not end within {timeout} s "
                f"({self.socket_connections} open, ends so far: {self.socket_closes()})"
            ) from None

    # -- sending -------------------------------------------------------------------------------

    async def async_send_envelope(
        self,
        kind: str,
        payload: Any,
        *,
        envelope_id: str | None = None,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        connection: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - one budget for connecting, sending and the ack
    ) -> dict[str, Any]:
        """Sends an envelope to a connected client and waits for its ack.

        Args:
            kind: `slash_commands`, `interactive` or `events_api`.
            payload: The payload, e.g. from `devkit.payloads.slash_command_payload`.
            envelope_id: The id; a fresh UUID when None.
            accepts_response_payload: As in `envelope()`.
            retry_attempt: As in `envelope()`.
            retry_reason: As in `envelope()`.
            connection: The connection to use; the newest open one when None (Slack may use
                any, so a bot must not care).
            timeout: Seconds for all of it: waiting for a connection, sending, the ack.

        Returns:
            The ack, `{"envelope_id": …}` plus `payload` when the client sent one.

        Raises:
            TimeoutError: No client connected, or no ack came, in time.
        """
        deadline = time.monotonic() + timeout
        sent = envelope(
            kind,
            payload,
            envelope_id=envelope_id,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )
        await self.async_send_raw(json.dumps(sent), connection=connection, timeout=timeout)
        try:
            ack = await self._frames.async_wait(
                lambda frame: frame.envelope_id == sent["envelope_id"],
                timeout=max(deadline - time.monotonic(), 0.0),
            )
        except TimeoutError:
            raise TimeoutError(self._no_ack(sent["envelope_id"], timeout, kind)) from None
        data: dict[str, Any] = ack.data
        return data

    async def async_send_raw(
        self,
        text: str,
        *,
        connection: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - bounds the wait for a connection
    ) -> SocketConnection:
        """Sends a text frame as it is: garbage, a JSON array, a hand-made envelope, ….

        Args:
            text: The frame's text.
            connection: The connection to use; the newest open one when None.
            timeout: Seconds to wait for an open connection.

        Returns:
            The connection it went to.

        Raises:
            TimeoutError: No open connection in time.
            LookupError: `connection` has already ended.
        """
        link = await self._link(connection, timeout)
        await _on_loop(link.loop, lambda: link.ws.send_str(text))
        return link.connection

    async def async_send_disconnect(
        self,
        reason: str = "refresh_requested",
        *,
        connection: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - bounds the wait for a connection
    ) -> SocketConnection:
        """Sends Slack's `disconnect` message; the connection stays open until a side closes it.

        slack_sdk answers any reason by fetching a new URL, closing this connection (a clean
        close) and opening a new one; wait for that with `async_wait_connected(count=…)`.

        Args:
            reason: `warning`, `refresh_requested` or `link_disabled` (others are sent as given).
            connection: The connection to use; the newest open one when None.
            timeout: Seconds to wait for an open connection.

        Returns:
            The connection it went to.

        Raises:
            TimeoutError: No open connection in time.
        """
        message = {"type": "disconnect", "reason": reason, "debug_info": {"host": _HOST}}
        return await self.async_send_raw(
            json.dumps(message), connection=connection, timeout=timeout
        )

    async def async_close_socket(
        self,
        code: int = WSCloseCode.GOING_AWAY,
        *,
        connection: int | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - bounds the wait for a connection
    ) -> SocketConnection:
        """Closes a connection from Slack's side, as Slack does some time after a `disconnect`.

        Args:
            code: The WebSocket close code.
            connection: The connection to close; the newest open one when None.
            timeout: Seconds to wait for an open connection.

        Returns:
            The connection closed.

        Raises:
            TimeoutError: No open connection in time.
        """
        link = await self._link(connection, timeout)
        link.server_close_code = code
        await _on_loop(link.loop, lambda: link.ws.close(code=code))
        return link.connection

    wait_connected = _blocking(async_wait_connected)
    wait_for_frame = _blocking(async_wait_for_frame)
    wait_for_ack = _blocking(async_wait_for_ack)
    wait_socket_closed = _blocking(async_wait_socket_closed)
    send_envelope = _blocking(async_send_envelope)
    send_raw = _blocking(async_send_raw)
    send_disconnect = _blocking(async_send_disconnect)
    close_socket = _blocking(async_close_socket)

    # -- serving -------------------------------------------------------------------------------

    def _serve_socket_mode(self, app: web.Application) -> None:
        """Adds the link endpoint to the fake's application and closes links on shutdown."""
        app.router.add_get(LINK_PATH, self._handle_link)
        app.on_shutdown.append(self._close_links)

    def _app_token_error(self, token: str | None, *, in_header: bool) -> str | None:
        """The error `apps.connections.open` answers this token with, or None if it may connect.

        Slack wants an app-level token, and only in the Authorization header: its docs say a
        POST parameter is an error (without naming it; `not_authed` here).
        """
        if not token:
            return "not_authed"
        if not token.startswith(APP_TOKEN_PREFIX):
            return "not_allowed_token_type"
        if not in_header:
            return "not_authed"
        if self._app_token is not None and token != self._app_token:
            return "invalid_auth"
        return None

    def _apps_connections_open(self, _args: dict[str, Any]) -> dict[str, Any]:
        ticket = str(uuid.uuid4())
        with self._socket_lock:
            self._tickets.add(ticket)
        root = self.root_url.replace("http://", "ws://", 1)
        return {"ok": True, "url": f"{root}{LINK_PATH}?ticket={ticket}&app_id={self.app_id}"}

    async def _handle_link(self, request: web.Request) -> web.StreamResponse:
        ticket = request.query.get("ticket", "")
        with self._socket_lock:
            known = ticket in self._tickets
        if not known:
            # Only URLs from apps.connections.open lead anywhere, as in Slack.
            return web.Response(status=401, text="invalid ticket")
        # Pings are answered by hand, so that they are recorded like any other frame.
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        with self._socket_lock:
            connection_id = next(self._link_ids)
            num_connections = len(self._links) + 1
        hello = self._hello(num_connections)
        await ws.send_str(json.dumps(hello))
        link = _Link(
            SocketConnection(connection_id, ticket, hello, time.monotonic()),
            ws,
            asyncio.get_running_loop(),
        )
        # Registered only once hello is out, so no envelope can overtake it.
        with self._socket_lock:
            self._links[connection_id] = link
        self._opened.append(link.connection)
        how, code, reason = SocketEnd.DROPPED, None, ""
        try:
            while True:
                message = await ws.receive()
                if message.type is WSMsgType.TEXT:
                    self._record(connection_id, "text", str(message.data))
                elif message.type is WSMsgType.BINARY:
                    self._record(connection_id, "binary", _decode(message.data))
                elif message.type is WSMsgType.PING:
                    self._record(connection_id, "ping", _decode(message.data))
                    await ws.pong(message.data)
                elif message.type is WSMsgType.CLOSE:
                    # aiohttp has already answered with its own CLOSE frame (autoclose).
                    how, code = SocketEnd.CLIENT_CLOSE, int(message.data)
                    reason = message.extra or ""
                    break
                elif message.type is not WSMsgType.PONG:
                    break  # CLOSING: the stub closed it; CLOSED or ERROR: the connection went
        finally:
            with self._socket_lock:
                self._links.pop(connection_id, None)
            if how is SocketEnd.DROPPED and link.server_close_code is not None:
                how, code = SocketEnd.SERVER_CLOSE, link.server_close_code
            self._closes.append(SocketClose(connection_id, how, code, reason, time.monotonic()))
        return ws

    async def _close_links(self, _app: web.Application) -> None:
        """Closes open links when the fake stops, so shutdown does not wait for clients."""
        with self._socket_lock:
            links = list(self._links.values())
        for link in links:
            link.server_close_code = WSCloseCode.GOING_AWAY
            await link.ws.close(code=WSCloseCode.GOING_AWAY, message=b"server shutdown")

    def _hello(self, num_connections: int) -> dict[str, Any]:
        started = datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
        return {
            "type": "hello",
            "num_connections": num_connections,
            "debug_info": {
                "host": _HOST,
                "started": started,
                "build_number": 1,
                "approximate_connection_time": APPROXIMATE_CONNECTION_TIME_S,
            },
            "connection_info": {"app_id": self.app_id},
        }

    def _record(self, connection_id: int, kind: str, text: str) -> None:
        data: Any = None
        if kind == "text":
            try:
                data = json.loads(text)
            except ValueError:
                data = None
        self._frames.append(SocketFrame(connection_id, kind, text, data, time.monotonic()))

    async def _link(self, connection: int | None, timeout: float) -> _Link:  # noqa: ASYNC109
        """The open link to send on, waiting up to `timeout` for one to open."""

        def pick() -> _Link | None:
            with self._socket_lock:
                if connection is not None:
                    return self._links.get(connection)
                return self._links[max(self._links)] if self._links else None

        found = pick()
        if found is not None:
            return found
        if connection is not None and any(
            end.connection_id == connection for end in self.socket_closes()
        ):
            raise LookupError(f"fake Slack: Socket Mode connection {connection} has ended")
        try:
            # Any recorded connection re-evaluates `pick`, which reads the live set of links.
            await self._opened.async_wait(lambda _: pick() is not None, timeout=timeout)
        except TimeoutError:
            which = "a Socket Mode client" if connection is None else f"connection {connection}"
            raise TimeoutError(
                f"fake Slack: {which} is not connected (waited {timeout} s; "
                f"{len(self.opened_sockets())} connection(s) opened so far)"
            ) from None
        found = pick()
        if found is None:  # it closed again between the wake-up and now
            raise TimeoutError("fake Slack: the Socket Mode connection closed before sending")
        return found

    def _no_ack(self, envelope_id: str, timeout: float, kind: str | None = None) -> str:
        what = f"{kind} envelope" if kind else "envelope"
        return (
            f"fake Slack: no ack for {what} {envelope_id} within {timeout} s; "
            f"frames so far: {self._frame_summary()}; "
            f"open Socket Mode connections: {self.socket_connections}"
        )

    def _frame_summary(self) -> str:
        frames = [f for f in self.socket_frames() if f.kind != "ping"]
        shown = ", ".join(repr(f.text[:80]) for f in frames[-5:])
        return f"{len(frames)} ({shown or 'none'})"


async def _on_loop(
    loop: asyncio.AbstractEventLoop, make: Callable[[], Coroutine[Any, Any, T]]
) -> T:
    """Runs a coroutine on `loop` (a connection's), from that loop or any other thread's."""
    if asyncio.get_running_loop() is loop:
        return await make()
    return await asyncio.wrap_future(asyncio.run_coroutine_threadsafe(make(), loop))


def _decode(data: object) -> str:
    if isinstance(data, bytes | bytearray):
        return bytes(data).decode("utf-8", errors="replace")
    return "" if data is None else str(data)
