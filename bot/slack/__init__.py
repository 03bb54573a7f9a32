"""Slack listeners, Block Kit builders and delivery; `register` is the wiring table."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot import logs
from bot.slack import actions, commands, ids, views
from bot.slack.deps import Deps
from bot.slack.error_handler import handle_listener_error
from bot.slack.middleware import bind_request_context
from bot.slack.requests import Interaction, read_interaction

Listener = Callable[[AsyncAck, dict[str, Any], Interaction, Deps], Awaitable[None]]


def register(app: AsyncApp, deps: Deps) -> None:
    """Attach every listener to the Bolt app, each given its `Interaction` and the `deps`."""

    def bound(listener: Listener) -> Callable[[AsyncAck, dict[str, Any]], Awaitable[None]]:
        async def run(ack: AsyncAck, body: dict[str, Any]) -> None:
            # The interaction is read once here, and the log context bound here rather than
            # in a Bolt middleware: a middleware hop costs every request. The router gave HTTP
            # requests an id; Socket Mode envelopes arrive without one.
            interaction = read_interaction(body, logs.current_request_id() or logs.new_request_id())
            bind_request_context(interaction)
            await listener(ack, body, interaction, deps)

        run.__name__ = listener.__name__
        return run

    app.command(ids.COMMAND)(bound(commands.handle_command))
    for action_id in ids.ACTION_BUTTONS:
        app.action(action_id)(bound(actions.handle_action_button))
    app.action(ids.RETRY_ACTION)(bound(actions.handle_retry_button))
    app.action(ids.ACTION_CHOICE)(bound(actions.handle_action_choice))
    app.action(ids.APPROVE_ACTION)(bound(actions.handle_approve_button))
    app.action(ids.REJECT_ACTION)(bound(actions.handle_reject_button))
    app.view_submission(ids.REJECT_CALLBACK)(bound(views.handle_reject_submission))
    app.view_closed(ids.REJECT_CALLBACK)(bound(_ack_only))
    app.view_submission(ids.CONFIRM_CALLBACK)(bound(views.handle_confirm_submission))
    app.view_closed(ids.CONFIRM_CALLBACK)(bound(views.handle_confirm_closed))
    app.view_closed(ids.RESULT_CALLBACK)(bound(_ack_only))
    app.error(handle_listener_error)


async def _ack_only(
    ack: AsyncAck,
    body: dict[str, Any],  # noqa: ARG001 - the listener signature
    interaction: Interaction,  # noqa: ARG001
    deps: Deps,  # noqa: ARG001
) -> None:
    """Closing a modal that has nothing left to confirm."""
    await ack()
