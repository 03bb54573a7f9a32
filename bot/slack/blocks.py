"""Pure Block Kit builders: every word and view a Slack user sees (SPEC §4.1–4.4).

Nothing here does I/O. Text that came from a user or an alerting tool (reasons, pipeline
names, alert text) is only ever placed in `plain_text` objects or escaped, so it cannot
mention `<!channel>` or inject links. Direct-message variants carry no buttons.
"""

from __future__ import annotations

import functools
import re
from datetime import UTC, datetime
from typing import Any

from bot.attempts.confirm import Blocker, Preparation, describe_status
from bot.attempts.execute import Execution, FailureReason
from bot.attempts.lifecycle import Attempt, Outcome
from bot.domain import Pipeline, RunState, RunStatus
from bot.policy import Decision, explain
from bot.slack import ids

Block = dict[str, Any]
View = dict[str, Any]

TITLE = "Terminate run"
USAGE = (
    "*Usage*\n"
    "• `/vs-terminate <pipeline> <run> [reason…]` — stop a run (asks for confirmation)\n"
    "• `/vs-terminate status <pipeline> <run>` — current status of a run\n"
    "• `/vs-terminate history [<pipeline> [<run>]]` — the last 10 attempts\n"
    "• `/vs-terminate can-i <pipeline>` — whether you may terminate it here, and why\n"
    "• `/vs-terminate help` — this message\n"
    "`<pipeline>` is a pipeline id, an alias from the policy file, or a name "
    '(quote it if it has spaces: `"Nightly ETL"`).\n'
    "*Examples*\n"
    "`/vs-terminate nightly-etl 65f2a0c0ffee0123456789ab stuck in a retry loop`\n"
    '`/vs-terminate "Nightly ETL" 65f2a0c0ffee0123456789ab`'
)


