"""The words and views people see, exactly (`bot.slack.blocks` is pure: no Slack needed)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from bot.attempts.confirm import Blocker, Preparation
from bot.attempts.execute import Execution, FailureReason
from bot.attempts.lifecycle import Attempt, Outcome, Source
from bot.domain import (
    Action,
    Actor,
    ActorFacts,
    Alert,
    Pipeline,
    RunState,
    RunStatus,
    Where,
    pipeline_ref,
)
from bot.policy import decide, parse_policy
from bot.slack import blocks, ids
from devkit.expect import texts
from devkit.slack_limits import message_problems, view_problems

WHEN = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
PIPELINE = "65f1c0ffee0123456789abcd"
ATTEMPT = Attempt(
    id="att-1",
    request_id="req-1",
    requested_at=WHEN,
    user_id="U0ALICE0001",
    user_name="alice",
    source=Source.SLASH_COMMAND,
    outcome=Outcome.SUCCEEDED,
    channel_id="C0INCIDENTS",
    pipeline_id=PIPELINE,
    pipeline_name="Nightly ETL",
    run_id="run1",
    reason="stuck in a loop",
    verified_status="stopped (cancelled)",
    http_status=200,
)
POLICY = parse_policy(
    '[[rules]]\nname = "oncall"\nwho = ["S0ONCALL001"]\npipelines = ["*"]\nchannels = ["C0INCIDENTS"]\n'
)


def words(outcome: Outcome, failure: FailureReason | None = None, **changes: object) -> str:
    attempt = replace(ATTEMPT, outcome=outcome, **changes)  # type: ignore[arg-type]
    return blocks.outcome_words(Execution(attempt, failure=failure, waited_s=8.0))


@pytest.mark.parametrize(
    ("outcome", "failure", "changes", "expected"),
    [
        (Outcome.SUCCEEDED, None, {}, "Terminated — verified stopped (cancelled)."),
        (
            Outcome.ALREADY_FINISHED,
            None,
            {"verified_status": "completed"},
            "The run had already finished (completed); nothing was terminated.",
        ),
        (
            Outcome.UNCONFIRMED,
            FailureReason.TIMEOUT,
            {"verified_status": "still running"},
            "VectorShift did not answer within 8 s; the run may or may not have stopped — "
            "check status (last seen: still running).",
        ),
        (
            Outcome.UNCONFIRMED,
            FailureReason.STILL_ACTIVE,
            {"verified_status": "still running"},
            "VectorShift accepted the request, but the run is still running after verification; "
            "check status.",
        ),
        (
            Outcome.FAILED,
            FailureReason.BAD_KEY,
            {"http_status": 401},
            "Failed: the bot's VectorShift key was rejected; tell an admin (HTTP 401).",
        ),
        (
            Outcome.FAILED,
            FailureReason.NOT_FOUND,
            {"http_status": 404},
            "Failed: pipeline or run not found for this key (HTTP 404).",
        ),
        (
            Outcome.FAILED,
            FailureReason.REJECTED,
            {"http_status": 200, "error": "OperationFailedError: run could not be stopped"},
            "Failed: VectorShift refused to terminate the run: run could not be stopped (HTTP 200).",
        ),
        (
            Outcome.UNCONFIRMED,
            FailureReason.RESTARTED,
            {"verified_status": "still running"},
            "The bot restarted during this termination; the run is still running; check status.",
        ),
    ],
)
def test_each_outcome_is_said_in_plain_words(
    outcome: Outcome, failure: FailureReason | None, changes: dict[str, object], expected: str
) -> None:
    assert words(outcome, failure, **changes) == expected


def test_the_result_message_names_who_what_why_and_the_attempt() -> None:
    text, shown = blocks.result_message(Execution(ATTEMPT))
    assert text == (
        ":white_check_mark: <@U0ALICE0001> asked to terminate run `run1` of Nightly ETL "
        f"({PIPELINE}). Terminated — verified stopped (cancelled). Reason: stuck in a loop. "
        "Attempt att-1."
    )
    assert [b["type"] for b in shown] == ["rich_text", "section", "section", "context"]
    headline = shown[0]["elements"][0]["elements"]
    assert {"type": "user", "user_id": "U0ALICE0001"} in headline
    assert {"type": "text", "text": f" of Nightly ETL ({PIPELINE})."} in headline


def test_only_a_failure_offers_retry_and_never_in_a_dm() -> None:
    failed = Execution(replace(ATTEMPT, outcome=Outcome.FAILED), failure=FailureReason.SERVER_ERROR)
    _, in_channel = blocks.result_message(failed)
    _, in_dm = blocks.result_message(failed, buttons=False)
    [button] = [e for b in in_channel if b["type"] == "actions" for e in b["elements"]]
    assert (button["action_id"], button["value"], button["text"]["text"]) == (
        ids.RETRY_ACTION,
        "att-1",
        "Retry",
    )
    assert [b for b in in_dm if b["type"] == "actions"] == []


def test_the_confirmation_modal_carries_only_the_attempt_and_nonce_and_the_reason_block() -> None:
    prep = Preparation(
        replace(ATTEMPT, outcome=Outcome.AWAITING_CONFIRMATION),
        None,
        decision=decide(
            POLICY,
            Actor("U0ALICE0001"),
            ActorFacts(groups=frozenset({"S0ONCALL001"})),
            pipeline_id=PIPELINE,
            where=Where("C0INCIDENTS"),
        ),
        status=RunStatus(RunState.ACTIVE, "running"),
    )
    view = blocks.confirm_modal(prep, "att-1:nonce")
    assert (view["callback_id"], view["private_metadata"], view["notify_on_close"]) == (
        ids.CONFIRM_CALLBACK,
        "att-1:nonce",
        True,
    )
    assert view["submit"]["text"] == "Terminate"
    [reason] = [b for b in view["blocks"] if b.get("block_id") == ids.REASON_BLOCK]
    assert reason["element"]["action_id"] == ids.REASON_ACTION
    assert reason["element"]["initial_value"] == "stuck in a loop"


def test_a_denial_names_the_rule_and_who_could_instead() -> None:
    decision = decide(
        POLICY, Actor("U0MALLORY01"), ActorFacts(), pipeline_id=PIPELINE, where=Where("C0INCIDENTS")
    )
    assert blocks.denial_text(decision) == (
        ":no_entry: You may not terminate this run here. Rule oncall does not include you "
        "(it allows <!subteam^S0ONCALL001>).\nWho can: <!subteam^S0ONCALL001>."
    )


def test_a_blocked_confirmation_says_why_and_offers_no_submit() -> None:
    prep = Preparation(replace(ATTEMPT, outcome=Outcome.FAILED), Blocker.PIPELINE_NOT_FOUND)
    view = blocks.blocked_modal(prep)
    assert "submit" not in view
    assert view["blocks"][0]["text"]["text"] == (
        ":information_source: No such pipeline for this key: it is not an alias in the policy "
        "file, a pipeline name, or a pipeline id VectorShift knows."
    )


def native(text: str, pipeline: str = "nightly-etl", run_id: str = "run1") -> Alert:
    return Alert(channel="C0INCIDENTS", pipeline=pipeline_ref(pipeline), run_id=run_id, text=text)


AM_ALERT = Alert(
    channel="C0INCIDENTS",
    pipeline=pipeline_ref("nightly-etl"),
    run_id="run1",
    text="Nightly ETL has been running for over 3 h",
    title="VectorShiftRunTooLong",
    severity="critical",
    details="Run run1 <!here> started *3 hours* ago.",
    link="http://prometheus.example:9090/graph?g0.expr=a+%3E+1&x=<y>|z",
)


def buttons_of(shown: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"]) for b in shown if b["type"] == "actions" for e in b["elements"]
    ]


def test_alert_text_is_plain_text_and_the_button_carries_the_command_grammar() -> None:
    text, shown = blocks.alert_message(native("<!channel> *urgent*"))
    assert text == "Alert: &lt;!channel&gt; ∗urgent∗ (pipeline nightly-etl, run run1)"
    assert shown[0]["text"] == {"type": "plain_text", "text": "<!channel> *urgent*", "emoji": False}
    assert buttons_of(shown) == [
        (ids.PAUSE_ACTION, "nightly-etl run1"),
        (ids.TERMINATE_ACTION, "nightly-etl run1"),
    ]


def test_a_tool_alert_shows_name_severity_summary_details_and_one_escaped_link() -> None:
    text, shown = blocks.alert_message(AM_ALERT)
    assert text == (
        "VectorShiftRunTooLong: Nightly ETL has been running for over 3 h "
        "(pipeline nightly-etl, run run1)"
    )
    assert rich(shown[:1]) == "VectorShiftRunTooLong · critical"
    assert shown[1]["text"]["type"] == shown[2]["text"]["type"] == "plain_text"
    assert shown[2]["text"]["text"] == "Run run1 <!here> started *3 hours* ago."
    assert shown[3]["elements"] == [
        {"type": "plain_text", "text": "Pipeline: nightly-etl · Run: run1", "emoji": False},
        {
            "type": "mrkdwn",
            "text": "<http://prometheus.example:9090/graph?g0.expr=a+%3E+1&amp;x=&lt;y&gt;%7Cz"
            "|Source>",
        },
    ]
    assert buttons_of(shown) == [
        (ids.PAUSE_ACTION, "nightly-etl run1"),
        (ids.TERMINATE_ACTION, "nightly-etl run1"),
    ]


def test_a_resolved_alert_says_when_and_has_no_buttons() -> None:
    resolved = replace(AM_ALERT, resolved=True, ended_at=WHEN)
    text, shown = blocks.alert_message(resolved)
    assert text.startswith("Resolved: VectorShiftRunTooLong: ")
    assert shown[-1]["block_id"] == blocks.ALERT_STATE_BLOCK
    assert (
        shown[-1]["elements"][0]["text"] == ":white_check_mark: *Resolved* at 2026-12-01 09:30 UTC"
    )
    assert buttons_of(shown) == []


def test_an_alert_about_a_paused_run_says_who_paused_it_and_offers_what_follows() -> None:
    paused = replace(ATTEMPT, action=Action.PAUSE, completed_at=WHEN)
    _, shown = blocks.alert_message(AM_ALERT, holder=paused)
    assert shown[-2]["text"]["text"].startswith(":white_check_mark: *paused* — <@U0ALICE0001>")
    value = f"{PIPELINE} run1"
    assert buttons_of(shown) == [(ids.RESUME_ACTION, value), (ids.TERMINATE_ACTION, value)]
    # Resolved, the buttons go; the outcome stays.
    _, resolved = blocks.alert_message(replace(AM_ALERT, resolved=True), holder=paused)
    assert buttons_of(resolved) == []
    assert any(b.get("block_id") == "vs_terminate_outcome" for b in resolved)


def test_an_alert_resolved_while_an_action_is_in_flight_keeps_its_buttons() -> None:
    pending = replace(ATTEMPT, outcome=Outcome.PENDING, completed_at=None)
    _, shown = blocks.alert_message(replace(AM_ALERT, resolved=True), holder=pending)
    assert shown[-2]["block_id"] == blocks.ALERT_STATE_BLOCK
    assert [b[0] for b in buttons_of(shown)] == [ids.PAUSE_ACTION, ids.TERMINATE_ACTION]
    # A failed attempt holds nothing back: the alert offers the buttons again while firing.
    failed = replace(ATTEMPT, outcome=Outcome.FAILED)
    assert len(buttons_of(blocks.alert_message(AM_ALERT, holder=failed)[1])) == 2


def test_a_terminated_runs_alert_has_no_buttons_even_while_firing() -> None:
    _, shown = blocks.alert_message(AM_ALERT, holder=replace(ATTEMPT, completed_at=WHEN))
    assert buttons_of(shown) == []


def test_a_finished_alert_loses_its_buttons_and_says_who_did_it() -> None:
    _, original = blocks.alert_message(native("long run"))
    text, shown = blocks.finished_alert(
        original, "Alert: long run", replace(ATTEMPT, completed_at=WHEN)
    )
    assert text == "Alert: long run — succeeded"
    assert [b["type"] for b in shown] == ["section", "context", "section"]
    assert shown[-1]["text"]["text"] == (
        ":white_check_mark: *succeeded* — <@U0ALICE0001> at 2026-12-01 09:30 UTC (attempt att-1)"
    )


def test_status_history_and_audit_lines() -> None:
    pipeline = Pipeline(PIPELINE, "Nightly ETL")
    status = blocks.status_reply(pipeline, "run1", RunStatus(RunState.ACTIVE, "running"))
    assert status["text"] == f"Run `run1` of Nightly ETL ({PIPELINE}) is running (`running`)."
    assert rich(status["blocks"]) == f"Run run1 of Nightly ETL ({PIPELINE}) is running (running)."
    assert blocks.history_reply([])["text"] == "No attempts on pipelines you may act on."
    assert blocks.history_reply([ATTEMPT])["text"] == (
        "*Last attempts*\n"
        f"• 2026-12-01 09:30 UTC — <@U0ALICE0001> — terminate Nightly ETL ({PIPELINE}) run `run1` "
        "— *succeeded*"
    )
    text, shown = blocks.audit_message(ATTEMPT, "https://slack.test/p1")
    assert text == (
        f":white_check_mark: *succeeded* · terminate · <@U0ALICE0001> · Nightly ETL ({PIPELINE}) "
        "run run1 · attempt att-1 · in <#C0INCIDENTS> · <https://slack.test/p1|message>"
    )
    assert rich(shown) == (
        f"white_check_mark succeeded · terminate · U0ALICE0001 · Nightly ETL ({PIPELINE}) run run1 "
        "· attempt att-1 · in C0INCIDENTS · https://slack.test/p1"
    )


def rich(shown: list[dict[str, Any]]) -> str:
    """A rich_text block's one line: text verbatim, the id or name for everything else."""
    parts = []
    for element in shown[0]["elements"][0]["elements"]:
        if element["type"] == "text":
            parts.append(element["text"])
        else:
            keys = ("user_id", "channel_id", "name", "url")
            parts.append(next(element[k] for k in keys if k in element))
    return "".join(parts)


