"""Slack listeners, Block Kit builders and delivery; `register` is the wiring table."""

from __future__ import annotations

from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.ack.async_ack import AsyncAck

from bot.slack import actions, commands, ids, views
from bot.slack.deps import Deps
from bot.slack.error_handler import handle_listener_error
from bot.slack.middleware import bind_request_context


def register(app: AsyncApp, deps: Deps) -> None:
    """Attach every listener to the Bolt app, each given the runtime's `deps`."""

    def bound(listener: Any) -> Any:
        async def run(ack: AsyncAck, body: dict[str, Any]) -> None:
            # Team and user join the request id (bound by the router) in the log context here
            # rather than in a Bolt middleware: a middleware hop costs every request.
            bind_request_context(body)
            await listener(ack, body, deps)

        run.__name__ = listener.__name__
        return run

    app.command(ids.COMMAND)(bound(commands.handle_command))
    app.action(ids.TERMINATE_ACTION)(bound(actions.handle_terminate_button))
    app.action(ids.RETRY_ACTION)(bound(actions.handle_retry_button))
    app.view_submission(ids.CONFIRM_CALLBACK)(bound(views.handle_confirm_submission))
    app.view_closed(ids.CONFIRM_CALLBACK)(bound(views.handle_confirm_closed))
    app.view_closed(ids.RESULT_CALLBACK)(bound(_ack_only))
    app.error(handle_listener_error)


async def _ack_only(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:  # noqa: ARG001
    """Closing a modal that has nothing left to confirm."""
    await ack()
