"""The one place unexpected errors end: the user told, with the correlation id.

`handle_listener_error` is Bolt's `app.error` for the ack path: it logs the error once and
answers with the correlation id, never a 500. `report` is the task supervisor's `on_error` for
every post-ack flow: the supervisor has already logged the error once, with its traceback and
the request id, and `report` tells the user where they asked (the open modal, then the
`response_url`, an ephemeral message or a DM) with that id. There is no second wrapper.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot import logs
from bot.errors import AuditWriteError, BotError
from bot.slack import blocks
from bot.slack.delivery import Delivery
from bot.slack.requests import Interaction

logger = logging.getLogger(__name__)


def _correlation_id() -> str:
    return logs.current_request_id() or logs.new_request_id()


async def report(
    exc: BaseException, about: object, delivery: Delivery, client: AsyncWebClient
) -> None:
    """Tell the user a post-ack flow failed (the supervisor logged it), with the correlation id.

    Args:
        exc: what the flow raised.
        about: the flow's `Interaction`, or anything else for work nobody asked for.
        delivery: the fallback chain to the user.
        client: the Web API client, to update an open modal.
    """
    if not isinstance(about, Interaction):
        return  # periodic work: the log is where it is seen
    correlation_id = _correlation_id()
    if about.settled is not None:
        # The action happened and the modal shows its result: say only what went wrong after.
        await delivery.tell(
            user_id=about.actor.user_id or None,
            response_url=about.response_url,
            channel=about.where.channel_id or None,
            text=blocks.after_result_error_text(about.settled, correlation_id),
        )
        return
    if isinstance(exc, AuditWriteError):
        text, view = (
            blocks.audit_failed_text(correlation_id),
            blocks.audit_failed_modal(correlation_id),
        )
    else:
        text, view = blocks.error_text(correlation_id), blocks.error_modal(correlation_id)
    if about.view_id is not None:
        try:
            await client.views_update(view_id=about.view_id, view=view)
        except SlackApiError:
            logger.warning("could not show the error in the modal [%s]", correlation_id)
    await delivery.tell(
        user_id=about.actor.user_id or None,
        response_url=about.response_url,
        channel=about.where.channel_id or None,
        text=text,
    )


async def handle_listener_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Bolt's `app.error`: an ack-path failure answers 200 with the correlation id, never a 500."""
    correlation_id = _correlation_id()
    what = f"listener for {body.get('type') or body.get('command')}"
    if isinstance(error, BotError):
        logger.info("%s failed [%s]: %s", what, correlation_id, error)
    else:
        logger.exception("%s failed unexpectedly [%s]", what, correlation_id, exc_info=error)
    if body.get("type") == "view_submission":
        payload: dict[str, Any] = {
            "response_action": "update",
            "view": blocks.error_modal(correlation_id),
        }
    elif body.get("command"):
        payload = blocks.ephemeral(blocks.error_text(correlation_id))
    else:
        return BoltResponse(status=200, body="")
    return BoltResponse(
        status=200, body=json.dumps(payload), headers={"content-type": "application/json"}
    )
