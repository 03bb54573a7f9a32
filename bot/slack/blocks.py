"""Pure Block Kit builders: every word and view a Slack user sees (SPEC §4.1–4.4, §7).

Nothing here does I/O, and every payload the bot sends is built here, so Slack's limits are
kept in one place: text objects 3,000 characters, section fields 2,000 (at most 10), header
150, button text 75 and value 2,000, `private_metadata` 3,000, 50 blocks per message and 100
per modal. Longer text is cut visibly with "…"; the audit keeps it whole.

Text that came from a user, an alerting tool or VectorShift (pipeline names, reasons, alert
text, run statuses, error messages) never renders as live mrkdwn: it goes into `plain_text`
objects, and where a mrkdwn string cannot be avoided (a message's `text` fallback) it is
`neutral`-ised, so it can neither mention `<!channel>`, link, nor format (`*bold*`, `_italic_`,
`~strike~`, `` `code` ``). `mrkdwn` objects carry only what the app wrote: its own words,
mentions of Slack ids, ids validated by the grammar, policy text an admin wrote, and an alert's
one link back to its source (an http(s) URL, entity-escaped). Direct messages carry no buttons.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Final

from bot.attempts.confirm import Blocker, Preparation, describe_status
from bot.attempts.execute import Execution, FailureReason
from bot.attempts.lifecycle import Attempt, Outcome
from bot.domain import Action, Alert, Pipeline, RunState, RunStatus
from bot.policy import Approval, ApproverCheck, Decision, explain
from bot.slack import ids

Block = dict[str, Any]
View = dict[str, Any]
Reply = dict[str, Any]

# -- Slack's limits (SPEC §7), enforced by the helpers below -------------------------------------

TEXT_MAX: Final = 3000
FIELD_MAX: Final = 2000
FIELDS_MAX: Final = 10
HEADER_MAX: Final = 150
BUTTON_TEXT_MAX: Final = 75
BUTTON_VALUE_MAX: Final = 2000
METADATA_MAX: Final = 3000
MESSAGE_BLOCKS_MAX: Final = 50
MODAL_BLOCKS_MAX: Final = 100
CONTEXT_ELEMENTS_MAX: Final = 10
TITLE_MAX: Final = 24
ELLIPSIS: Final = "…"

TITLE = "Terminate run"
TITLES: Final = {
    Action.TERMINATE: "Terminate run",
    Action.PAUSE: "Pause run",
    Action.RESUME: "Resume run",
}
USAGE = (
    "*Usage*\n"
    "• `/vs-terminate <pipeline> <run> [reason…]` — stop a run for good (asks for confirmation)\n"
    "• `/vs-terminate pause <pipeline> <run> [reason…]` — stop a run where it is; it can be "
    "resumed\n"
    "• `/vs-terminate resume <pipeline> <run> [reason…]` — carry on a paused run\n"
    "• `/vs-terminate status <pipeline> <run>` — current status of a run\n"
    "• `/vs-terminate history [<pipeline> [<run>]]` — the last 10 attempts\n"
    "• `/vs-terminate can-i <pipeline>` — what you may do to its runs here, and why\n"
    "• `/vs-terminate approvals` — requests waiting for your approval, and yours waiting\n"
    "• `/vs-terminate help` — this message\n"
    "`<pipeline>` is a pipeline id, an alias from the policy file, or a name "
    '(quote it if it has spaces: `"Nightly ETL"`).\n'
    "*Examples*\n"
    "`/vs-terminate nightly-etl 65f2a0c0ffee0123456789ab stuck in a retry loop`\n"
    "`/vs-terminate pause nightly-etl 65f2a0c0ffee0123456789ab looks wrong, checking`\n"
    '`/vs-terminate "Nightly ETL" 65f2a0c0ffee0123456789ab`'
)


def cut(text: str, limit: int) -> str:
    """`text`, or its first `limit - 1` characters and "…" when it is longer."""
    return text if len(text) <= limit else text[: limit - 1] + ELLIPSIS


def escape(text: str) -> str:
    """Escape text for a mrkdwn field or a message's `text` fallback (Slack's three entities)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


_MARKERS: Final = str.maketrans({"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"})
"""Slack's formatting markers and look-alikes that format nothing."""


def neutral(text: str) -> str:
    """User or external text made inert inside mrkdwn: no mentions, links or formatting."""
    return escape(text).translate(_MARKERS)


def plain(text: str, *, emoji: bool = False, limit: int = TEXT_MAX) -> dict[str, Any]:
    """A `plain_text` object, cut visibly at `limit`."""
    return {"type": "plain_text", "text": cut(text, limit) or " ", "emoji": emoji}


def mrkdwn(text: str) -> dict[str, Any]:
    """A `mrkdwn` object for text the app wrote itself, cut visibly at Slack's limit."""
    return {"type": "mrkdwn", "text": cut(text, TEXT_MAX) or " "}


def field(text: str) -> dict[str, Any]:
    """A section field: plain text, cut at the field limit (2,000, not 3,000)."""
    return plain(text, limit=FIELD_MAX)


def _section(text: str) -> Block:
    return {"type": "section", "text": mrkdwn(text)}


def _plain_section(text: str, *, emoji: bool = False) -> Block:
    return {"type": "section", "text": plain(text, emoji=emoji)}


def _fields(*texts: str) -> Block:
    return {"type": "section", "fields": [field(t) for t in texts[:FIELDS_MAX]]}


def _context(*elements: dict[str, Any]) -> Block:
    return {"type": "context", "elements": list(elements[:CONTEXT_ELEMENTS_MAX])}


def _plain_context(text: str) -> Block:
    return _context(plain(text))


def _button(label: str, action_id: str, value: str, *, style: str | None = None) -> Block:
    if len(value) > BUTTON_VALUE_MAX:
        # Values are ids and the command grammar, both bounded far below this.
        raise ValueError(f"button value longer than {BUTTON_VALUE_MAX} characters")
    button: Block = {
        "type": "button",
        "action_id": action_id,
        "text": plain(label, limit=BUTTON_TEXT_MAX),
        "value": value,
    }
    if style is not None:
        button["style"] = style
    return button


