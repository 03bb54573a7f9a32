"""The action buttons (Terminate, Pause, Resume), Retry, the modal's action choice, and Approve
and Reject on approval requests (§4.3–4.6).

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
from bot.domain import Action, parse_button_value
from bot.errors import UsageError
from bot.slack import blocks, flows, ids
from bot.slack.deps import Deps
from bot.slack.requests import Interaction, as_dict, first_action


async def handle_action_button(
    ack: AsyncAck, body: dict[str, Any], interaction: Interaction, deps: Deps
) -> None:
    """Terminate, Pause or Resume button on an alert or a result message."""
    await ack()
    clicked = first_action(body)
    action = Action(ids.ACTION_BUTTONS.get(str(clicked.get("action_id")), "terminate"))
    try:
        command = parse_button_value(clicked.get("value"), action)
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
        deps.attempts, interaction.actor, interaction.where, command.pipeline, command.action
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


async def handle_action_choice(
    ack: AsyncAck,
    body: dict[str, Any],
    interaction: Interaction,  # noqa: ARG001 - the modal itself shows the choice
    deps: Deps,
) -> None:
    """The confirmation's terminate/pause radio: the modal follows the choice."""
    await ack()
    selected = as_dict(first_action(body).get("selected_option")).get("value")
    if selected not in {a.value for a in blocks.CHOICES}:
        return
    flows.start(
        deps,
        flows.switch_action(deps, as_dict(body.get("view")), Action(str(selected))),
        name="switch_action",
        interaction=None,  # nothing to tell: the modal simply keeps its last state
    )


def _attempt_id(body: dict[str, Any]) -> str | None:
    value = first_action(body).get("value")
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


async def handle_approve_button(
    ack: AsyncAck, body: dict[str, Any], interaction: Interaction, deps: Deps
) -> None:
    """Approve on an approval request (value: the attempt id), §4.6."""
    await ack()
    attempt_id = _attempt_id(body)
    if attempt_id is None:
        return
    # On the request itself (not the `approvals` list), the clicked message is the request.
    on_request = first_action(body).get("block_id") == blocks.APPROVAL_BLOCK
    request_ts = interaction.message_ts if on_request else None
    flows.start(
        deps,
        flows.approve_request(deps, attempt_id, interaction, request_ts=request_ts),
        name="approve_request",
        interaction=interaction,
    )


async def handle_reject_button(
    ack: AsyncAck, body: dict[str, Any], interaction: Interaction, deps: Deps
) -> None:
    """Reject on an approval request: the reason modal opens (or the clicker is told why not)."""
    await ack()
    attempt_id = _attempt_id(body)
    if attempt_id is None:
        return
    flows.start(
        deps,
        flows.open_rejection(deps, attempt_id, interaction),
        name="open_rejection",
        interaction=interaction,
    )