def escape(text: str) -> str:
    """Escape text for a mrkdwn field or a message's `text` fallback (Slack's three entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str, *, emoji: bool = False) -> dict[str, Any]:
    """A `plain_text` object (length capped at Slack's 3,000)."""
    return {"type": "plain_text", "text": text[:3000] or " ", "emoji": emoji}


def mrkdwn(text: str) -> dict[str, Any]:
    """A `mrkdwn` object for text the app wrote itself."""
    return {"type": "mrkdwn", "text": text[:3000]}


def _section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def _plain_section(text: str) -> Block:
    return {"type": "section", "text": plain(text)}


def _context(text: str) -> Block:
    return {"type": "context", "elements": [plain(text)]}


def _app_context(text: str) -> Block:
    """A context line the app wrote itself, with mentions (mrkdwn)."""
    return {"type": "context", "elements": [mrkdwn(text)]}


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pipeline_label(name: str | None, pipeline_id: str | None) -> str:
    if name and pipeline_id and name != pipeline_id:
        return f"{name} ({pipeline_id})"
    return name or pipeline_id or "unknown pipeline"


def attempt_pipeline(attempt: Attempt) -> str:
    """The pipeline of an attempt as people should read it: name and id."""
    return _pipeline_label(attempt.pipeline_name, attempt.pipeline_id or attempt.pipeline_ref)


# ---------------------------------------------------------------------------------------------
# Ephemeral replies (in the ack or via response_url)


@functools.cache
def help_reply() -> dict[str, Any]:
    """The `help` answer, as keyword arguments for `ack()` / `respond()` (built once; read-only)."""
    return {"response_type": "ephemeral", "text": USAGE, "blocks": [_section(USAGE)]}


def usage_error_reply(problem: str) -> dict[str, Any]:
    """A usage error: exactly what was wrong, then the usage."""
    head = f":warning: {escape(problem)}."
    return {
        "response_type": "ephemeral",
        "text": f"{head}\n{USAGE}",
        "blocks": [_section(head), _section(USAGE)],
    }


def ephemeral(text: str) -> dict[str, Any]:
    """A one-line ephemeral reply the app wrote (already safe mrkdwn)."""
    return {"response_type": "ephemeral", "text": text}


_SLACK_ID = re.compile(r"\b(?:[UW][A-Z0-9]{8,11}|S[A-Z0-9]{8,11}|C[A-Z0-9]{8,11})\b")


def _linked(text: str) -> str:
    """Escaped policy wording with Slack ids shown as mentions, so people see names."""

    def mention(match: re.Match[str]) -> str:
        slack_id = match.group(0)
        return f"<#{slack_id}>" if slack_id.startswith("C") else _mention(slack_id)

    return _SLACK_ID.sub(mention, escape(text))


def denial_text(decision: Decision) -> str:
    """Why a request is denied, with when to try again and who could do it instead."""
    lines = [f":no_entry: You may not terminate this run here. {_linked(decision.reason)}"]
    if decision.retry_at is not None:
        lines.append(f"You may try again after {_when(decision.retry_at)}.")
    if decision.who_could:
        people = ", ".join(_mention(who) for who in decision.who_could[:8])
        lines.append(f"Who can: {people}.")
    return "\n".join(lines)


def _mention(slack_id: str) -> str:
    if slack_id.startswith("S"):
        return f"<!subteam^{slack_id}>"
    return f"<@{slack_id}>"


def busy_text() -> str:
    """The answer under overload, instead of a modal that would open too late."""
    return ":hourglass: The bot is busy right now; try again in a moment."


def error_text(correlation_id: str) -> str:
    """What a user sees when something unexpected failed after the ack."""
    return (
        ":x: Something went wrong on the bot's side and nothing more will happen for this "
        f"request. Tell an admin the reference `{correlation_id}`."
    )


def after_result_error_text(outcome: str, correlation_id: str) -> str:
    """Something failed after the action was over: its outcome stands, only telling it failed."""
    return (
        f":warning: The action is over (outcome: *{escape(outcome)}*; the audit trail has it), "
        "but the bot could not tell everyone about it. "
        f"Tell an admin the reference `{correlation_id}`."
    )


def audit_failed_text(correlation_id: str) -> str:
    """The audit trail could not be written, so the bot did nothing (fail closed)."""
    return (
        ":x: The audit trail could not be written, so nothing was terminated. "
        f"Tell an admin the reference `{correlation_id}`."
    )


def cannot_retry_text() -> str:
    """Retry on an attempt that did not fail (or that is unknown)."""
    return ":information_source: That attempt cannot be retried."


def broken_button_text(problem: str) -> str:
    """A button whose value is not `<pipeline> <run>`."""
    return f":warning: This button is broken: {escape(problem)}."


def reason_required_text(attempt: Attempt) -> str:  # noqa: ARG001 - worded per action later
    """The reason block's error when the rule demands a reason and none was given."""
    return "A reason is required to terminate this pipeline."


def lookup_error_text(blocker: Blocker) -> str:
    """A read-only question VectorShift could not answer."""
    return ":warning: " + BLOCKER_WORDS[blocker]


def trigger_expired_text() -> str:
    """Slack refused to open the modal because the 3-second trigger window passed."""
    return (
        ":hourglass: Slack did not let the confirmation open in time. Nothing was terminated; "
        "please run the command again."
    )


def status_text(pipeline: Pipeline, run_id: str, status: RunStatus) -> str:
    """The `status` answer."""
    label = escape(_pipeline_label(pipeline.name, pipeline.id))
    words = {
        RunState.ACTIVE: "is running",
        RunState.FINISHED: "has finished",
        RunState.UNKNOWN: "is in a state the bot does not know",
        RunState.NOT_FOUND: "was not found for this key",
        RunState.UNAVAILABLE: "has no status available",
    }[status.state]
    detail = f" (`{escape(status.status)}`)" if status.status else ""
    return f"Run `{escape(run_id)}` of {label} {words}{detail}."


def history_text(attempts: list[Attempt]) -> str:
    """The `history` answer: newest first, outcome, who and when."""
    if not attempts:
        return "No termination attempts on pipelines you may terminate."
    lines = ["*Last termination attempts*"]
    for a in attempts:
        lines.append(
            f"• {_when(a.requested_at)} — <@{a.user_id}> — {escape(attempt_pipeline(a))} "
            f"run `{escape(a.run_id or '?')}` — *{a.outcome.value}*"
        )
    return "\n".join(lines)


def can_i_text(decision: Decision, pipeline: Pipeline, channel_id: str) -> str:
    """The `can-i` answer: allowed or not here, which rule decides, and who could instead."""
    label = escape(_pipeline_label(pipeline.name, pipeline.id))
    if decision.allowed:
        head = f":white_check_mark: You may terminate runs of {label} in <#{channel_id}>."
    else:
        head = f":no_entry: You may not terminate runs of {label} in <#{channel_id}>."
    return "\n".join([head, *(_linked(line) for line in explain(decision))])


# ---------------------------------------------------------------------------------------------
# The confirmation modal (§4.2)


def _modal(
    body: list[Block],
    *,
    submit: str | None = None,
    callback_id: str = ids.RESULT_CALLBACK,
    metadata: str = "",
    close: str = "Close",
) -> View:
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(TITLE),
        "close": plain(close),
        "notify_on_close": True,
        "private_metadata": metadata,
        "blocks": body,
    }
    if submit is not None:
        view["submit"] = plain(submit)
    return view