RICH_TEXT_MAX: Final = 2000
"""What one quoted value may take of a `rich_text` line (its text elements are shown verbatim)."""


def _rich(*lines: list[dict[str, Any]], bullets: bool = False) -> Block:
    """A `rich_text` block: its text elements are literal, so quoted values sit next to mentions.

    Args:
        lines: each line's elements (from `_t`, `_user`, `_channel`, `_emoji`, `_link`).
        bullets: show the lines as a bulleted list.
    """
    sections = [{"type": "rich_text_section", "elements": line} for line in lines]
    if bullets:
        return {
            "type": "rich_text",
            "elements": [{"type": "rich_text_list", "style": "bullet", "elements": sections}],
        }
    return {"type": "rich_text", "elements": sections}


def _t(text: str, *, bold: bool = False, code: bool = False) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "text", "text": cut(text, RICH_TEXT_MAX) or " "}
    style = {k: True for k, on in (("bold", bold), ("code", code)) if on}
    if style:
        element["style"] = style
    return element


def _user(user_id: str) -> dict[str, Any]:
    return {"type": "user", "user_id": user_id}


def _channel(channel_id: str) -> dict[str, Any]:
    return {"type": "channel", "channel_id": channel_id}


def _emoji(shortcode: str) -> dict[str, Any]:
    return {"type": "emoji", "name": shortcode.strip(":")}


def _link(url: str, text: str) -> dict[str, Any]:
    return {"type": "link", "url": url, "text": text}


def _message(text: str, body: list[Block]) -> tuple[str, list[Block]]:
    """A message's text fallback and blocks within Slack's limits (the last block is kept)."""
    if len(body) > MESSAGE_BLOCKS_MAX:
        body = [*body[: MESSAGE_BLOCKS_MAX - 1], body[-1]]
    return cut(text, TEXT_MAX), body


def _when(moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _pipeline_label(name: str | None, pipeline_id: str | None) -> str:
    if name and pipeline_id and name != pipeline_id:
        return f"{name} ({pipeline_id})"
    return name or pipeline_id or "unknown pipeline"


def attempt_pipeline(attempt: Attempt) -> str:
    """The pipeline of an attempt as people should read it: name and id (raw: quote it)."""
    return _pipeline_label(attempt.pipeline_name, attempt.pipeline_id or attempt.pipeline_ref)


VERB: Final = {Action.TERMINATE: "terminate", Action.PAUSE: "pause", Action.RESUME: "resume"}
DONE: Final = {Action.TERMINATE: "Terminated", Action.PAUSE: "Paused", Action.RESUME: "Resumed"}
PAST: Final = {Action.TERMINATE: "terminated", Action.PAUSE: "paused", Action.RESUME: "resumed"}
WORKING: Final = {
    Action.TERMINATE: "Terminating…",
    Action.PAUSE: "Pausing…",
    Action.RESUME: "Resuming…",
}
MEANING: Final = {
    Action.TERMINATE: "It cannot be undone.",
    Action.PAUSE: "It stops where it is; it can be resumed.",
    Action.RESUME: "It carries on from where it was paused.",
}
"""What each action means, said in the modal before anyone confirms (SPEC §4.5)."""
TARGET: Final = {
    Action.TERMINATE: "the run stopped",
    Action.PAUSE: "the run is paused",
    Action.RESUME: "the run is running again",
}
MAYBE: Final = {
    Action.TERMINATE: "have stopped",
    Action.PAUSE: "be paused",
    Action.RESUME: "be running again",
}
CHOICES: Final = (Action.TERMINATE, Action.PAUSE)
"""The actions a confirmation may switch between before it is submitted."""
BUTTON_OF: Final = {
    Action.TERMINATE: ids.TERMINATE_ACTION,
    Action.PAUSE: ids.PAUSE_ACTION,
    Action.RESUME: ids.RESUME_ACTION,
}


# ---------------------------------------------------------------------------------------------
# Ephemeral replies (in the ack or via response_url)


@functools.cache
def help_reply() -> Reply:
    """The `help` answer, as keyword arguments for `ack()` / `respond()` (built once; read-only)."""
    return {"response_type": "ephemeral", "text": USAGE, "blocks": [_section(USAGE)]}


def usage_error_reply(problem: str) -> Reply:
    """A usage error: exactly what was wrong, then the usage.

    The problem quotes typed text only inside a code span, with backticks taken out by the
    parser, so it formats nothing.
    """
    head = f":warning: {escape(problem)}."
    return {
        "response_type": "ephemeral",
        "text": cut(f"{head}\n{USAGE}", TEXT_MAX),
        "blocks": [_section(head), _section(USAGE)],
    }


def ephemeral(text: str) -> Reply:
    """A one-line ephemeral reply the app wrote (already safe mrkdwn)."""
    return {"response_type": "ephemeral", "text": cut(text, TEXT_MAX)}


def _ephemeral(text: str, body: list[Block]) -> Reply:
    fallback, shown = _message(text, body)
    return {"response_type": "ephemeral", "text": fallback, "blocks": shown}


_SLACK_ID = re.compile(r"\b(?:[UW][A-Z0-9]{8,11}|S[A-Z0-9]{8,11}|C[A-Z0-9]{8,11})\b")


def _linked(text: str) -> str:
    """Escaped policy wording with Slack ids shown as mentions, so people see names."""

    def mention(match: re.Match[str]) -> str:
        slack_id = match.group(0)
        return f"<#{slack_id}>" if slack_id.startswith("C") else _mention(slack_id)

    return _SLACK_ID.sub(mention, escape(text))


def denial_text(decision: Decision) -> str:
    """Why a request is denied, with when to try again and who could do it instead."""
    verb = VERB[decision.action]
    lines = [f":no_entry: You may not {verb} this run here. {_linked(decision.reason)}"]
    if decision.retry_at is not None:
        lines.append(f"You may try again after {_when(decision.retry_at)}.")
    if decision.who_could:
        people = ", ".join(_mention(who) for who in decision.who_could[:8])
        lines.append(f"Who can: {people}.")
    if decision.approval is not None:
        lines.append(
            f"Rule {escape(decision.approval.rule)} also needs approval from "
            f"{_approvers_text(decision.approval)}."
        )
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
        ":x: The audit trail could not be written, so nothing was done to the run. "
        f"Tell an admin the reference `{correlation_id}`."
    )