LONG = "x" * 5000


def oversized_attempt() -> Attempt:
    return replace(
        ATTEMPT,
        pipeline_name=LONG,
        pipeline_ref=LONG,
        reason=LONG,
        user_name=LONG,
        error="OperationFailedError: " + LONG,
        verified_status="still " + LONG,
        outcome=Outcome.FAILED,
    )


def test_every_builder_stays_inside_slacks_limits_whatever_the_input() -> None:
    attempt = oversized_attempt()
    failed = Execution(attempt, failure=FailureReason.REJECTED)
    prep = Preparation(
        attempt, None, status=RunStatus(RunState.UNKNOWN, LONG), pipeline=Pipeline(PIPELINE, LONG)
    )
    views = [
        blocks.confirm_modal(prep, "att-1:nonce"),
        blocks.blocked_modal(replace(prep, blocker=Blocker.ALREADY_FINISHED)),
        blocks.result_modal(failed),
        blocks.verifying_modal(attempt),
        blocks.working_modal(attempt),
    ]
    messages = [
        blocks.result_message(failed),
        blocks.result_message(failed, buttons=False),
        blocks.audit_message(attempt, "https://slack.test/p1"),
        blocks.alert_message(native(LONG, LONG[:200])),
        blocks.alert_message(
            replace(
                AM_ALERT,
                text=LONG,
                title=LONG[:200],
                severity=LONG[:200],
                details=LONG,
                link="https://x.example/" + "a" * 1980,
                resolved=True,
            ),
            holder=attempt,
        ),
        blocks.finished_alert(
            [blocks.alert_message(native("a", "p", "r"))[1][0]] * 60,
            LONG,
            attempt,
        ),
    ]
    replies = [
        blocks.status_reply(Pipeline(PIPELINE, LONG), "run1", RunStatus(RunState.UNKNOWN, LONG)),
        blocks.history_reply([attempt] * 10),
        blocks.usage_error_reply(LONG),
    ]
    problems = [p for v in views for p in view_problems(v)]
    problems += [p for text, shown in messages for p in message_problems(text, shown)]
    problems += [p for r in replies for p in message_problems(r["text"], r.get("blocks"))]
    assert problems == []
    assert "…" in texts(views[0]) and "…" in texts(messages[0][1])
    assert len(messages[5][1]) == blocks.MESSAGE_BLOCKS_MAX