def loading_modal() -> View:
    """Opened at once inside the trigger window, while the details are fetched."""
    return _modal([_section(":hourglass_flowing_sand: Checking…")], close="Cancel")


def _details(attempt: Attempt, status: RunStatus | None) -> Block:
    shown = attempt.verified_status if status is None and attempt.verified_status else None
    return {
        "type": "section",
        "fields": [
            plain(f"Pipeline: {attempt_pipeline(attempt)}"),
            plain(f"Run: {attempt.run_id or '?'}"),
            plain(f"Run status: {shown or describe_status(status)}"),
            plain(f"Requested by: {attempt.user_name or attempt.user_id}"),
        ],
    }


def confirm_modal(prep: Preparation, metadata: str) -> View:
    """The details and the Terminate submit button (callback `vs_terminate_confirm`)."""
    attempt = prep.attempt
    unknown = prep.status is not None and prep.status.state is RunState.UNKNOWN
    body: list[Block] = [
        _section("*You are about to terminate this run.* It cannot be resumed."),
        _details(attempt, prep.status),
    ]
    if unknown:
        body.append(_context("VectorShift reports a status the bot does not know; shown verbatim."))
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.REASON_ACTION,
        "multiline": True,
        "max_length": 1000,
        "placeholder": plain("Why are you stopping it?"),
    }
    if attempt.reason:
        element["initial_value"] = attempt.reason
    body.append(
        {
            "type": "input",
            "block_id": ids.REASON_BLOCK,
            "optional": not prep.require_reason,
            "label": plain("Reason" + ("" if prep.require_reason else " (optional)")),
            "element": element,
        }
    )
    body.append(_context(f"Attempt {attempt.id}"))
    return _modal(
        body,
        submit="Terminate",
        callback_id=ids.CONFIRM_CALLBACK,
        metadata=metadata,
        close="Cancel",
    )


BLOCKER_WORDS = {
    Blocker.PIPELINE_NOT_FOUND: "No such pipeline for this key: it is not an alias in the policy "
    "file, a pipeline name, or a pipeline id VectorShift knows.",
    Blocker.RUN_NOT_FOUND: "VectorShift does not know this run for this pipeline and key.",
    Blocker.ALREADY_FINISHED: "The run has already finished; there is nothing to terminate.",
    Blocker.BAD_KEY: "The bot's VectorShift key was rejected; tell an admin.",
    Blocker.LOOKUP_FAILED: "VectorShift could not be asked about this pipeline right now; "
    "try again in a moment.",
}


def blocked_text(prep: Preparation) -> str:
    """Why the confirmation cannot go ahead, as plain words (app-written mrkdwn)."""
    if prep.blocker is Blocker.DENIED and prep.decision is not None:
        return denial_text(prep.decision)
    if prep.blocker is Blocker.DUPLICATE and prep.holder is not None:
        return duplicate_text(prep.holder)
    words = BLOCKER_WORDS.get(prep.blocker or Blocker.LOOKUP_FAILED, "")
    if prep.blocker is Blocker.ALREADY_FINISHED and prep.status is not None:
        words = f"The run has already finished (`{escape(describe_status(prep.status))}`); "
        words += "there is nothing to terminate."
    return f":information_source: {words}"


def duplicate_text(holder: Attempt) -> str:
    """Someone else's attempt is in flight or succeeded for this run."""
    verb = "terminated" if holder.outcome is Outcome.SUCCEEDED else "being terminated"
    return (
        f":information_source: This run is already {verb} by <@{holder.user_id}> "
        f"(since {_when(holder.requested_at)}, attempt {holder.id})."
    )


def blocked_modal(prep: Preparation) -> View:
    """The reason a confirmation cannot go ahead; no Terminate button."""
    return _modal(
        [
            _section(blocked_text(prep)),
            _details(prep.attempt, prep.status),
            _context(f"Attempt {prep.attempt.id}"),
        ]
    )


def working_modal(attempt: Attempt | None = None) -> View:
    """Shown from the submission's ack until the result is known."""
    body = [_section(":hourglass_flowing_sand: Terminating…")]
    if attempt is not None:
        body.append(_context(f"Attempt {attempt.id}"))
    return _modal(body)


