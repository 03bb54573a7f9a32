"""Post-ack work: everything that talks to Slack, VectorShift or the database after an ack.

Each flow is a coroutine a listener starts with `start()`, which hands it to the task
supervisor together with its `Interaction`: if the flow fails, the supervisor logs it once and
its error hook tells the user where they asked, with the correlation id. Flows turn the use
cases' results into views and messages; they decide nothing themselves.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, Final

from slack_sdk.errors import SlackApiError

from bot.attempts import approve, confirm, execute, queries, upkeep
from bot.attempts.approve import Verdict
from bot.attempts.confirm import AttemptRequest, Preparation
from bot.attempts.lifecycle import Attempt, Outcome, Source
from bot.attempts.queries import LookupFailedError
from bot.domain import Action, ActionCommand, CanICommand, HistoryCommand, StatusCommand
from bot.policy import Approval, Decision
from bot.slack import blocks
from bot.slack.deps import Deps
from bot.slack.requests import Interaction

logger = logging.getLogger(__name__)

TRIGGER_BUDGET_S: Final = 2.5
"""Slack's `trigger_id` lasts 3 s; a modal not opened by this age is shed, not attempted late."""


def _count(deps: Deps, attempt: Attempt) -> None:
    deps.metrics.attempts_total.labels(
        action=attempt.action.value, outcome=attempt.outcome.value
    ).inc()


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


def start(
    deps: Deps, work: Coroutine[Any, Any, None], *, name: str, interaction: Interaction | None
) -> bool:
    """Run a flow in the background; False (and the coroutine closed) if the bot is full."""
    return deps.tasks.spawn(work, name=name, about=interaction) is not None


def metadata(attempt_id: str, nonce: str) -> str:
    """`private_metadata`: only the attempt id and its one-time nonce (§4.2)."""
    return f"{attempt_id}:{nonce}"


def parse_metadata(value: object) -> tuple[str, str] | None:
    """The attempt id and nonce from `private_metadata`, or None if it is not ours."""
    if not isinstance(value, str) or value.count(":") != 1 or len(value) > 200:
        return None
    attempt_id, nonce = value.split(":")
    return (attempt_id, nonce) if attempt_id and nonce else None


def request_for(
    interaction: Interaction,
    command: ActionCommand,
    source: Source,
    *,
    thread_ts: str | None = None,
) -> AttemptRequest:
    """The use cases' request for an interaction."""
    return AttemptRequest(
        actor=interaction.actor,
        where=interaction.where,
        source=source,
        command=command,
        request_id=interaction.request_id,
        thread_ts=thread_ts,
        response_url=interaction.response_url,
        message_channel=interaction.message_channel,
        message_ts=interaction.message_ts,
        received_at=interaction.received_at,
    )


def start_confirmation(deps: Deps, request: AttemptRequest, interaction: Interaction) -> None:
    """Start `open_confirmation` in a place taken with `reserve_modal`."""
    if not start(
        deps,
        open_confirmation(deps, request, interaction, reserved=True),
        name="open_confirmation",
        interaction=interaction,
    ):
        deps.opening.leave()


async def open_confirmation(
    deps: Deps, request: AttemptRequest, interaction: Interaction, *, reserved: bool = False
) -> None:
    """Open the confirmation: complete at once when its details come quickly, else in two steps.

    The details (pipeline, live run status, the policy's verdict) usually take a few hundred
    milliseconds. Waiting up to `QUICK_OPEN_S` for them opens the finished modal with one
    `views.open`; past that the modal opens with "Checking…" and is updated when they arrive,
    still well inside Slack's 3-second trigger window. A failure opens "Checking…" too, so the
    error report has a modal to show itself in.

    Args:
        deps: the runtime's collaborators.
        request: what is to be done, by whom, from where.
        interaction: the request's handles; its `view_id` is set once the modal is open.
        reserved: a place in `deps.opening` was taken for this modal; give it back once open.
    """
    try:
        async with asyncio.TaskGroup() as group:
            preparing = group.create_task(_settled(confirm.prepare(deps.attempts, request)))
            await asyncio.wait({preparing}, timeout=_quick_budget(request))
            ready = preparing.result() if preparing.done() else None
            if isinstance(ready, Preparation):
                view_id = await _open_modal(deps, request, interaction.trigger_id, _view(ready))
            else:
                view_id = await _open_modal(deps, request, interaction.trigger_id)
            if reserved:
                deps.opening.leave()
                reserved = False
            interaction.view_id = view_id
            outcome = await preparing
    finally:
        if reserved:
            deps.opening.leave()
    if isinstance(outcome, BaseException):
        raise outcome
    prep = outcome
    _count(deps, prep.attempt)
    if view_id is None:
        # Nobody saw this confirmation: it cannot be submitted, so it is over.
        if prep.blocker is None:
            await upkeep.abandon(deps.attempts, prep.attempt.id, prep.attempt.nonce)
        return
    if ready is None:
        await deps.client.views_update(view_id=view_id, view=_view(prep))
    if prep.blocker is not None:
        await deps.delivery.mirror(prep.attempt)


