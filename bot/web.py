"""The HTTP surface: a small ASGI router in front of Bolt (SPEC §3, §4.4, §4.7, §7).

Routes: `POST /slack/events` → Bolt (HTTP mode only: signature checked by Bolt, never
disabled; in Socket Mode the route does not exist, 404), `GET /healthz`, `GET /metrics`, and
the alert endpoints of `bot.alerts` (`POST /api/alerts`, `/api/alerts/alertmanager`,
`/api/alerts/grafana`). Bolt's ASGI adapter serves only its own path, so this router sits in
front of it; a plain ASGI callable was chosen over Starlette because a few fixed routes need no
framework and Starlette's adapter costs 12–15 % more CPU per request (STYLE, measured on 2
cores). The Slack route goes through `bot.slack.entry`'s guard: unreadable signatures 401,
malformed bodies 400, never a 500. This module only routes.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence

from slack_bolt.async_app import AsyncApp

from bot import logs
from bot.alerts.endpoint import AlertsEndpoint
from bot.asgi import Handler, Receive, Scope, Send, respond, respond_json
from bot.metrics import Metrics
from bot.slack import ids
from bot.slack.entry import GuardedSlackHandler

logger = logging.getLogger(__name__)


class Router:
    """The ASGI application uvicorn serves.

    Args:
        slack: the Bolt app, or None in Socket Mode: there nothing signs HTTP requests, so
            `/slack/events` is not served at all (404) rather than served unverified.
        health: returns True when the database answers.
        metrics: the Prometheus registry to render.
        alerts: the alert endpoints, none when `VS_ALERTS_TOKEN` is unset.
    """

    def __init__(
        self,
        *,
        slack: AsyncApp | None,
        health: Callable[[], Awaitable[bool]],
        metrics: Metrics,
        alerts: Sequence[AlertsEndpoint] = (),
    ) -> None:
        self._health = health
        self._metrics = metrics
        self._routes: dict[str, tuple[str, Handler]] = {
            "/healthz": ("GET", self._healthz),
            "/metrics": ("GET", self._render_metrics),
        }
        if slack is not None:
            handler = GuardedSlackHandler(slack, path=ids.EVENTS_PATH)

            async def slack_events(scope: Scope, receive: Receive, send: Send) -> None:
                await handler(dict(scope), receive, send)

            self._routes[ids.EVENTS_PATH] = ("POST", slack_events)
        for endpoint in alerts:
            self._routes[endpoint.format.path] = ("POST", endpoint)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        with logs.bind(request_id=logs.new_request_id()):
            try:
                await self._route(path, method, scope, receive, send)
            except (TimeoutError, asyncio.CancelledError):
                raise
            except Exception:
                logger.exception("unhandled error serving %s %s", method, path)
                await respond_json(send, 500, {"ok": False, "error": "internal error"})

    async def _route(
        self, path: str, method: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        route = self._routes.get(path)
        if route is None:
            await respond(send, 404, b"not found", "text/plain")
        elif route[0] != method:
            await respond(send, 405, b"method not allowed", "text/plain")
        else:
            await route[1](scope, receive, send)

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        try:
            ok = await asyncio.wait_for(self._health(), timeout=3)
        except TimeoutError:
            ok = False
        await respond_json(send, 200 if ok else 503, {"status": "ok" if ok else "unavailable"})

    async def _render_metrics(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        body, content_type = self._metrics.render()
        await respond(send, 200, body, content_type)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