def verifying_modal(attempt: Attempt) -> View:
    """VectorShift accepted the call; the app is polling until the run is seen stopped."""
    return _modal(
        [
            _section(
                ":hourglass_flowing_sand: VectorShift accepted the request. Verifying that "
                "the run stopped…"
            ),
            _context(f"Pipeline: {attempt_pipeline(attempt)} · Run: {attempt.run_id or '?'}"),
            _context(f"Attempt {attempt.id}"),
        ]
    )


def stale_modal() -> View:
    """A submission of a confirmation that was already used or has expired."""
    return _modal(
        [
            _section(
                ":information_source: This confirmation was already submitted or has "
                "expired. Nothing more was done."
            )
        ]
    )


def error_modal(correlation_id: str) -> View:
    """An unexpected failure after the ack, with its correlation id."""
    return _modal([_section(error_text(correlation_id))])


def audit_failed_modal(correlation_id: str) -> View:
    """The audit write failed, so nothing was done (in place of "Checking…" or "Terminating…")."""
    return _modal([_section(audit_failed_text(correlation_id))])


def result_modal(execution: Execution) -> View:
    """The modal once the attempt is over."""
    attempt = execution.attempt
    return _modal(
        [
            _section(f"{_icon(attempt.outcome)} {outcome_words(execution)}"),
            _details(attempt, None),
            _context(f"Attempt {attempt.id}"),
        ]
    )


# ---------------------------------------------------------------------------------------------
# Results in the channel (§4.3)


FAILURE_WORDS = {
    FailureReason.BAD_KEY: "the bot's VectorShift key was rejected; tell an admin",
    FailureReason.NOT_FOUND: "pipeline or run not found for this key",
    FailureReason.RATE_LIMITED: "VectorShift is rate-limiting the bot; try again in a minute",
    FailureReason.REJECTED: "VectorShift refused to terminate the run",
    FailureReason.SERVER_ERROR: "VectorShift had an internal error; the run was not terminated",
    FailureReason.UNREACHABLE: "VectorShift could not be reached; the run was not terminated",
}


def _icon(outcome: Outcome) -> str:
    return {
        Outcome.SUCCEEDED: ":white_check_mark:",
        Outcome.UNCONFIRMED: ":warning:",
        Outcome.FAILED: ":x:",
        Outcome.DENIED: ":no_entry:",
        Outcome.ALREADY_FINISHED: ":information_source:",
        Outcome.DUPLICATE: ":information_source:",
        Outcome.ABANDONED: ":heavy_minus_sign:",
    }.get(outcome, ":hourglass_flowing_sand:")


def outcome_words(execution: Execution) -> str:
    """The outcome of an attempt in plain words (§4.3)."""
    attempt, failure = execution.attempt, execution.failure
    verified = attempt.verified_status or "unknown"
    if attempt.outcome is Outcome.SUCCEEDED:
        return f"Terminated — verified {verified}."
    if attempt.outcome is Outcome.ALREADY_FINISHED:
        return f"The run had already finished ({verified}); nothing was terminated."
    if attempt.outcome is Outcome.DUPLICATE:
        if execution.holder is not None:
            return duplicate_text(execution.holder).removeprefix(":information_source: ")
        return f"Not sent: {attempt.error or 'another attempt is in flight'}."
    if attempt.outcome is Outcome.DENIED:
        if execution.decision is not None:
            return denial_text(execution.decision).removeprefix(":no_entry: ")
        return f"Denied: {escape(attempt.error or 'not allowed')}."
    if failure is FailureReason.TIMEOUT:
        return (
            f"VectorShift did not answer within {round(execution.waited_s, 1):g} s; the run may "
            f"or may not have stopped — check status (last seen: {verified})."
        )
    if failure is FailureReason.STILL_ACTIVE:
        return (
            f"VectorShift accepted the request, but the run is {verified} after verification; "
            "check status."
        )
    if failure is FailureReason.RESTARTED:
        return f"The bot restarted during this termination; the run is {verified}; check status."
    words = FAILURE_WORDS.get(failure or FailureReason.SERVER_ERROR, "the termination failed")
    if failure is FailureReason.REJECTED and attempt.error:
        words += f": {escape(attempt.error.partition(': ')[2] or attempt.error)}"
    if attempt.http_status:
        words += f" (HTTP {attempt.http_status})"
    return f"Failed: {words}."