def cannot_retry_text() -> str:
    """Retry on an attempt that did not fail (or that is unknown)."""
    return ":information_source: That attempt cannot be retried."


def broken_button_text(problem: str) -> str:
    """A button whose value is not `<pipeline> <run>`."""
    return f":warning: This button is broken: {escape(problem)}."


def reason_required_text(attempt: Attempt) -> str:
    """The reason block's error when the rule demands a reason and none was given."""
    return f"A reason is required to {VERB[attempt.action]} this pipeline."


def lookup_error_text(blocker: Blocker) -> str:
    """A read-only question VectorShift could not answer."""
    return ":warning: " + BLOCKER_WORDS[blocker]


def trigger_expired_text() -> str:
    """Slack refused to open the modal because the 3-second trigger window passed."""
    return (
        ":hourglass: Slack did not let the confirmation open in time. Nothing was done to the "
        "run; please run the command again."
    )


_STATE_WORDS: Final = {
    RunState.ACTIVE: "is running",
    RunState.FINISHED: "has finished",
    RunState.UNKNOWN: "is in a state the bot does not know",
    RunState.NOT_FOUND: "was not found for this key",
    RunState.UNAVAILABLE: "has no status available",
}


def status_reply(pipeline: Pipeline, run_id: str, status: RunStatus) -> Reply:
    """The `status` answer: the pipeline's name and VectorShift's status as plain text."""
    label = _pipeline_label(pipeline.name, pipeline.id)
    words = _STATE_WORDS[status.state]
    fallback_detail = f" (`{neutral(status.status)}`)" if status.status else ""
    line = [_t("Run "), _t(run_id, code=True), _t(f" of {label} {words}")]
    if status.status:
        line += [_t(" ("), _t(status.status, code=True), _t(")")]
    return _ephemeral(
        f"Run `{run_id}` of {neutral(label)} {words}{fallback_detail}.", [_rich([*line, _t(".")])]
    )


def history_reply(attempts: list[Attempt]) -> Reply:
    """The `history` answer: newest first; outcome, who and when, the pipeline as plain text."""
    if not attempts:
        return _ephemeral(
            "No attempts on pipelines you may act on.",
            [_section("No attempts on pipelines you may act on.")],
        )
    lines = ["*Last attempts*"]
    rows = []
    for a in attempts:
        run = a.run_id or "?"
        lines.append(
            f"• {_when(a.requested_at)} — <@{a.user_id}> — {VERB[a.action]} "
            f"{neutral(attempt_pipeline(a))} run `{run}` — *{a.outcome.value}*"
        )
        row = [
            _t(f"{_when(a.requested_at)} — "),
            _user(a.user_id),
            _t(f" — {VERB[a.action]} {attempt_pipeline(a)} run "),
            _t(run, code=True),
            _t(" — "),
            _t(a.outcome.value, bold=True),
        ]
        if a.approvers:
            lines[-1] += " (approved by " + ", ".join(f"<@{u}>" for u in a.approvers)
            lines[-1] += f" at {_when(a.approved_at)})"
            row.append(_t(" (approved by "))
            for i, approver in enumerate(a.approvers):
                row += [_t(", ")] if i else []
                row.append(_user(approver))
            row.append(_t(f" at {_when(a.approved_at)})"))
        rows.append(row)
    return _ephemeral("\n".join(lines), [_section("*Last attempts*"), _rich(*rows, bullets=True)])


def can_i_reply(decisions: Mapping[Action, Decision], pipeline: Pipeline, channel_id: str) -> Reply:
    """The `can-i` answer: which actions are allowed here, which rule decides, who could instead.

    Args:
        decisions: the decision for each action (terminate, pause, resume).
        pipeline: the resolved pipeline.
        channel_id: where the question was asked.
    """
    label = _pipeline_label(pipeline.name, pipeline.id)
    allowed = [a for a in (Action.PAUSE, Action.RESUME, Action.TERMINATE) if decisions[a].allowed]
    if allowed:
        icon = ":white_check_mark:"
        head = f"You may {_listed([VERB[a] for a in allowed])} runs of"
    else:
        icon, head = ":no_entry:", "You may not terminate, pause or resume runs of"
    # The terminate decision explains the rule; another action's, when only that is allowed.
    shown = decisions[Action.TERMINATE]
    if not shown.allowed and allowed:
        shown = decisions[allowed[0]]
    explained = "\n".join(_linked(line) for line in explain(shown))
    denied = [a for a in Action if not decisions[a].allowed and allowed]
    if denied:
        explained += "\n" + "\n".join(
            f"Not {VERB[a]}: {_linked(decisions[a].reason)}" for a in denied
        )
    return _ephemeral(
        f"{icon} {head} {neutral(label)} in <#{channel_id}>.\n{explained}",
        [
            _rich([_emoji(icon), _t(f" {head} {label} in "), _channel(channel_id), _t(".")]),
            _section(explained),
        ],
    )


def _listed(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


# ---------------------------------------------------------------------------------------------
# The confirmation modal (§4.2)


def _modal(
    body: list[Block],
    *,
    submit: str | None = None,
    callback_id: str = ids.RESULT_CALLBACK,
    metadata: str = "",
    close: str = "Close",
    title: str = TITLE,
) -> View:
    if len(metadata) > METADATA_MAX:
        raise ValueError("private_metadata holds an attempt id and a nonce, nothing longer")
    view: View = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title, limit=TITLE_MAX),
        "close": plain(close, limit=TITLE_MAX),
        "notify_on_close": True,
        "private_metadata": metadata,
        "blocks": body[:MODAL_BLOCKS_MAX],
    }
    if submit is not None:
        view["submit"] = plain(submit, limit=TITLE_MAX)
    return view


def loading_modal() -> View:
    """Opened at once inside the trigger window, while the details are fetched."""
    return _modal([_section(":hourglass_flowing_sand: Checking…")], close="Cancel")


