"""`/vs-terminate` and its subcommands: the ack path (parse, decide, ack, start a flow).

Nothing here waits on the network: usage errors, help and certain denials are answered in
the ack itself; everything else is acked at once and continued by a flow in `bot.slack.flows`.
"""

from __future__ import annotations

from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot.attempts import confirm
from bot.attempts.lifecycle import Source
from bot.domain import (
    ActionCommand,
    ApprovalsCommand,
    CanICommand,
    HelpCommand,
    HistoryCommand,
    StatusCommand,
    parse_command,
)
from bot.errors import UsageError
from bot.slack import blocks, flows
from bot.slack.deps import Deps
from bot.slack.requests import Interaction, as_str


async def handle_command(
    ack: AsyncAck, body: dict[str, Any], interaction: Interaction, deps: Deps
) -> None:
    """Handle `/vs-terminate …`."""
    try:
        command = parse_command(as_str(body.get("text")) or "")
    except UsageError as exc:
        deps.metrics.acks_total.labels(kind="usage_error").inc()
        await ack(**blocks.usage_error_reply(str(exc)))
        return
    if isinstance(command, HelpCommand):
        deps.metrics.acks_total.labels(kind="help").inc()
        await ack(**blocks.help_reply())
        return
    if isinstance(command, ActionCommand):
        await _act(ack, command, interaction, deps)
        return
    if not flows.has_capacity(deps):
        deps.metrics.acks_total.labels(kind="busy").inc()
        await ack(**blocks.ephemeral(blocks.busy_text()))
        return
    deps.metrics.acks_total.labels(kind="query").inc()
    await ack()
    if interaction.response_url is None:
        return
    if isinstance(command, StatusCommand):
        work = flows.answer_status(deps, interaction, command)
    elif isinstance(command, HistoryCommand):
        work = flows.answer_history(deps, interaction, command)
    elif isinstance(command, CanICommand):
        work = flows.answer_can_i(deps, interaction, command)
    else:
        assert isinstance(command, ApprovalsCommand)  # noqa: S101 - exhaustive over Command
        work = flows.answer_approvals(deps, interaction)
    flows.start(deps, work, name=type(command).__name__, interaction=interaction)


async def _act(ack: AsyncAck, command: ActionCommand, interaction: Interaction, deps: Deps) -> None:
    request = flows.request_for(interaction, command, Source.SLASH_COMMAND)
    decision = confirm.precheck(
        deps.attempts, interaction.actor, interaction.where, command.pipeline, command.action
    )
    if not decision.allowed:
        deps.metrics.acks_total.labels(kind="denied").inc()
        await ack(**blocks.ephemeral(blocks.denial_text(decision)))
        flows.start(
            deps,
            flows.record_denial(deps, request, decision),
            name="record_denial",
            interaction=interaction,
        )
        return
    if not flows.reserve_modal(deps):
        deps.metrics.acks_total.labels(kind="busy").inc()
        await ack(**blocks.ephemeral(blocks.busy_text()))
        return
    deps.metrics.acks_total.labels(kind="modal").inc()
    await ack()
    flows.start_confirmation(deps, request, interaction)