def _result_fields(attempt: Attempt) -> Block:
    return {
        "type": "section",
        "fields": [
            plain(f"Pipeline: {attempt_pipeline(attempt)}"),
            plain(f"Run: {attempt.run_id or '?'}"),
            plain(f"Reason: {attempt.reason or '(none given)'}"),
            plain(f"Outcome: {attempt.outcome.value}"),
        ],
    }


def result_message(execution: Execution, *, buttons: bool = True) -> tuple[str, list[Block]]:
    """The channel message for an attempt that reached the API: text fallback and blocks.

    Args:
        execution: the finished attempt.
        buttons: False for DM fallbacks, which carry no action buttons.
    """
    attempt = execution.attempt
    who = f"<@{attempt.user_id}>"
    headline = (
        f"{_icon(attempt.outcome)} {who} asked to terminate run `{escape(attempt.run_id or '?')}`"
    )
    headline += f" of {escape(attempt_pipeline(attempt))}"
    words = outcome_words(execution)
    text = (
        f"{headline}. {words} Reason: {escape(attempt.reason or '(none given)')}. "
        f"Attempt {attempt.id}."
    )
    blocks: list[Block] = [
        _section(f"{headline}.\n{words}"),
        _result_fields(attempt),
        _context(f"Attempt {attempt.id}"),
    ]
    if buttons and attempt.outcome in {Outcome.FAILED, Outcome.UNCONFIRMED}:
        blocks.append(
            {
                "type": "actions",
                "block_id": "vs_terminate_retry_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": ids.RETRY_ACTION,
                        "text": plain("Retry"),
                        "value": attempt.id,
                    }
                ],
            }
        )
    return text, blocks


def audit_line(attempt: Attempt, permalink: str | None) -> str:
    """One compact line for the audit channel mirror."""
    parts = [
        f"{_icon(attempt.outcome)} *{attempt.outcome.value}*",
        f"<@{attempt.user_id}>",
        f"{escape(attempt_pipeline(attempt))} run `{escape(attempt.run_id or '?')}`",
    ]
    if attempt.channel_id:
        parts.append(f"in <#{attempt.channel_id}>")
    if attempt.rule:
        parts.append(f"rule {escape(attempt.rule)}")
    if attempt.error and attempt.outcome is not Outcome.SUCCEEDED:
        parts.append(escape(attempt.error[:150]))
    parts.append(f"attempt {attempt.id}")
    line = " · ".join(parts)
    return f"{line} · <{permalink}|message>" if permalink else line


def chain_head_line(count: int, head: str | None) -> str:
    """The periodic audit-chain checkpoint posted to the audit channel."""
    return f":link: Audit chain checkpoint: {count} events, head `{head or 'empty'}`."


# ---------------------------------------------------------------------------------------------
# Alerts (§4.4)


def alert_message(
    *, text: str, pipeline: str, run_id: str, button_value: str
) -> tuple[str, list[Block]]:
    """An alert with a Terminate button; `text` is rendered as plain text."""
    fallback = f"Alert: {escape(text)} (pipeline {escape(pipeline)}, run {escape(run_id)})"
    return fallback, [
        _plain_section(text),
        _context(f"Pipeline: {pipeline} · Run: {run_id}"),
        {
            "type": "actions",
            "block_id": "vs_terminate_actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": ids.TERMINATE_ACTION,
                    "style": "danger",
                    "text": plain("Terminate"),
                    "value": button_value,
                }
            ],
        },
    ]


def finished_alert(
    original_blocks: list[Block], fallback: str, attempt: Attempt
) -> tuple[str, list[Block]]:
    """The alert after a termination: buttons replaced by the outcome, who did it and when."""
    kept = [b for b in original_blocks if b.get("type") != "actions"]
    note = (
        f"{_icon(attempt.outcome)} *{attempt.outcome.value}* — <@{attempt.user_id}> at "
        f"{_when(attempt.completed_at or attempt.requested_at)} (attempt {attempt.id})"
    )
    return f"{fallback} — {attempt.outcome.value}", [*kept, _section(note)]


def retried_message(
    original_blocks: list[Block], fallback: str, attempt: Attempt
) -> tuple[str, list[Block]]:
    """A failure message whose Retry was taken: the button goes, the new attempt is named."""
    kept = [b for b in original_blocks if b.get("type") != "actions"]
    note = f"Retried by <@{attempt.user_id}> (attempt {attempt.id})."
    return fallback, [*kept, _app_context(note)]