def _details(attempt: Attempt, status: RunStatus | None) -> Block:
    shown = attempt.verified_status if status is None and attempt.verified_status else None
    return _fields(
        f"Pipeline: {attempt_pipeline(attempt)}",
        f"Run: {attempt.run_id or '?'}",
        f"Run status: {shown or describe_status(status)}",
        f"Requested by: {attempt.user_name or attempt.user_id}",
    )


def _explanation(action: Action) -> Block:
    return _section(f"*You are about to {VERB[action]} this run.* {MEANING[action]}")


def _choice(action: Action) -> Block:
    """The terminate/pause radio: a terminate can become a pause before it is submitted."""
    options = [
        {
            "text": plain(f"{VERB[a].capitalize()} — {MEANING[a]}", limit=75),
            "value": a.value,
        }
        for a in CHOICES
    ]
    return {
        "type": "actions",
        "block_id": ids.ACTION_CHOICE_BLOCK,
        "elements": [
            {
                "type": "radio_buttons",
                "action_id": ids.ACTION_CHOICE,
                "options": options,
                "initial_option": options[CHOICES.index(action)],
            }
        ],
    }


def confirm_modal(prep: Preparation, metadata: str) -> View:
    """The details and the action's submit button (callback `vs_terminate_confirm`).

    It says plainly what the action does; a terminate or a pause offers the other one.
    """
    attempt = prep.attempt
    action = attempt.action
    unknown = prep.status is not None and prep.status.state is RunState.UNKNOWN
    body: list[Block] = [_explanation(action)]
    if action in CHOICES:
        body.append(_choice(action))
    body.append(_details(attempt, prep.status))
    if unknown:
        body.append(
            _plain_context("VectorShift reports a status the bot does not know; shown verbatim.")
        )
    element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": ids.REASON_ACTION,
        "multiline": True,
        "max_length": 1000,
        "placeholder": plain(f"Why {VERB[action]} it?", limit=150),
    }
    if attempt.reason:
        element["initial_value"] = cut(attempt.reason, 1000)
    body.append(
        {
            "type": "input",
            "block_id": ids.REASON_BLOCK,
            "optional": not prep.require_reason,
            "label": plain("Reason" + ("" if prep.require_reason else " (optional)")),
            "element": element,
        }
    )
    if prep.decision is not None and prep.decision.approval is not None:
        body.insert(-1, approval_note(prep.decision.approval, action))
    body.append(_plain_context(f"Attempt {attempt.id}"))
    return _modal(
        body,
        submit=VERB[action].capitalize(),
        callback_id=ids.CONFIRM_CALLBACK,
        metadata=metadata,
        close="Cancel",
        title=TITLES[action],
    )


APPROVAL_NOTE_BLOCK: Final = "vs_approval_note"


def approval_note(approval: Approval, action: Action) -> Block:
    """In the confirmation: submitting asks the approvers; nothing is done until they agree."""
    return {
        "type": "section",
        "block_id": APPROVAL_NOTE_BLOCK,
        "text": mrkdwn(
            f":raised_hand: To {VERB[action]} runs of this pipeline here you need approval from "
            f"{_approvers_text(approval)}. Submitting asks them; nothing is done until they agree."
        ),
    }


def switched_modal(
    view: Mapping[str, Any], action: Action, approval: Approval | None = None
) -> View | None:
    """The open confirmation, switched to `action` (terminate ↔ pause) by its radio buttons.

    Built from the view Slack sent with the click: the details, reason and metadata stay as
    they are; the explanation, title and submit button follow the choice. None when the view
    is not a confirmation that can switch (a forged or stale click).
    """
    blocks_ = view.get("blocks")
    if view.get("callback_id") != ids.CONFIRM_CALLBACK or not isinstance(blocks_, list):
        return None
    if action not in CHOICES or not blocks_:
        return None
    kept = [b for b in blocks_ if isinstance(b, dict)]
    if len(kept) != len(blocks_) or kept[0].get("type") != "section":
        return None
    rest = [b for b in kept[1:] if b.get("block_id") != APPROVAL_NOTE_BLOCK]
    body = [_explanation(action), *rest]
    for block in body:
        if block.get("block_id") == ids.ACTION_CHOICE_BLOCK:
            body[body.index(block)] = _choice(action)
    if approval is not None:
        reason = [i for i, b in enumerate(body) if b.get("block_id") == ids.REASON_BLOCK]
        body.insert(reason[0] if reason else len(body), approval_note(approval, action))
    metadata = view.get("private_metadata")
    return _modal(
        body,
        submit=VERB[action].capitalize(),
        callback_id=ids.CONFIRM_CALLBACK,
        metadata=metadata if isinstance(metadata, str) else "",
        close="Cancel",
        title=TITLES[action],
    )


BLOCKER_WORDS = {
    Blocker.ALREADY_PAUSED: "The run is already paused; resume or terminate it instead.",
    Blocker.NOT_PAUSED: "The run is not paused; there is nothing to resume.",
    Blocker.PIPELINE_NOT_FOUND: "No such pipeline for this key: it is not an alias in the policy "
    "file, a pipeline name, or a pipeline id VectorShift knows.",
    Blocker.RUN_NOT_FOUND: "VectorShift does not know this run for this pipeline and key.",
    Blocker.ALREADY_FINISHED: "The run has already finished; there is nothing to terminate.",
    Blocker.BAD_KEY: "The bot's VectorShift key was rejected; tell an admin.",
    Blocker.LOOKUP_FAILED: "VectorShift could not be asked about this pipeline right now; "
    "try again in a moment.",
}


def _blocked_block(prep: Preparation) -> Block:
    """Why the confirmation cannot go ahead (mrkdwn only where the words are the app's)."""
    if prep.blocker is Blocker.DENIED and prep.decision is not None:
        return _section(denial_text(prep.decision))
    if prep.blocker is Blocker.DUPLICATE and prep.holder is not None:
        return _section(duplicate_text(prep.holder))
    if prep.blocker is Blocker.ALREADY_FINISHED and prep.status is not None:
        return _plain_section(
            f":information_source: The run has already finished "
            f"({describe_status(prep.status)}); there is nothing to {VERB[prep.attempt.action]}.",
            emoji=True,
        )
    words = BLOCKER_WORDS.get(prep.blocker or Blocker.LOOKUP_FAILED, "")
    return _section(f":information_source: {words}")


