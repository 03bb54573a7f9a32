"""The Terminate and Retry buttons: the ack path (SPEC §4.3, §4.4).

A button's value is data, not permission: it is parsed like typed text, and the policy is
judged on the clicking user and the channel of the click.
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import logs
from bot.domain import Source, parse_button_value
from bot.errors import UsageError
from bot.slack import blocks, flows
from bot.slack.deps import Deps
from bot.slack.error_handler import Notify
from bot.slack.requests import (
    as_dict,
    as_str,
    clicked_message,
    first_action,
    interaction_actor,
    interaction_where,
)
from bot.terminate import TerminateRequest


async def handle_terminate_button(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """Terminate button on an alert or message."""
    await ack()
    actor, where = interaction_actor(body), interaction_where(body)
    response_url = as_str(body.get("response_url"))
    notify = Notify(user_id=actor.user_id, response_url=response_url, channel_id=where.channel_id)
    try:
        command = parse_button_value(first_action(body).get("value"))
    except UsageError as exc:
        flows.start(
            deps,
            deps.delivery.tell(
                user_id=actor.user_id,
                response_url=response_url,
                channel=where.channel_id,
                text=f":warning: This button is broken: {blocks.escape(str(exc))}.",
            ),
            name="bad_button",
            notify=notify,
        )
        return
    channel, ts, thread = clicked_message(body)
    message = as_dict(body.get("message"))
    if ts is not None and isinstance(message.get("blocks"), list):
        deps.delivery.remember_message(ts, str(message.get("text", "")), message["blocks"])
    request = TerminateRequest(
        actor=actor,
        where=where,
        source=Source.BUTTON,
        command=command,
        request_id=logs.current_request_id() or logs.new_request_id(),
        thread_ts=thread,
        response_url=response_url,
        message_channel=channel,
        message_ts=ts,
        received_at=time.monotonic(),
    )
    decision = deps.service.precheck(actor, where, command.pipeline)
    if not decision.allowed:
        flows.start(
            deps, flows.deny_click(deps, request, decision), name="deny_click", notify=notify
        )
        return
    if not flows.reserve_modal(deps):
        flows.start(
            deps,
            deps.delivery.tell(
                user_id=actor.user_id,
                response_url=response_url,
                channel=where.channel_id,
                text=blocks.busy_text(),
            ),
            name="busy",
            notify=notify,
        )
        return
    flows.start_confirmation(deps, request, str(body.get("trigger_id", "")), notify=notify)


async def handle_retry_button(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """Retry button on a failure message."""
    await ack()
    actor, where = interaction_actor(body), interaction_where(body)
    response_url = as_str(body.get("response_url"))
    notify = Notify(user_id=actor.user_id, response_url=response_url, channel_id=where.channel_id)
    value = first_action(body).get("value")
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        return
    channel, ts, _ = clicked_message(body)
    message = as_dict(body.get("message"))
    if ts is not None and isinstance(message.get("blocks"), list):
        deps.delivery.remember_message(ts, str(message.get("text", "")), message["blocks"])
    flows.start(
        deps,
        flows.retry(
            deps,
            attempt_id=value,
            actor=actor,
            where=where,
            request_id=logs.current_request_id() or logs.new_request_id(),
            response_url=response_url,
            trigger_id=str(body.get("trigger_id", "")),
            message=(channel, ts),
        ),
        name="retry",
        notify=notify,
    )
