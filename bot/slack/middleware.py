"""Bolt middleware: a request id (the correlation id users see) in the log context."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.response import BoltResponse

from bot import logs


async def bind_request_context(
    body: dict[str, Any],
    next: Callable[[], Awaitable[BoltResponse]],
) -> BoltResponse:
    """Give every Slack request its own request id, team and user in the log context."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    team = body.get("team_id") or (body.get("team") or {}).get("id")
    # The router already gave this HTTP request an id; Socket Mode requests arrive without one.
    request_id = logs.current_request_id() or logs.new_request_id()
    logs.set_context(request_id=request_id, team_id=team, user_id=user)
    return await next()