def duplicate_text(holder: Attempt) -> str:
    """Someone else's attempt is in flight, waiting for approval, or succeeded for this run."""
    past = PAST[holder.action]
    if holder.outcome is Outcome.AWAITING_APPROVAL:
        return (
            f":information_source: <@{holder.user_id}> already asked to {VERB[holder.action]} "
            f"this run and is waiting for approval (since {_when(holder.requested_at)}, "
            f"attempt {holder.id})."
        )
    verb = past if holder.outcome is Outcome.SUCCEEDED else f"being {past}"
    return (
        f":information_source: This run is already {verb} by <@{holder.user_id}> "
        f"(since {_when(holder.requested_at)}, attempt {holder.id})."
    )


def blocked_modal(prep: Preparation) -> View:
    """The reason a confirmation cannot go ahead; no submit button."""
    return _modal(
        [
            _blocked_block(prep),
            _details(prep.attempt, prep.status),
            _plain_context(f"Attempt {prep.attempt.id}"),
        ],
        title=TITLES[prep.attempt.action],
    )


def working_modal(attempt: Attempt, action: Action | None = None) -> View:
    """Shown from the submission's ack until the result is known."""
    doing = action or attempt.action
    body = [
        _section(f":hourglass_flowing_sand: {WORKING[doing]}"),
        _plain_context(f"Attempt {attempt.id}"),
    ]
    return _modal(body, title=TITLES[doing])


def verifying_modal(attempt: Attempt) -> View:
    """VectorShift accepted the call; the app is polling until the run reaches its target."""
    return _modal(
        [
            _section(
                ":hourglass_flowing_sand: VectorShift accepted the request. Verifying that "
                f"{TARGET[attempt.action]}…"
            ),
            _plain_context(f"Pipeline: {attempt_pipeline(attempt)} · Run: {attempt.run_id or '?'}"),
            _plain_context(f"Attempt {attempt.id}"),
        ],
        title=TITLES[attempt.action],
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
            _outcome_block(execution),
            _details(attempt, None),
            _plain_context(f"Attempt {attempt.id}"),
        ],
        title=TITLES[attempt.action],
    )


# ---------------------------------------------------------------------------------------------
# Results in the channel (§4.3)


FAILURE_WORDS = {
    FailureReason.BAD_KEY: "the bot's VectorShift key was rejected; tell an admin",
    FailureReason.NOT_FOUND: "pipeline or run not found for this key",
    FailureReason.RATE_LIMITED: "VectorShift is rate-limiting the bot; try again in a minute",
    FailureReason.REJECTED: "VectorShift refused to {verb} the run",
    FailureReason.SERVER_ERROR: "VectorShift had an internal error; the run was not {past}",
    FailureReason.UNREACHABLE: "VectorShift could not be reached; the run was not {past}",
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
        Outcome.REJECTED: ":no_entry_sign:",
        Outcome.EXPIRED: ":hourglass:",
    }.get(outcome, ":hourglass_flowing_sand:")


def _app_words(execution: Execution) -> str | None:
    """The outcome in words when they are the app's own (mrkdwn with mentions), else None."""
    attempt = execution.attempt
    if attempt.outcome is Outcome.DUPLICATE and execution.holder is not None:
        return duplicate_text(execution.holder).removeprefix(":information_source: ")
    if attempt.outcome is Outcome.DENIED and execution.decision is not None:
        return denial_text(execution.decision).removeprefix(":no_entry: ")
    return None


def outcome_words(execution: Execution) -> str:
    """The outcome of an attempt in plain words (§4.3); external values are quoted raw."""
    attempt, failure = execution.attempt, execution.failure
    verified = attempt.verified_status or "unknown"
    action, verb, past = attempt.action, VERB[attempt.action], PAST[attempt.action]
    app_words = _app_words(execution)
    if app_words is not None:
        return app_words
    if attempt.outcome is Outcome.SUCCEEDED:
        tail = " It can be resumed or terminated." if action is Action.PAUSE else ""
        return f"{DONE[action]} — verified {verified}.{tail}"
    if attempt.outcome is Outcome.ALREADY_FINISHED:
        return f"The run had already finished ({verified}); nothing was {past}."
    if attempt.outcome is Outcome.DUPLICATE:
        return f"Not sent: {attempt.error or 'another attempt is in flight'}."
    if attempt.outcome is Outcome.DENIED:
        return f"Denied: {attempt.error or 'not allowed'}."
    if failure is FailureReason.TIMEOUT:
        return (
            f"VectorShift did not answer within {round(execution.waited_s, 1):g} s; the run may "
            f"or may not {MAYBE[action]} — check status (last seen: {verified})."
        )
    if failure is FailureReason.STILL_ACTIVE:
        return (
            f"VectorShift accepted the request, but the run is {verified} after verification; "
            "check status."
        )
    if failure is FailureReason.RESTARTED:
        during = {Action.TERMINATE: "termination", Action.PAUSE: "pause"}.get(action, "resume")
        return f"The bot restarted during this {during}; the run is {verified}; check status."
    words = FAILURE_WORDS.get(failure or FailureReason.SERVER_ERROR, "the {verb} failed")
    words = words.format(verb=verb, past=past)
    if failure is FailureReason.REJECTED and attempt.error:
        said = attempt.error.partition(": ")[2] or attempt.error
        words += f": {_HTTP_PREFIX.sub('', said)}"  # the status follows in brackets
    if attempt.http_status:
        words += f" (HTTP {attempt.http_status})"
    return f"Failed: {words}."


_HTTP_PREFIX: Final = re.compile(r"^HTTP \d{3}: ")


def _outcome_block(execution: Execution) -> Block:
    """The outcome: mrkdwn when the words are the app's, else plain text (VectorShift's words)."""
    icon = _icon(execution.attempt.outcome)
    if _app_words(execution) is not None:
        return _section(f"{icon} {outcome_words(execution)}")
    return _plain_section(f"{icon} {outcome_words(execution)}", emoji=True)


