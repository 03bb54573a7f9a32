"""`/vs-terminate` and its subcommands: the ack path (parse, decide, ack, start a flow).

Nothing here waits on the network: usage errors, help and certain denials are answered in
the ack itself; everything else is acked at once and continued by a flow in `bot.slack.flows`.
"""

from __future__ import annotations

import time
from typing import Any

from slack_bolt.context.ack.async_ack import AsyncAck

from bot import logs
from bot.domain import (
    CanICommand,
    HelpCommand,
    HistoryCommand,
    Source,
    StatusCommand,
    TerminateCommand,
    parse_command,
)
from bot.errors import UsageError
from bot.slack import blocks, flows
from bot.slack.deps import Deps
from bot.slack.error_handler import Notify
from bot.slack.requests import as_str, command_actor, command_where
from bot.terminate import TerminateRequest


async def handle_command(ack: AsyncAck, body: dict[str, Any], deps: Deps) -> None:
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
    actor, where = command_actor(body), command_where(body)
    response_url = as_str(body.get("response_url"))
    notify = Notify(user_id=actor.user_id, response_url=response_url, channel_id=where.channel_id)
    if isinstance(command, TerminateCommand):
        request = TerminateRequest(
            actor=actor,
            where=where,
            source=Source.SLASH_COMMAND,
            command=command,
            request_id=logs.current_request_id() or logs.new_request_id(),
            response_url=response_url,
            received_at=time.monotonic(),
        )
        decision = deps.service.precheck(actor, where, command.pipeline)
        if not decision.allowed:
            deps.metrics.acks_total.labels(kind="denied").inc()
            await ack(**blocks.ephemeral(blocks.denial_text(decision)))
            flows.start(
                deps,
                flows.record_denial(deps, request, decision),
                name="record_denial",
                notify=notify,
            )
            return
        if not flows.reserve_modal(deps):
            deps.metrics.acks_total.labels(kind="busy").inc()
            await ack(**blocks.ephemeral(blocks.busy_text()))
            return
        deps.metrics.acks_total.labels(kind="modal").inc()
        await ack()
        flows.start_confirmation(deps, request, str(body.get("trigger_id", "")), notify=notify)
        return
    if not flows.has_capacity(deps):
        deps.metrics.acks_total.labels(kind="busy").inc()
        await ack(**blocks.ephemeral(blocks.busy_text()))
        return
    deps.metrics.acks_total.labels(kind="query").inc()
    await ack()
    if response_url is None:
        return
    if isinstance(command, StatusCommand):
        work = flows.answer_status(deps, actor, where, command, response_url)
    elif isinstance(command, HistoryCommand):
        work = flows.answer_history(deps, actor, where, command, response_url)
    else:
        assert isinstance(command, CanICommand)  # noqa: S101 - exhaustive over Command
        work = flows.answer_can_i(deps, actor, where, command.pipeline, response_url)
    flows.start(deps, work, name=type(command).__name__, notify=notify)
