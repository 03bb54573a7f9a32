"""Post-ack work: everything that talks to Slack, VectorShift or the database after an ack.

Each flow is a coroutine started by a listener through `start()`, which runs it under the task
supervisor and the `guarded` wrapper, so a failure is logged once and the user is told, with
the correlation id. Flows turn the service's results into views and messages; they decide
nothing themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from typing import Any

from slack_sdk.errors import SlackApiError

from bot.domain import Actor, HistoryCommand, PipelineRef, StatusCommand, Where
from bot.slack import blocks
from bot.slack.deps import Deps
from bot.slack.error_handler import Notify, guarded
from bot.terminate import LookupFailedError, TerminateRequest

logger = logging.getLogger(__name__)


def has_capacity(deps: Deps) -> bool:
    """Whether the supervisor can take one more post-ack flow (counted as shed if not)."""
    if deps.tasks.running < deps.tasks.limit:
        return True
    deps.metrics.shed_total.labels(reason="queue_full").inc()
    return False


def reserve_modal(deps: Deps) -> bool:
    """Take a place for a confirmation modal, or say the bot is too busy to open one in time.

    Checked before the ack, so an overloaded bot answers "busy" at once instead of opening a
    modal after Slack's 3-second trigger window. The place is given back as soon as the modal
    is open (or could not be). Shedding is counted here, where it is decided.
    """
    if deps.tasks.running < deps.tasks.limit and deps.opening.try_enter():
        return True
    deps.metrics.shed_total.labels(reason="busy").inc()
    return False


def start(deps: Deps, work: Coroutine[Any, Any, None], *, name: str, notify: Notify) -> bool:
    """Run a flow in the background; False (and the coroutine closed) if the bot is full."""
    task = deps.tasks.spawn(guarded(work, name, notify, deps.delivery, deps.client), name=name)
    if task is None:
        work.close()
        return False
    return True


def metadata(attempt_id: str, nonce: str) -> str:
    """`private_metadata`: only the attempt id and its one-time nonce (§4.2)."""
    return f"{attempt_id}:{nonce}"


def parse_metadata(value: object) -> tuple[str, str] | None:
    """The attempt id and nonce from `private_metadata`, or None if it is not ours."""
    if not isinstance(value, str) or value.count(":") != 1 or len(value) > 200:
        return None
    attempt_id, nonce = value.split(":")
    return (attempt_id, nonce) if attempt_id and nonce else None


TRIGGER_BUDGET_S = 2.5
"""Slack's `trigger_id` lasts 3 s; a modal not opened by this age is shed, not attempted late."""


def start_confirmation(
    deps: Deps, request: TerminateRequest, trigger_id: str, *, notify: Notify
) -> None:
    """Start `open_confirmation` in a place taken with `reserve_modal`."""
    if not start(
        deps,
        open_confirmation(deps, request, trigger_id, reserved=True),
        name="open_confirmation",
        notify=notify,
    ):
        deps.opening.leave()


async def open_confirmation(
    deps: Deps, request: TerminateRequest, trigger_id: str, *, reserved: bool = False
) -> None:
    """Open the modal at once, then fill it with the details or the reason it cannot go ahead.

    Args:
        deps: the runtime's collaborators.
        request: what is to be terminated, by whom, from where.
        trigger_id: the interaction's trigger, valid for 3 s.
        reserved: a place in `deps.opening` was taken for this modal; give it back once open.
    """
    try:
        opened = await _open_modal(deps, request, trigger_id)
    finally:
        if reserved:
            deps.opening.leave()
    if opened is None:
        return
    view_id = str(opened["view"]["id"])
    prep = await deps.service.prepare(request)
    deps.metrics.attempts_total.labels(outcome=prep.attempt.outcome.value).inc()
    if prep.blocker is None:
        view = blocks.confirm_modal(prep, metadata(prep.attempt.id, prep.attempt.nonce or ""))
    else:
        view = blocks.blocked_modal(prep)
    await deps.client.views_update(view_id=view_id, view=view)
    if prep.blocker is not None:
        await deps.delivery.mirror(prep.attempt)


async def _open_modal(
    deps: Deps, request: TerminateRequest, trigger_id: str
) -> dict[str, Any] | None:
    """`views.open` with the "Checking…" modal, or tell the user why it could not open."""
    if (
        request.received_at is not None
        and time.monotonic() - request.received_at > TRIGGER_BUDGET_S
    ):
        deps.metrics.shed_total.labels(reason="trigger_window").inc()
        await deps.delivery.tell(
            user_id=request.actor.user_id,
            response_url=request.response_url,
            channel=request.where.channel_id,
            text=blocks.busy_text(),
        )
        return None
    try:
        opened = await deps.client.views_open(trigger_id=trigger_id, view=blocks.loading_modal())
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        deps.metrics.slack_api_errors_total.labels(method="views.open", error=error).inc()
        logger.warning("views.open failed: %s", error)
        await deps.delivery.tell(
            user_id=request.actor.user_id,
            response_url=request.response_url,
            channel=request.where.channel_id,
            text=blocks.trigger_expired_text(),
        )
        return None
    return dict(opened.data) if isinstance(opened.data, dict) else None