def result_message(execution: Execution, *, buttons: bool = True) -> tuple[str, list[Block]]:
    """The channel message for an attempt that reached the API: text fallback and blocks.

    Args:
        execution: the finished attempt.
        buttons: False for DM fallbacks, which carry no action buttons.
    """
    attempt = execution.attempt
    run = attempt.run_id or "?"
    verb = VERB[attempt.action]
    headline = f"{_icon(attempt.outcome)} <@{attempt.user_id}> asked to {verb} run `{run}`"
    words = outcome_words(execution)
    shown_words = words if _app_words(execution) is not None else neutral(words)
    text = (
        f"{headline} of {neutral(attempt_pipeline(attempt))}. {shown_words} "
        f"Reason: {neutral(attempt.reason or '(none given)')}. Attempt {attempt.id}."
    )
    body: list[Block] = [
        _rich(
            [
                _emoji(_icon(attempt.outcome)),
                _t(" "),
                _user(attempt.user_id),
                _t(f" asked to {verb} run "),
                _t(run, code=True),
                _t(f" of {attempt_pipeline(attempt)}."),
            ]
        ),
        _outcome_block(execution),
        _fields(
            f"Pipeline: {attempt_pipeline(attempt)}",
            f"Run: {run}",
            f"Reason: {attempt.reason or '(none given)'}",
            f"Outcome: {attempt.outcome.value}",
        ),
        _plain_context(f"Attempt {attempt.id}"),
    ]
    if attempt.approvers:
        people = ", ".join(f"<@{u}>" for u in attempt.approvers)
        body.insert(-1, _context(mrkdwn(f"Approved by {people} at {_when(attempt.approved_at)}")))
    if buttons and attempt.outcome in {Outcome.FAILED, Outcome.UNCONFIRMED}:
        body.append(
            {
                "type": "actions",
                "block_id": "vs_terminate_retry_actions",
                "elements": [_button("Retry", ids.RETRY_ACTION, attempt.id)],
            }
        )
    elif buttons:
        body.extend(_next_actions(attempt))
    return _message(text, body)


def _action_buttons(actions: tuple[Action, ...], value: str) -> Block:
    return {
        "type": "actions",
        "block_id": "vs_terminate_actions",
        "elements": [
            _button(
                VERB[a].capitalize(),
                BUTTON_OF[a],
                value,
                style="danger" if a is Action.TERMINATE else None,
            )
            for a in actions
        ],
    }


def _next_actions(attempt: Attempt) -> list[Block]:
    """What may follow a verified pause (resume, terminate) or resume (pause, terminate)."""
    if attempt.outcome is not Outcome.SUCCEEDED or not (attempt.pipeline_id and attempt.run_id):
        return []
    value = f"{attempt.pipeline_id} {attempt.run_id}"
    if attempt.action is Action.PAUSE:
        return [_action_buttons((Action.RESUME, Action.TERMINATE), value)]
    if attempt.action is Action.RESUME:
        return [_action_buttons((Action.PAUSE, Action.TERMINATE), value)]
    return []


def audit_message(attempt: Attempt, permalink: str | None) -> tuple[str, list[Block]]:
    """The audit channel's compact record of one outcome or denial."""
    app = (
        f"{_icon(attempt.outcome)} *{attempt.outcome.value}* · {VERB[attempt.action]} · "
        f"<@{attempt.user_id}>"
    )
    where = f" · in <#{attempt.channel_id}>" if attempt.channel_id else ""
    link = f" · <{permalink}|message>" if permalink else ""
    facts = [f"{attempt_pipeline(attempt)} run {attempt.run_id or '?'}"]
    if attempt.rule:
        facts.append(f"rule {attempt.rule}")
    if attempt.error and attempt.outcome is not Outcome.SUCCEEDED:
        facts.append(cut(attempt.error, 150))
    facts.append(f"attempt {attempt.id}")
    text = " · ".join([app, *(neutral(f) for f in facts)]) + where + link
    line = [
        _emoji(_icon(attempt.outcome)),
        _t(" "),
        _t(attempt.outcome.value, bold=True),
        _t(f" · {VERB[attempt.action]} · "),
        _user(attempt.user_id),
        _t(" · " + " · ".join(facts)),
    ]
    if attempt.channel_id:
        line += [_t(" · in "), _channel(attempt.channel_id)]
    if permalink:
        line += [_t(" · "), _link(permalink, "message")]
    return _message(text, [_rich(line)])


def chain_head_line(count: int, head: str | None) -> str:
    """The periodic audit-chain checkpoint posted to the audit channel."""
    return f":link: Audit chain checkpoint: {count} events, head `{head or 'empty'}`."


# ---------------------------------------------------------------------------------------------
# Alerts (§4.4)


ALERT_STATE_BLOCK: Final = "vs_alert_state"


def alert_message(alert: Alert, *, holder: Attempt | None = None) -> tuple[str, list[Block]]:
    """An alert: what the tool said, as plain text, and what may be done about its run.

    Firing, it carries Pause and Terminate. When an action on the run went ahead (`holder`
    succeeded), it says who did what and offers what may follow, as a clicked alert does.
    Resolved, it says so and when, and loses its buttons, unless an action is in flight:
    that one finishes as usual and puts its own outcome on the message.

    Args:
        alert: the alert as parsed from any source.
        holder: the attempt holding the run's claim, if any.
    """
    said = f"{neutral(alert.title or 'Alert')}: {neutral(alert.text)}" if alert.text else None
    fallback = (
        f"{said or neutral(alert.title or 'Alert')} "
        f"(pipeline {neutral(alert.pipeline.text)}, run {alert.run_id})"
    )
    body: list[Block] = []
    if alert.title:
        heading = [_t(alert.title, bold=True)]
        if alert.severity:
            heading.append(_t(f" · {alert.severity}"))
        body.append(_rich(heading))
    if alert.text:
        body.append(_plain_section(alert.text))
    if alert.details:
        body.append(_plain_section(alert.details))
    about = [plain(f"Pipeline: {alert.pipeline.text} · Run: {alert.run_id}")]
    if alert.link:
        # Slack reads `&`, `<`, `>` as entities and `|` as the end of a link's URL.
        url = escape(alert.link).replace("|", "%7C")
        about.append(mrkdwn(f"<{url}|Source>"))
    body.append(_context(*about))
    if alert.resolved:
        ended = f" at {_when(alert.ended_at)}" if alert.ended_at else ""
        body.append(
            {
                "type": "context",
                "block_id": ALERT_STATE_BLOCK,
                "elements": [mrkdwn(f":white_check_mark: *Resolved*{ended}")],
            }
        )
        fallback = f"Resolved: {fallback}"
    in_flight = holder is not None and holder.outcome is Outcome.PENDING
    if holder is not None and holder.outcome is Outcome.SUCCEEDED:
        fallback, body = finished_alert(body, fallback, holder)
    else:
        body.append(_action_buttons((Action.PAUSE, Action.TERMINATE), alert.button_value))
    if alert.resolved and not in_flight:
        body = [b for b in body if b.get("type") != "actions"]
    return _message(fallback, body)


