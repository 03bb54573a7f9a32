"""The little of ASGI the bot's own routes need: types, a body reader, plain and JSON answers.

Bolt serves `/slack/events` through its own adapter; `web`'s other routes and the alert
endpoints are plain ASGI callables built from these, without a framework (see `web`).
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

__all__ = [
    "BodyTooLargeError",
    "Handler",
    "Receive",
    "Scope",
    "Send",
    "headers_of",
    "read_body",
    "respond",
    "respond_json",
]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send], Awaitable[None]]


class BodyTooLargeError(ValueError):
    """The request body is over the route's limit."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """An ASGI request's whole body, refusing more than `limit` bytes.

    Raises:
        BodyTooLargeError: the body is over `limit`.
        ValueError: the client went away before the body was complete.
    """
    chunks = bytearray()
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ValueError("client disconnected")
        chunks.extend(message.get("body", b""))
        if len(chunks) > limit:
            raise BodyTooLargeError(f"body over {limit} bytes")
        if not message.get("more_body", False):
            return bytes(chunks)


def headers_of(scope: Scope) -> dict[str, str]:
    """The request's headers, names lowercased (the last of repeated ones)."""
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


async def respond(send: Send, status: int, body: bytes, content_type: str) -> None:
    """Send a whole response."""
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


async def respond_json(send: Send, status: int, payload: dict[str, Any]) -> None:
    """Send `payload` as a JSON response."""
    await respond(send, status, json.dumps(payload).encode(), "application/json")
