"""Request context for logs: the request id (the correlation id users see), team and user."""

from __future__ import annotations

from bot import logs
from bot.slack.requests import Interaction


def bind_request_context(interaction: Interaction) -> None:
    """Put the request's id, team and user in the log context of everything it runs."""
    logs.set_context(
        request_id=interaction.request_id,
        team_id=interaction.actor.team_id,
        user_id=interaction.actor.user_id or None,
    )