def finished_alert(
    original_blocks: list[Block], fallback: str, attempt: Attempt
) -> tuple[str, list[Block]]:
    """A clicked alert or result after an action: its buttons replaced by what happened.

    A verified pause shows who paused it and offers Resume and Terminate; a verified resume
    offers Pause and Terminate; anything else leaves no button.
    """
    kept = [
        b
        for b in original_blocks
        if b.get("type") != "actions" and b.get("block_id") != "vs_terminate_outcome"
    ]
    done = attempt.outcome.value
    if attempt.outcome is Outcome.SUCCEEDED and attempt.action is not Action.TERMINATE:
        done = PAST[attempt.action]  # "paused", "resumed": what the next clicker needs to know
    note = (
        f"{_icon(attempt.outcome)} *{done}* — <@{attempt.user_id}> at "
        f"{_when(attempt.completed_at or attempt.requested_at)} (attempt {attempt.id})"
    )
    outcome = {"type": "section", "block_id": "vs_terminate_outcome", "text": mrkdwn(note)}
    return _message(f"{fallback} — {done}", [*kept, outcome, *_next_actions(attempt)])


def stand_in_text(attempt: Attempt) -> str:
    """The text of a clicked message the bot no longer remembers, to show the outcome on."""
    return f"Run {attempt.run_id or '?'} of {neutral(attempt_pipeline(attempt))}"


def retried_message(
    original_blocks: list[Block], fallback: str, attempt: Attempt
) -> tuple[str, list[Block]]:
    """A failure message whose Retry was taken: the button goes, the new attempt is named."""
    kept = [b for b in original_blocks if b.get("type") != "actions"]
    note = f"Retried by <@{attempt.user_id}> (attempt {attempt.id})."
    return _message(fallback, [*kept, _context(mrkdwn(note))])


# ---------------------------------------------------------------------------------------------
# Approvals (§4.6)


def _approvers_text(approval: Approval | None) -> str:
    if approval is None:
        return "an admin"
    people = ", ".join(_mention(a) for a in sorted(approval.approvers)[:10])
    if approval.approvals > 1:
        return f"{approval.approvals} of {people}"
    single = len(approval.approvers) == 1 and not next(iter(approval.approvers)).startswith("S")
    return people if single else f"one of {people}"


APPROVAL_BLOCK: Final = "vs_terminate_approval"
"""The request message's Approve/Reject block (the `approvals` list numbers its own)."""


def approval_request_message(
    attempt: Attempt, approval: Approval | None, *, note: str | None = None
) -> tuple[str, list[Block]]:
    """The approval request in the channel: who asks what, who may agree, Approve and Reject.

    While the request waits it carries the buttons (value: the attempt id) and the approvals
    so far; once decided, `note` says how (approved, rejected, expired) and the buttons go.

    Args:
        attempt: the request.
        approval: the rule's approval as the policy stands (None: only an admin may decide).
        note: app-written mrkdwn saying how the request was decided.
    """
    run = attempt.run_id or "?"
    verb = VERB[attempt.action]
    asked = f":raised_hand: <@{attempt.user_id}> asks to {verb} run `{run}`"
    who = _approvers_text(approval)
    expires = f"by {_when(attempt.expires_at)}" if attempt.expires_at else "soon"
    so_far = ", ".join(f"<@{u}>" for u in attempt.approvers)
    needed = attempt.approvals_needed or 1
    waiting = attempt.outcome is Outcome.AWAITING_APPROVAL
    lines = [f"Needs approval from {who} (never the requester), {expires}."]
    if so_far and waiting:
        lines.append(f"Approved so far: {so_far} ({len(attempt.approvers)} of {needed}).")
    text = (
        f"{asked} of {neutral(attempt_pipeline(attempt))}. {' '.join(lines)} "
        f"Reason: {neutral(attempt.reason or '(none given)')}."
    )
    body: list[Block] = [
        _rich(
            [
                _emoji(":raised_hand:"),
                _t(" "),
                _user(attempt.user_id),
                _t(f" asks to {verb} run "),
                _t(run, code=True),
                _t(f" of {attempt_pipeline(attempt)}."),
            ]
        ),
        _fields(
            f"Pipeline: {attempt_pipeline(attempt)}",
            f"Run: {run}",
            f"Reason: {attempt.reason or '(none given)'}",
            f"Action: {verb} — {MEANING[attempt.action]}",
        ),
        _section("\n".join(lines)),
    ]
    if note is not None:
        body.append({"type": "section", "block_id": "vs_terminate_decision", "text": mrkdwn(note)})
        text = f"{text} {note}"
    if waiting:
        body.append(
            {
                "type": "actions",
                "block_id": APPROVAL_BLOCK,
                "elements": [
                    _button("Approve", ids.APPROVE_ACTION, attempt.id, style="primary"),
                    _button("Reject", ids.REJECT_ACTION, attempt.id, style="danger"),
                ],
            }
        )
    body.append(_plain_context(f"Attempt {attempt.id}"))
    return _message(text, body)


def approved_note(attempt: Attempt) -> str:
    """The request's decision line once enough approvers agreed."""
    people = ", ".join(f"<@{u}>" for u in attempt.approvers)
    return (
        f":white_check_mark: Approved by {people} at {_when(attempt.approved_at)}; "
        f"{WORKING[attempt.action].lower().rstrip('…')} — the result follows in this thread."
    )


