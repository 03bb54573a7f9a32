"""Request context for logs: the request id (the correlation id users see), team and user."""

from __future__ import annotations

from typing import Any

from bot import logs
from bot.slack.requests import as_dict, as_str


def bind_request_context(body: dict[str, Any]) -> None:
    """Put the request's team and user (and an id, if the router gave none) in the log context."""
    user = as_str(body.get("user_id")) or as_str(as_dict(body.get("user")).get("id"))
    team = as_str(body.get("team_id")) or as_str(as_dict(body.get("team")).get("id"))
    # The router already gave this HTTP request an id; Socket Mode requests arrive without one.
    request_id = logs.current_request_id() or logs.new_request_id()
    logs.set_context(request_id=request_id, team_id=team, user_id=user)
