"""The Terminate and Retry buttons: the ack path (SPEC §4.3, §4.4).

A button's value is data, not permission: it is parsed like typed text, and the policy is
judged on the clicking user and the channel of the click. Nothing is kept of a click that is
malformed or denied; the clicked message is remembered (to show the outcome on it later) only
once the click may go ahead.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.attempts import confirm
from bot.attempts.lifecycle import Source
from bot.domain import parse_button_value
from bot.errors import UsageError
from bot.slack import blocks, flows
from bot.slack.deps import Deps
from bot.slack.requests import Interaction, as_dict, first_action


async def handle_terminate_button(
    ack: AsyncAck, body: dict[str, Any], interaction: Interaction, deps: Deps
) -> None:
    """Terminate button on an alert or message."""
    await ack()
    try:
        command = parse_button_value(first_action(body).get("value"))
    except UsageError as exc:
        flows.start(
            deps,
            deps.delivery.tell(
                user_id=interaction.actor.user_id,
                response_url=interaction.response_url,
                channel=interaction.where.channel_id,
                text=blocks.broken_button_text(str(exc)),
            ),
            name="bad_button",
            interaction=interaction,
        )
        return
    request = flows.request_for(
        interaction, command, Source.BUTTON, thread_ts=interaction.thread_ts
    )
    decision = confirm.precheck(
        deps.attempts, interaction.actor, interaction.where, command.pipeline
    )
    if not decision.allowed:
        flows.start(
            deps,
            flows.deny_click(deps, request, decision),
            name="deny_click",
            interaction=interaction,
        )
        return
    if not flows.reserve_modal(deps):
        flows.start(
            deps,
            deps.delivery.tell(
                user_id=interaction.actor.user_id,
                response_url=interaction.response_url,
                channel=interaction.where.channel_id,
                text=blocks.busy_text(),
            ),
            name="busy",
            interaction=interaction,
        )
        return
    _remember_clicked(body, interaction, deps)
    flows.start_confirmation(deps, request, interaction)


async def handle_retry_button(
    ack: AsyncAck, body: dict[str, Any], interaction: Interaction, deps: Deps
) -> None:
    """Retry button on a failure message."""
    await ack()
    value = first_action(body).get("value")
    if not isinstance(value, str) or not 0 < len(value) <= 64:
        return
    _remember_clicked(body, interaction, deps)
    flows.start(deps, flows.retry(deps, value, interaction), name="retry", interaction=interaction)


def _remember_clicked(body: dict[str, Any], interaction: Interaction, deps: Deps) -> None:
    message = as_dict(body.get("message"))
    if interaction.message_ts is not None and isinstance(message.get("blocks"), list):
        deps.delivery.remember_message(
            interaction.message_ts, str(message.get("text", "")), message["blocks"]
        )