QUICK_OPEN_S: Final = 0.6
"""How long a confirmation waits for its details before opening with "Checking…" instead."""
QUICK_OPEN_BY_S: Final = 1.5
"""…and never past this long after the request arrived, to leave the placeholder time."""


def _quick_budget(request: AttemptRequest) -> float:
    if request.received_at is None:
        return QUICK_OPEN_S
    left = request.received_at + QUICK_OPEN_BY_S - time.monotonic()
    return max(0.0, min(QUICK_OPEN_S, left))


async def _settled(work: Coroutine[Any, Any, Preparation]) -> Preparation | Exception:
    """The preparation, or the exception it raised (kept for after the modal is open)."""
    try:
        return await work
    except Exception as exc:  # re-raised by the caller once a modal can show it
        return exc


def _view(prep: Preparation) -> dict[str, Any]:
    if prep.blocker is None:
        return blocks.confirm_modal(prep, metadata(prep.attempt.id, prep.attempt.nonce or ""))
    return blocks.blocked_modal(prep)


async def _open_modal(
    deps: Deps,
    request: AttemptRequest,
    trigger_id: str,
    view: dict[str, Any] | None = None,
) -> str | None:
    """`views.open` with `view` ("Checking…" by default); its view id, or None after telling
    the user why no modal could open."""
    if (
        request.received_at is not None
        and time.monotonic() - request.received_at > TRIGGER_BUDGET_S
    ):
        deps.metrics.shed_total.labels(reason="trigger_window").inc()
        await _tell(deps, request, blocks.busy_text())
        return None
    try:
        opened = await deps.client.views_open(
            trigger_id=trigger_id, view=view or blocks.loading_modal()
        )
    except SlackApiError as exc:
        error = str(exc.response.get("error"))
        deps.metrics.slack_api_errors_total.labels(method="views.open", error=error).inc()
        logger.warning("views.open failed: %s", error)
        await _tell(deps, request, blocks.trigger_expired_text())
        return None
    opened_view = opened.get("view")
    return (
        str(opened_view["id"]) if isinstance(opened_view, dict) and opened_view.get("id") else None
    )


async def _tell(deps: Deps, request: AttemptRequest, text: str) -> None:
    await deps.delivery.tell(
        user_id=request.actor.user_id,
        response_url=request.response_url,
        channel=request.where.channel_id,
        text=text,
    )


async def switch_action(deps: Deps, view: dict[str, Any], action: Action) -> None:
    """The user switched the confirmation between terminate and pause: show what that means,
    including whether the new action needs approval first."""
    parsed = parse_metadata(view.get("private_metadata"))
    attempt = await deps.attempts.audit.get(parsed[0]) if parsed is not None else None
    approval = (
        execute.approval_needed(deps.attempts, attempt, action) if attempt is not None else None
    )
    switched = blocks.switched_modal(view, action, approval)
    view_id, view_hash = view.get("id"), view.get("hash")
    if switched is None or not isinstance(view_id, str):
        return
    try:
        await deps.client.views_update(
            view_id=view_id, hash=view_hash if isinstance(view_hash, str) else None, view=switched
        )
    except SlackApiError as exc:
        # A newer state of the modal won the race (hash_conflict) or it was closed: keep it.
        logger.info("confirmation not switched: %s", exc.response.get("error"))


async def run_action(
    deps: Deps,
    attempt_id: str,
    nonce: str,
    reason: str,
    interaction: Interaction,
    *,
    action: Action | None = None,
    attempt: Attempt | None = None,
) -> None:
    """After a confirmed submission: act, verify, and tell everyone the result.

    A request that needs approval stops at the claim: the modal says who decides, and the
    request is posted for them.
    """
    view_id = interaction.view_id

    async def show(view: dict[str, Any]) -> None:
        if view_id is None:
            return
        try:
            await deps.client.views_update(view_id=view_id, view=view)
        except SlackApiError as exc:
            # The user may have closed the modal; the channel message still carries the result.
            logger.info("modal update skipped: %s", exc.response.get("error"))

    async def accepted(attempt: Attempt) -> None:
        await show(blocks.verifying_modal(attempt))

    execution = await execute.execute(
        deps.attempts,
        attempt_id,
        nonce,
        reason,
        action=action,
        on_accepted=accepted,
        attempt=attempt,
    )
    if execution is None:
        return
    interaction.settled = execution.attempt.outcome.value
    _count(deps, execution.attempt)
    if execution.attempt.outcome is Outcome.AWAITING_APPROVAL:
        await _request_approval(deps, execution.attempt, show)
        return
    await asyncio.gather(show(blocks.result_modal(execution)), deps.delivery.announce(execution))


