"""The confirmation modal's submission and close: the ack path (SPEC §4.2).

A submission is checked locally (reason present, attempt still awaiting confirmation with
this nonce: one indexed read) and answered at once with `response_action`; the termination
itself runs after the ack.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.domain import clean_reason
from bot.errors import UsageError
from bot.slack import blocks, flows, ids
from bot.slack.deps import Deps
from bot.slack.error_handler import Notify
from bot.slack.requests import as_dict, as_str, interaction_actor, reason_value


async def handle_confirm_submission(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """Terminate was pressed in the confirmation modal."""
    view = as_dict(body.get("view"))
    parsed = flows.parse_metadata(view.get("private_metadata"))
    if parsed is None:
        await ack(response_action="update", view=blocks.stale_modal())
        return
    attempt_id, nonce = parsed
    try:
        reason = clean_reason(reason_value(view))
    except UsageError as exc:
        await ack(response_action="errors", errors={ids.REASON_BLOCK: str(exc).capitalize() + "."})
        return
    attempt = await deps.service.awaiting(attempt_id)
    check = deps.service.check_submission(attempt, nonce, reason)
    if check.reason_error is not None:
        await ack(response_action="errors", errors={ids.REASON_BLOCK: check.reason_error})
        return
    if not check.accepted or check.attempt is None:
        await ack(response_action="update", view=blocks.stale_modal())
        return
    await ack(response_action="update", view=blocks.terminating_modal(check.attempt))
    actor = interaction_actor(body)
    view_id = as_str(view.get("id"))
    notify = Notify(
        user_id=actor.user_id,
        response_url=check.attempt.response_url,
        channel_id=check.attempt.channel_id,
        view_id=view_id,
    )
    flows.start(
        deps,
        flows.run_termination(deps, attempt_id, nonce, reason, view_id),
        name="run_termination",
        notify=notify,
    )


async def handle_confirm_closed(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
    """The confirmation modal was closed with Cancel or ×."""
    await ack()
    view = as_dict(body.get("view"))
    parsed = flows.parse_metadata(view.get("private_metadata"))
    if parsed is None:
        return
    flows.start(deps, flows.abandon(deps, *parsed), name="abandon", notify=Notify())