async def run_termination(
    deps: Deps, attempt_id: str, nonce: str, reason: str, view_id: str | None
) -> None:
    """After a confirmed submission: terminate, verify, and tell everyone the result."""

    async def show(view: dict[str, Any]) -> None:
        if view_id is None:
            return
        try:
            await deps.client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            # The user may have closed the modal; the channel message still carries the result.
            logger.info("modal update skipped: %s", exc.response.get("error"))

    async def accepted(attempt: Any) -> None:
        await show(blocks.verifying_modal(attempt))

    execution = await deps.service.execute(attempt_id, nonce, reason, on_accepted=accepted)
    if execution is None:
        return
    deps.metrics.attempts_total.labels(outcome=execution.attempt.outcome.value).inc()
    await asyncio.gather(show(blocks.result_modal(execution)), deps.delivery.announce(execution))


async def record_denial(deps: Deps, request: TerminateRequest, decision: Any) -> None:
    """A denial answered in the ack still goes into the audit trail and the mirror."""
    attempt = await deps.service.record_denial(request, decision)
    deps.metrics.attempts_total.labels(outcome=attempt.outcome.value).inc()
    await deps.delivery.mirror(attempt)


async def deny_click(deps: Deps, request: TerminateRequest, decision: Any) -> None:
    """A denied button click: record it and tell the clicking user privately."""
    await record_denial(deps, request, decision)
    await deps.delivery.tell(
        user_id=request.actor.user_id,
        response_url=request.response_url,
        channel=request.where.channel_id,
        text=blocks.denial_text(decision),
    )


async def abandon(deps: Deps, attempt_id: str, nonce: str) -> None:
    """The modal was closed before submitting."""
    attempt = await deps.service.abandon(attempt_id, nonce)
    if attempt is not None:
        deps.metrics.attempts_total.labels(outcome=attempt.outcome.value).inc()


async def retry(
    deps: Deps,
    *,
    attempt_id: str,
    actor: Actor,
    where: Where,
    request_id: str,
    response_url: str | None,
    trigger_id: str,
    message: tuple[str | None, str | None],
) -> None:
    """Retry button: a new attempt through all the same checks and a fresh modal."""
    received_at = time.monotonic()
    failed = await deps.service.get(attempt_id)
    request = (
        None
        if failed is None
        else deps.service.retry_request(failed, actor, where, request_id, response_url)
    )
    if request is None:
        await deps.delivery.tell(
            user_id=actor.user_id,
            response_url=response_url,
            channel=where.channel_id,
            text=":information_source: That attempt cannot be retried.",
        )
        return
    channel, ts = message
    request = TerminateRequest(
        actor=request.actor,
        where=request.where,
        source=request.source,
        command=request.command,
        request_id=request.request_id,
        thread_ts=request.thread_ts or ts,
        response_url=response_url,
        message_channel=channel,
        message_ts=ts,
        received_at=received_at,
    )
    decision = deps.service.precheck(actor, where, request.command.pipeline)
    if not decision.allowed:
        await deny_click(deps, request, decision)
        return
    if not deps.opening.try_enter():
        deps.metrics.shed_total.labels(reason="busy").inc()
        await deps.delivery.tell(
            user_id=actor.user_id,
            response_url=response_url,
            channel=where.channel_id,
            text=blocks.busy_text(),
        )
        return
    await open_confirmation(deps, request, trigger_id, reserved=True)


async def answer_status(
    deps: Deps, actor: Actor, where: Where, command: StatusCommand, response_url: str
) -> None:
    """`/vs-terminate status`: for users the policy lets terminate that pipeline."""
    text = await _status_text(deps, actor, where, command)
    await deps.delivery.respond(response_url, blocks.ephemeral(text))


async def _status_text(deps: Deps, actor: Actor, where: Where, command: StatusCommand) -> str:
    try:
        decision, pipeline = await deps.service.can_terminate(actor, where, command.pipeline)
        if pipeline is None or not decision.allowed:
            return blocks.denial_text(decision)
        status = await deps.service.run_status(pipeline, command.run_id)
    except LookupFailedError as exc:
        return _lookup_error(exc)
    return blocks.status_text(pipeline, command.run_id, status)


async def answer_history(
    deps: Deps, actor: Actor, where: Where, command: HistoryCommand, response_url: str
) -> None:
    """`/vs-terminate history`: the last 10 attempts on pipelines the caller may terminate."""
    try:
        attempts = await deps.service.history(actor, where, command.pipeline, command.run_id)
        text = blocks.history_text(attempts)
    except LookupFailedError as exc:
        text = _lookup_error(exc)
    await deps.delivery.respond(response_url, blocks.ephemeral(text))


async def answer_can_i(
    deps: Deps, actor: Actor, where: Where, pipeline: PipelineRef, response_url: str
) -> None:
    """`/vs-terminate can-i`: allowed or not here, the deciding rule, and who could instead."""
    try:
        decision, resolved = await deps.service.can_terminate(actor, where, pipeline)
        text = blocks.can_i_text(decision, resolved, where.channel_id) if resolved else ""
    except LookupFailedError as exc:
        text = _lookup_error(exc)
    await deps.delivery.respond(response_url, blocks.ephemeral(text))


def _lookup_error(exc: LookupFailedError) -> str:
    return ":warning: " + blocks.BLOCKER_WORDS[exc.blocker]