# -- approvals (§4.6) -------------------------------------------------------------------------


def _approval_of(deps: Deps, attempt: Attempt | None) -> Approval | None:
    rule = deps.attempts.policy().rule(attempt.rule if attempt is not None else None)
    return rule.approval if rule is not None else None


async def _request_approval(
    deps: Deps, attempt: Attempt, show: Callable[[dict[str, Any]], Awaitable[None]]
) -> None:
    """A request that needs approval: say so in the modal, post it for the approvers."""
    approval = _approval_of(deps, attempt)
    await show(blocks.awaiting_approval_modal(attempt, approval))
    ts = await deps.delivery.post_request(attempt, approval)
    if ts is not None:
        attempt = await approve.posted(deps.attempts, attempt.id, ts) or attempt
    await deps.delivery.mirror(attempt)


async def approve_request(
    deps: Deps, attempt_id: str, interaction: Interaction, *, request_ts: str | None = None
) -> None:
    """Approve clicked: count the approval; with enough of them, run the action."""
    decided = await approve.approve(
        deps.attempts, attempt_id, interaction.actor, request_ts=request_ts
    )
    attempt = decided.attempt
    approval = _approval_of(deps, attempt)
    if decided.verdict is not Verdict.APPROVED and decided.verdict is not Verdict.COUNTED:
        await _tell_clicker(deps, interaction, _refusal(decided, approval))
        return
    assert attempt is not None  # noqa: S101 - an approval always names its attempt
    if decided.verdict is Verdict.COUNTED:
        await deps.delivery.update_request(attempt, approval)
        return
    await deps.delivery.update_request(attempt, approval, note=blocks.approved_note(attempt))
    execution = await execute.run(deps.attempts, attempt)
    interaction.settled = execution.attempt.outcome.value
    _count(deps, execution.attempt)
    await deps.delivery.announce(execution)


async def open_rejection(deps: Deps, attempt_id: str, interaction: Interaction) -> None:
    """Reject clicked: a certain refusal is told at once, else the reason modal opens."""
    attempt = await deps.attempts.audit.get(attempt_id)
    approval = _approval_of(deps, attempt)
    if attempt is None or attempt.outcome is not Outcome.AWAITING_APPROVAL:
        await _tell_clicker(deps, interaction, blocks.request_settled_text(attempt))
        return
    check = approve.precheck(deps.attempts, attempt, interaction.actor)
    if not check.allowed:
        await _tell_clicker(deps, interaction, blocks.not_an_approver_text(check, approval))
        return
    try:
        await deps.client.views_open(
            trigger_id=interaction.trigger_id, view=blocks.reject_modal(attempt)
        )
    except SlackApiError as exc:
        logger.warning("reject modal not opened: %s", exc.response.get("error"))
        await _tell_clicker(deps, interaction, blocks.trigger_expired_text())


async def reject_request(
    deps: Deps, attempt_id: str, reason: str, interaction: Interaction
) -> None:
    """The rejection modal was submitted: settle the request and tell the requester."""
    decided = await approve.reject(deps.attempts, attempt_id, interaction.actor, reason)
    attempt = decided.attempt
    approval = _approval_of(deps, attempt)
    if decided.verdict is not Verdict.REJECTED or attempt is None:
        await deps.delivery.tell(
            user_id=interaction.actor.user_id,
            response_url=None,
            channel=attempt.channel_id if attempt is not None else None,
            text=_refusal(decided, approval),
        )
        return
    interaction.settled = attempt.outcome.value
    _count(deps, attempt)
    note = blocks.rejected_note(attempt, interaction.actor.user_id, reason)
    await deps.delivery.update_request(attempt, approval, note=note)
    await deps.delivery.tell_requester(attempt, note)
    await deps.delivery.mirror(attempt)


async def expire_overdue(deps: Deps) -> None:
    """The sweep: requests nobody decided in time expire, and their requesters are told."""
    for attempt in await approve.expire_overdue(deps.attempts):
        _count(deps, attempt)
        note = blocks.expired_note(attempt)
        await deps.delivery.update_request(attempt, _approval_of(deps, attempt), note=note)
        await deps.delivery.tell_requester(attempt, note)
        await deps.delivery.mirror(attempt)


def _refusal(decided: approve.Decided, approval: Approval | None) -> str:
    if decided.verdict is Verdict.NOT_ALLOWED and decided.check is not None:
        return blocks.not_an_approver_text(decided.check, approval)
    if decided.verdict is Verdict.ALREADY_YOURS:
        return blocks.already_approved_text()
    return blocks.request_settled_text(decided.attempt)


