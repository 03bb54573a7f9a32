"""The HTTP surface: a small ASGI router in front of Bolt (SPEC §3, §4.4, §7).

Routes: `POST /slack/events` → Bolt (HTTP mode only: signature checked by Bolt, never
disabled; in Socket Mode the route does not exist, 404), `GET /healthz`, `GET /metrics`,
`POST /api/alerts`. Bolt's ASGI adapter serves only its own path, so this router sits in front
of it; a plain ASGI callable was chosen over Starlette because four fixed routes need no
framework and Starlette's adapter costs 12–15 % more CPU per request (STYLE, measured on 2
cores). The Slack route goes through `bot.slack.entry`'s guard: unreadable signatures 401,
malformed bodies 400, never a 500.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_sdk.errors import SlackApiError

from bot import logs
from bot.domain import parse_alert
from bot.errors import InvalidFieldError
from bot.metrics import Metrics
from bot.slack import ids
from bot.slack.delivery import Delivery
from bot.slack.deps import AlertsPort
from bot.slack.entry import BodyTooLargeError, GuardedSlackHandler, read_body

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]

MAX_ALERT_BODY = 16_384


async def _respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _json(send: Send, status: int, payload: dict[str, Any]) -> None:
    await _respond(send, status, json.dumps(payload).encode(), "application/json")


class TokenBucket:
    """A small rate limiter for `/api/alerts` (per process)."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self._rate, self._burst, self._clock = rate_per_s, float(burst), clock
        self._tokens, self._at = float(burst), clock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


@dataclass
class AlertsEndpoint:
    """`POST /api/alerts`: post (or update) an alert with a Terminate button (§4.4)."""

    tokens: tuple[str, ...]
    delivery: Delivery
    store: AlertsPort
    bucket: TokenBucket

    def authorized(self, header: str | None) -> bool:
        """Bearer token check, constant time against each accepted token (rotation)."""
        scheme, _, presented = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return False
        matches = [hmac.compare_digest(presented.encode(), t.encode()) for t in self.tokens]
        return any(matches)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        if not self.authorized(headers.get("authorization")):
            await _json(send, 401, {"ok": False, "error": "invalid or missing bearer token"})
            return
        if not self.bucket.take():
            await _json(send, 429, {"ok": False, "error": "too many alerts; slow down"})
            return
        if not headers.get("content-type", "").startswith("application/json"):
            await _json(send, 400, {"ok": False, "error": "body: must be application/json"})
            return
        try:
            raw = await read_body(receive, MAX_ALERT_BODY)
            alert = parse_alert(json.loads(raw))
        except BodyTooLargeError:
            await _json(
                send, 400, {"ok": False, "error": f"body: larger than {MAX_ALERT_BODY} bytes"}
            )
            return
        except InvalidFieldError as exc:
            await _json(send, 400, {"ok": False, "error": str(exc), "field": exc.field})
            return
        except (ValueError, UnicodeDecodeError, RecursionError):
            await _json(send, 400, {"ok": False, "error": "body: not valid JSON"})
            return
        key = {"channel": alert.channel, "pipeline": alert.pipeline.text, "run_id": alert.run_id}
        try:
            existing = await self.store.alert_ts(**key)
            ts = await self.delivery.post_alert(alert, existing)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "error"))
            await _json(send, 502, {"ok": False, "error": f"slack: {error}"})
            return
        await self.store.save_alert(**key, ts=ts)
        await _json(send, 200, {"ok": True, "channel": alert.channel, "ts": ts})


class Router:
    """The ASGI application uvicorn serves.

    Args:
        slack: the Bolt app, or None in Socket Mode: there nothing signs HTTP requests, so
            `/slack/events` is not served at all (404) rather than served unverified.
        health: returns True when the database answers.
        metrics: the Prometheus registry to render.
        alerts: the alerts endpoint, or None when `VS_ALERTS_TOKEN` is unset.
    """

    def __init__(
        self,
        *,
        slack: AsyncApp | None,
        health: Callable[[], Awaitable[bool]],
        metrics: Metrics,
        alerts: AlertsEndpoint | None,
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
        if alerts is not None:
            self._routes["/api/alerts"] = ("POST", alerts)

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
                await _json(send, 500, {"ok": False, "error": "internal error"})

    async def _route(
        self, path: str, method: str, scope: Scope, receive: Receive, send: Send
    ) -> None:
        route = self._routes.get(path)
        if route is None:
            await _respond(send, 404, b"not found", "text/plain")
        elif route[0] != method:
            await _respond(send, 405, b"method not allowed", "text/plain")
        else:
            await route[1](scope, receive, send)

    async def _healthz(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        try:
            ok = await asyncio.wait_for(self._health(), timeout=3)
        except TimeoutError:
            ok = False
        await _json(send, 200 if ok else 503, {"status": "ok" if ok else "unavailable"})

    async def _render_metrics(self, scope: Scope, receive: Receive, send: Send) -> None:  # noqa: ARG002
        body, content_type = self._metrics.render()
        await _respond(send, 200, body, content_type)

    @staticmethod
    async def _lifespan(receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
