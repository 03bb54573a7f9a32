"""The one place unexpected errors end: logged once, the user told, with a correlation id.

`handle_listener_error` is Bolt's `app.error` for the ack path; `report` is used by the post-ack
flows (through `guarded`) and the task supervisor. `BotError`s are expected trouble and are
logged at INFO with friendly words; Slack API errors and everything else are logged with a
traceback. Either way the user gets a message carrying the correlation id.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import Any

from slack_bolt.response import BoltResponse
from slack_sdk.errors import SlackApiError

from bot import logs
from bot.errors import AuditWriteError, BotError
from bot.slack import blocks
from bot.slack.delivery import Delivery

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Notify:
    """Who to tell, and how, if a post-ack flow fails."""

    user_id: str | None = None
    response_url: str | None = None
    channel_id: str | None = None
    view_id: str | None = None


def _log(exc: BaseException, what: str) -> str:
    correlation_id = logs.current_request_id() or logs.new_request_id()
    if isinstance(exc, BotError):
        logger.info("%s failed [%s]: %s", what, correlation_id, exc)
    elif isinstance(exc, SlackApiError):
        logger.exception("%s: Slack API error [%s]", what, correlation_id, exc_info=exc)
    else:
        logger.exception("%s failed unexpectedly [%s]", what, correlation_id, exc_info=exc)
    return correlation_id


async def report(
    exc: BaseException, what: str, notify: Notify, delivery: Delivery, client: Any
) -> None:
    """Log a post-ack failure once and tell the user, with the correlation id."""
    correlation_id = _log(exc, what)
    text = blocks.error_text(correlation_id)
    if isinstance(exc, AuditWriteError):
        text = (
            ":x: The audit trail could not be written, so nothing was terminated. "
            f"Tell an admin the reference `{correlation_id}`."
        )
    if notify.view_id is not None:
        try:
            await client.views_update(
                view_id=notify.view_id, view=blocks.error_modal(correlation_id)
            )
        except SlackApiError:
            logger.warning("could not show the error in the modal [%s]", correlation_id)
    await delivery.tell(
        user_id=notify.user_id,
        response_url=notify.response_url,
        channel=notify.channel_id,
        text=text,
    )


async def guarded(
    work: Awaitable[None], what: str, notify: Notify, delivery: Delivery, client: Any
) -> None:
    """Run post-ack work so that its failure never vanishes (§4.3)."""
    try:
        await work
    except Exception as exc:
        await report(exc, what, notify, delivery, client)


async def handle_listener_error(error: Exception, body: dict[str, Any]) -> BoltResponse:
    """Bolt's `app.error`: an ack-path failure answers 200 with the correlation id, never a 500."""
    correlation_id = _log(error, f"listener for {body.get('type') or body.get('command')}")
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