async def _tell_clicker(deps: Deps, interaction: Interaction, text: str) -> None:
    await deps.delivery.tell(
        user_id=interaction.actor.user_id,
        response_url=interaction.response_url,
        channel=interaction.where.channel_id,
        text=text,
    )


async def answer_approvals(deps: Deps, interaction: Interaction) -> None:
    """`/vs-terminate approvals`: what waits on the caller, and their own requests waiting."""
    decidable, mine = await approve.waiting_on(deps.attempts, interaction.actor)
    await _respond(deps, interaction, blocks.approvals_reply(decidable, mine))


async def record_denial(deps: Deps, request: AttemptRequest, decision: Decision) -> None:
    """A denial answered in the ack still goes into the audit trail and the mirror."""
    attempt = await confirm.record_denial(deps.attempts, request, decision)
    _count(deps, attempt)
    await deps.delivery.mirror(attempt)


async def deny_click(deps: Deps, request: AttemptRequest, decision: Decision) -> None:
    """A denied button click: record it and tell the clicking user privately."""
    await record_denial(deps, request, decision)
    await _tell(deps, request, blocks.denial_text(decision))


async def abandon(deps: Deps, attempt_id: str, nonce: str) -> None:
    """The modal was closed before submitting."""
    attempt = await upkeep.abandon(deps.attempts, attempt_id, nonce)
    if attempt is not None:
        _count(deps, attempt)


async def retry(deps: Deps, attempt_id: str, interaction: Interaction) -> None:
    """Retry button: a new attempt through all the same checks and a fresh modal."""
    failed = await deps.attempts.audit.get(attempt_id)
    request = (
        None
        if failed is None
        else upkeep.retry_request(
            failed,
            interaction.actor,
            interaction.where,
            interaction.request_id,
            interaction.response_url,
        )
    )
    if request is None:
        await deps.delivery.tell(
            user_id=interaction.actor.user_id,
            response_url=interaction.response_url,
            channel=interaction.where.channel_id,
            text=blocks.cannot_retry_text(),
        )
        return
    request = AttemptRequest(
        actor=request.actor,
        where=request.where,
        source=request.source,
        command=request.command,
        request_id=request.request_id,
        thread_ts=request.thread_ts or interaction.message_ts,
        response_url=interaction.response_url,
        message_channel=interaction.message_channel,
        message_ts=interaction.message_ts,
        received_at=interaction.received_at,
    )
    decision = confirm.precheck(
        deps.attempts,
        interaction.actor,
        interaction.where,
        request.command.pipeline,
        request.command.action,
    )
    if not decision.allowed:
        await deny_click(deps, request, decision)
        return
    if not deps.opening.try_enter():
        deps.metrics.shed_total.labels(reason="busy").inc()
        await _tell(deps, request, blocks.busy_text())
        return
    await open_confirmation(deps, request, interaction, reserved=True)


async def answer_status(deps: Deps, interaction: Interaction, command: StatusCommand) -> None:
    """`/vs-terminate status`: for users the policy lets act on that pipeline."""
    try:
        decisions, pipeline = await queries.can_act(
            deps.attempts, interaction.actor, interaction.where, command.pipeline
        )
        if not queries.may_act(decisions):
            reply = blocks.ephemeral(blocks.denial_text(decisions[Action.TERMINATE]))
        else:
            status = await queries.run_status(deps.attempts, pipeline, command.run_id)
            reply = blocks.status_reply(pipeline, command.run_id, status)
    except LookupFailedError as exc:
        reply = blocks.ephemeral(blocks.lookup_error_text(exc.blocker))
    await _respond(deps, interaction, reply)


async def answer_history(deps: Deps, interaction: Interaction, command: HistoryCommand) -> None:
    """`/vs-terminate history`: the last 10 attempts on pipelines the caller may act on."""
    try:
        attempts = await queries.history(
            deps.attempts, interaction.actor, interaction.where, command.pipeline, command.run_id
        )
        reply = blocks.history_reply(attempts)
    except LookupFailedError as exc:
        reply = blocks.ephemeral(blocks.lookup_error_text(exc.blocker))
    await _respond(deps, interaction, reply)


async def answer_can_i(deps: Deps, interaction: Interaction, command: CanICommand) -> None:
    """`/vs-terminate can-i`: allowed or not here, the deciding rule, and who could instead."""
    try:
        decisions, resolved = await queries.can_act(
            deps.attempts, interaction.actor, interaction.where, command.pipeline
        )
        reply = blocks.can_i_reply(decisions, resolved, interaction.where.channel_id)
    except LookupFailedError as exc:
        reply = blocks.ephemeral(blocks.lookup_error_text(exc.blocker))
    await _respond(deps, interaction, reply)


async def _respond(deps: Deps, interaction: Interaction, reply: dict[str, Any]) -> None:
    if interaction.response_url is not None:
        await deps.delivery.respond(interaction.response_url, reply)
