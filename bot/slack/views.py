"""The confirmation modal's submission and close: the ack path (SPEC §4.2).

A submission is checked locally (reason present, attempt still awaiting confirmation with
this nonce: one indexed read) and answered at once with `response_action`; the action itself
runs after the ack.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.attempts import confirm
from bot.domain import Where, clean_reason
from bot.errors import UsageError
from bot.slack import blocks, flows, ids
from bot.slack.deps import Deps
from bot.slack.requests import Interaction, action_choice, as_dict, reason_value, text_value


async def handle_confirm_submission(
    ack: AsyncAck, body: dict[str, Any], interaction: Interaction, deps: Deps
) -> None:
    """The confirmation modal's submit button was pressed."""
    view = as_dict(body.get("view"))
    parsed = flows.parse_metadata(view.get("private_metadata"))
    if parsed is None:
        await ack(response_action="update", view=blocks.stale_modal())
        return
    attempt_id, nonce = parsed
    chosen = action_choice(view)
    try:
        reason = clean_reason(reason_value(view))
    except UsageError as exc:
        await ack(response_action="errors", errors={ids.REASON_BLOCK: str(exc).capitalize() + "."})
        return
    attempt = await confirm.awaiting(deps.attempts, attempt_id)
    check = confirm.check_submission(deps.attempts, attempt, nonce, reason)
    if check.attempt is None:
        await ack(response_action="update", view=blocks.stale_modal())
        return
    if check.reason_missing:
        await ack(
            response_action="errors",
            errors={ids.REASON_BLOCK: blocks.reason_required_text(check.attempt)},
        )
        return
    action = chosen if chosen is not None and check.attempt.action in blocks.CHOICES else None
    await ack(response_action="update", view=blocks.working_modal(check.attempt, action))
    # The submission payload names no channel: failures are told where the attempt began.
    interaction.response_url = check.attempt.response_url
    interaction.where = Where(check.attempt.channel_id or "", is_dm=check.attempt.channel_is_dm)
    flows.start(
        deps,
        flows.run_action(
            deps, attempt_id, nonce, reason, interaction, action=action, attempt=check.attempt
        ),
        name="run_action",
        interaction=interaction,
    )


async def handle_confirm_closed(
    ack: AsyncAck,
    body: dict[str, Any],
    interaction: Interaction,  # noqa: ARG001 - nobody waits for a close to be told anything
    deps: Deps,
) -> None:
    """The confirmation modal was closed with Cancel or ×."""
    await ack()
    parsed = flows.parse_metadata(as_dict(body.get("view")).get("private_metadata"))
    if parsed is None:
        return
    # Nobody waits for a close: a failure to record it is logged, not told.
    flows.start(deps, flows.abandon(deps, *parsed), name="abandon", interaction=None)


async def handle_reject_submission(
    ack: AsyncAck, body: dict[str, Any], interaction: Interaction, deps: Deps
) -> None:
    """The rejection modal's Reject: an optional reason, then the request is settled."""
    view = as_dict(body.get("view"))
    attempt_id = view.get("private_metadata")
    if not isinstance(attempt_id, str) or not 0 < len(attempt_id) <= 64:
        await ack(response_action="update", view=blocks.stale_modal())
        return
    try:
        reason = clean_reason(text_value(view, ids.REJECT_REASON_BLOCK, ids.REJECT_REASON_ACTION))
    except UsageError as exc:
        errors = {ids.REJECT_REASON_BLOCK: str(exc).capitalize() + "."}
        await ack(response_action="errors", errors=errors)
        return
    await ack()
    flows.start(
        deps,
        flows.reject_request(deps, attempt_id, reason, interaction),
        name="reject_request",
        interaction=interaction,
    )