def rejected_note(attempt: Attempt, rejecter: str, reason: str) -> str:
    """The request's decision line after a rejection (the reason is quoted inert)."""
    said = f": {neutral(reason)}" if reason else ""
    return f":no_entry_sign: Rejected by <@{rejecter}> at {_when(attempt.completed_at)}{said}."


def expired_note(attempt: Attempt) -> str:
    """The request's decision line after nobody decided in time."""
    return (
        f":hourglass: Expired: nobody approved it by {_when(attempt.expires_at)}. Nothing was "
        f"done to the run; <@{attempt.user_id}> may ask again."
    )


def requester_told(attempt: Attempt, note: str) -> str:
    """The thread reply that tells the requester how their request was decided."""
    return f"<@{attempt.user_id}> {note}"


def awaiting_approval_modal(attempt: Attempt, approval: Approval | None) -> View:
    """The modal after a request that needs approval: nothing was done yet, and who decides."""
    where = f" in <#{attempt.channel_id}>" if attempt.channel_id else ""
    expires = f" It expires at {_when(attempt.expires_at)}." if attempt.expires_at else ""
    return _modal(
        [
            _section(
                f":raised_hand: Nothing was done yet: this needs approval from "
                f"{_approvers_text(approval)}. The request is posted{where}; the result will "
                f"follow in its thread.{expires}"
            ),
            _fields(
                f"Pipeline: {attempt_pipeline(attempt)}",
                f"Run: {attempt.run_id or '?'}",
                f"Reason: {attempt.reason or '(none given)'}",
                f"Requested by: {attempt.user_name or attempt.user_id}",
            ),
            _plain_context(f"Attempt {attempt.id}"),
        ],
        title=TITLES[attempt.action],
    )


def reject_modal(attempt: Attempt) -> View:
    """The small modal a Reject click opens: an optional reason (callback `vs_terminate_reject`)."""
    run = attempt.run_id or "?"
    return _modal(
        [
            _rich(
                [
                    _t("Reject "),
                    _user(attempt.user_id),
                    _t(f"'s request to {VERB[attempt.action]} run "),
                    _t(run, code=True),
                    _t(f" of {attempt_pipeline(attempt)}?"),
                ]
            ),
            {
                "type": "input",
                "block_id": ids.REJECT_REASON_BLOCK,
                "optional": True,
                "label": plain("Reason (optional)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ids.REJECT_REASON_ACTION,
                    "multiline": True,
                    "max_length": 1000,
                },
            },
        ],
        submit="Reject",
        callback_id=ids.REJECT_CALLBACK,
        metadata=attempt.id,
        close="Cancel",
        title="Reject request",
    )


def not_an_approver_text(check: ApproverCheck, approval: Approval | None) -> str:
    """Someone who may not decide a request clicked Approve or Reject (told ephemerally)."""
    return (
        f":information_source: {_linked(check.reason)} "
        f"It needs approval from {_approvers_text(approval)}."
    )


_SETTLED_WORDS: Final = {
    Outcome.REJECTED: "was already rejected",
    Outcome.EXPIRED: "has already expired",
    Outcome.DUPLICATE: "was not needed: another attempt held the run",
    Outcome.ABANDONED: "was never submitted",
    Outcome.AWAITING_CONFIRMATION: "was never submitted",
}


def request_settled_text(attempt: Attempt | None) -> str:
    """A click on a request that was decided already (or that the bot does not know)."""
    if attempt is None:
        return ":information_source: The bot does not know this request."
    words = _SETTLED_WORDS.get(
        attempt.outcome, f"was approved already (outcome so far: {attempt.outcome.value})"
    )
    return f":information_source: This request {words}; nothing changed."


def request_not_posted_text(attempt: Attempt) -> str:
    """The approval request could not be posted in the channel (a private one without the bot)."""
    return (
        ":warning: Your request is waiting for approval, but the bot could not post it in this "
        "channel (invite the bot to it). Approvers can still find it with "
        f"`/vs-terminate approvals` (attempt {attempt.id})."
    )


def already_approved_text() -> str:
    """An approver clicked Approve again on a request that still waits for others."""
    return ":information_source: You have approved this already; it waits for another approver."


APPROVALS_LISTED: Final = 15
"""Requests listed with buttons in one `approvals` answer (two blocks each, under Slack's 50)."""


def approvals_reply(decidable: list[Attempt], mine: list[Attempt]) -> Reply:
    """`/vs-terminate approvals`: requests the caller may decide (with Approve and Reject), and
    their own still waiting."""

    def row(a: Attempt) -> str:
        where = f" in <#{a.channel_id}>" if a.channel_id else ""
        return (
            f"• <@{a.user_id}> — {VERB[a.action]} {neutral(attempt_pipeline(a))} run "
            f"`{a.run_id or '?'}`{where} — expires {_when(a.expires_at)} — attempt {a.id}"
        )

    if not decidable and not mine:
        text = "No approval requests are waiting on you, and none of yours is waiting."
        return _ephemeral(text, [_section(text)])
    body: list[Block] = []
    lines: list[str] = []
    if decidable:
        head = f"*Waiting for your approval* ({len(decidable)})"
        body.append(_section(head))
        lines.append(head)
        for i, a in enumerate(decidable[:APPROVALS_LISTED]):
            body.append(_section(row(a)))
            body.append(
                {
                    "type": "actions",
                    "block_id": f"vs_terminate_approval_{i}",
                    "elements": [
                        _button("Approve", ids.APPROVE_ACTION, a.id, style="primary"),
                        _button("Reject", ids.REJECT_ACTION, a.id, style="danger"),
                    ],
                }
            )
            lines.append(row(a))
        if len(decidable) > APPROVALS_LISTED:
            more = f"…and {len(decidable) - APPROVALS_LISTED} more, oldest first."
            body.append(_plain_context(more))
    else:
        body.append(_section("No approval requests are waiting on you."))
        lines.append("No approval requests are waiting on you.")
    if mine:
        shown = "\n".join(row(a) for a in mine[:10])
        body.append(_section(f"*Your requests still waiting*\n{shown}"))
        lines.append(f"*Your requests still waiting*\n{shown}")
    return _ephemeral("\n".join(lines), body)
