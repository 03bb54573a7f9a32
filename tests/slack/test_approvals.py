"""Approvals in process (SPEC §4.6): request, approve, reject, expire, list — signed clicks."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from harness import InProcessBot, running_bot

from bot.slack import flows, ids
from devkit.expect import modal, posted, texts, view_of
from devkit.fakes import SlackCall, SlackMessage
from devkit.payloads import SlackClient, block_actions_body
from devkit.scenario import (
    ADMIN,
    ALICE,
    APPROVALS_POLICY,
    AUDIT,
    BOSS,
    GROUP,
    INCIDENTS,
    LEAD,
    LEADS,
    MALLORY,
    PIPELINE_ID,
)

CAROL = "U0CAROL0001"  # another on-call, in GROUP with Alice
TWO_APPROVALS = APPROVALS_POLICY.replace(
    "approval_timeout_minutes = 30", "approvals = 2\napproval_timeout_minutes = 30"
)
PAUSE_ALONE = f"""
admins = ["{ADMIN}"]

[aliases]
nightly-etl = "{PIPELINE_ID}"

[[rules]]
name = "oncall-terminate"
who = ["{GROUP}"]
pipelines = ["nightly-etl"]
channels = ["{INCIDENTS}"]
actions = ["terminate"]
approvers = ["{LEADS}", "{BOSS}"]
approval_timeout_minutes = 30

[[rules]]
name = "oncall-pause"
who = ["{GROUP}"]
pipelines = ["nightly-etl"]
channels = ["{INCIDENTS}"]
actions = ["pause", "resume"]
"""


class Clock:
    """Wall-clock time for the runtime that a test can move forward."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.offset


@asynccontextmanager
async def _open(
    tmp_path: Path, sqlite_url: str, policy: str, clock: Clock | None = None
) -> AsyncIterator[InProcessBot]:
    async with running_bot(tmp_path, sqlite_url, policy=policy, clock=clock or Clock()) as running:
        running.slack.set_group(LEADS, [LEAD])
        running.slack.set_group(GROUP, [ALICE, CAROL])
        await running.runtime.deps.directory.refresh_all()
        yield running
        running.slack.assert_within_limits()


@pytest.fixture
async def bot(tmp_path: Path, sqlite_url: str) -> AsyncIterator[InProcessBot]:
    async with _open(tmp_path, sqlite_url, APPROVALS_POLICY) as running:
        yield running


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def timed_bot(tmp_path: Path, sqlite_url: str, clock: Clock) -> AsyncIterator[InProcessBot]:
    """The approvals bot on a clock the test moves."""
    async with _open(tmp_path, sqlite_url, APPROVALS_POLICY, clock) as running:
        yield running


@pytest.fixture
async def two_bot(tmp_path: Path, sqlite_url: str) -> AsyncIterator[InProcessBot]:
    """The approvals bot whose rule needs two distinct approvers."""
    async with _open(tmp_path, sqlite_url, TWO_APPROVALS) as running:
        yield running


@pytest.fixture
async def pause_bot(tmp_path: Path, sqlite_url: str) -> AsyncIterator[InProcessBot]:
    """On-call may pause alone but terminate only with approval."""
    async with _open(tmp_path, sqlite_url, PAUSE_ALONE) as running:
        yield running


def buttons(blocks: list[dict[str, Any]] | None) -> list[tuple[str, str]]:
    return [
        (e["action_id"], e["value"])
        for b in blocks or []
        if b["type"] == "actions"
        for e in b["elements"]
    ]


def is_request(call: SlackCall) -> bool:
    """A `chat.postMessage` of an approval request (it carries Approve)."""
    return call.args.get("channel") == INCIDENTS and any(
        action == ids.APPROVE_ACTION for action, _ in buttons(call.args.get("blocks"))
    )


def is_confirmation(call: SlackCall) -> bool:
    return view_of(call).get("callback_id") == ids.CONFIRM_CALLBACK


def request_message(bot: InProcessBot, attempt_id: str) -> SlackMessage:
    """The approval request for `attempt_id` as it now stands in the channel."""
    found = [m for m in bot.slack.messages(INCIDENTS) if f"Attempt {attempt_id}" in texts(m.blocks)]
    assert found, f"no approval request for {attempt_id} in {INCIDENTS}"
    return found[0]


async def ask(
    bot: InProcessBot,
    slack: SlackClient,
    run: str,
    *,
    user: str = ALICE,
    reason: str = "billing is double-charging",
    verb: str = "",
) -> tuple[str, str, dict[str, Any]]:
    """`user` asks for an action that needs approval; returns the attempt id, the request's ts
    and the modal the requester was left with."""
    opened_or_updated = bot.slack.calls("views.open") + bot.slack.calls("views.update")
    modals = len([c for c in opened_or_updated if is_confirmation(c)])
    requests = len([c for c in bot.slack.calls("chat.postMessage") if is_request(c)])
    await slack.command(f"{verb}nightly-etl {run} {reason}", user=user, channel=INCIDENTS)
    await modal(bot.slack, ids.CONFIRM_CALLBACK, count=modals + 1)
    submitted = await slack.submit(user=user, reason=reason)
    assert submitted.status_code == 200
    request = await bot.slack.async_wait_for("chat.postMessage", is_request, count=requests + 1)
    await bot.idle()
    [(approve_id, attempt_id), (reject_id, same)] = buttons(request.args["blocks"])
    assert (approve_id, reject_id, same) == (ids.APPROVE_ACTION, ids.REJECT_ACTION, attempt_id)
    shown = bot.slack.current_view(user)
    assert shown is not None, "the requester's modal was closed"
    return attempt_id, request_message(bot, attempt_id).ts, shown


async def click(
    bot: InProcessBot, slack: SlackClient, attempt_id: str, ts: str, *, user: str, action: str
) -> str:
    """`user` clicks Approve or Reject on the request at `ts`; returns their response_url id."""
    ack = await slack.click(
        attempt_id, user=user, channel=INCIDENTS, action_id=action, message_ts=ts
    )
    assert ack.status_code == 200
    await bot.idle()
    assert slack.last_response_url is not None
    return slack.last_response_url.rsplit("/", 1)[1]


def told(bot: InProcessBot, response_url_id: str) -> list[str]:
    """What the bot said through one interaction's response_url."""
    return [
        str(c.args.get("text", ""))
        for c in bot.slack.calls("response_url")
        if c.args.get("response_url_id") == response_url_id
    ]


async def reject(
    bot: InProcessBot,
    slack: SlackClient,
    attempt_id: str,
    ts: str,
    *,
    user: str,
    reason: str | None,
) -> None:
    """`user` clicks Reject and submits the reason modal (`reason` None: left empty)."""
    await click(bot, slack, attempt_id, ts, user=user, action=ids.REJECT_ACTION)
    shown = bot.slack.current_view(user)
    assert shown is not None and shown["callback_id"] == ids.REJECT_CALLBACK, shown
    values = {
        ids.REJECT_REASON_BLOCK: {
            ids.REJECT_REASON_ACTION: {"type": "plain_text_input", "value": reason}
        }
    }
    submitted = await slack.submit(user=user, values=values)
    assert submitted.status_code == 200
    assert not submitted.content.strip(), "the reject modal closes on submit"
    await bot.idle()


def thread_replies(bot: InProcessBot, ts: str) -> list[SlackMessage]:
    return [m for m in bot.slack.messages(INCIDENTS) if m.thread_ts == ts]


async def test_a_request_waits_for_an_approver_then_runs_and_reports_in_its_thread(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-approve-01")
    async with bot.client() as slack:
        await slack.command(
            f"nightly-etl {run} billing is double-charging", user=ALICE, channel=INCIDENTS
        )
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ALICE)
        request = await posted(bot.slack, INCIDENTS)
        assert bot.vectorshift.terminate_calls == []
        [(approve_id, attempt_id), (reject_id, _)] = buttons(request.args["blocks"])
        assert (approve_id, reject_id) == ("vs_approve", "vs_reject")
        assert f"<@{BOSS}>" in texts(request.args["blocks"])
        ts = bot.slack.messages(INCIDENTS)[-1].ts
        await slack.click(
            attempt_id, user=LEAD, channel=INCIDENTS, action_id="vs_approve", message_ts=ts
        )
        result = await posted(bot.slack, INCIDENTS, count=2)
    assert result.args["thread_ts"] == ts
    assert "Terminated — verified stopped" in result.args["text"]
    assert len(bot.vectorshift.terminate_calls) == 1
    [record] = await bot.audit_records()
    assert (record["outcome"], record["approved_by"]) == ("succeeded", LEAD)


async def test_the_requesters_modal_names_the_approvers_and_nothing_is_called_yet(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-waiting-01")
    async with bot.client() as slack:
        attempt_id, _, shown = await ask(bot, slack, run)
        await slack.command("history", user=ALICE, channel=INCIDENTS)
        await bot.idle()
        history = told(bot, str(slack.last_response_url).rsplit("/", 1)[1])
    words = texts(shown)
    assert "needs approval" in words, words
    assert f"<@{BOSS}>" in words and f"<!subteam^{LEADS}>" in words, words
    assert shown.get("submit") is None, "a waiting request's modal offers nothing to submit"
    assert f"Attempt {attempt_id}" in words
    assert bot.vectorshift.terminate_calls == []
    assert bot.vectorshift.pause_calls == []
    request = request_message(bot, attempt_id)
    assert f"<@{ALICE}> asks to terminate run `{run}`" in request.text, request.text
    assert "Reason: billing is double-charging" in request.text, request.text
    assert {"type": "user", "user_id": ALICE} in request.blocks[0]["elements"][0]["elements"]
    [record] = await bot.audit_records()
    assert (record["id"], record["outcome"], record["approved_by"]) == (
        attempt_id,
        "awaiting_approval",
        None,
    )
    assert record["rule"] == "prod-oncall"
    assert record["completed_at"] is None
    [line] = history
    assert f"run `{run}` — *awaiting_approval*" in line, line
    # The audit channel hears of the request too.
    mirror = await posted(bot.slack, AUDIT)
    assert "awaiting_approval" in mirror.args["text"]


async def test_the_requester_and_an_outsider_may_not_decide(bot: InProcessBot) -> None:
    run = bot.add_run("run-refuse-01")
    async with bot.client() as slack:
        attempt_id, ts, _ = await ask(bot, slack, run)
        before = request_message(bot, attempt_id)
        opens_before = len(bot.slack.calls("views.open"))
        own_approve = await click(bot, slack, attempt_id, ts, user=ALICE, action=ids.APPROVE_ACTION)
        own_reject = await click(bot, slack, attempt_id, ts, user=ALICE, action=ids.REJECT_ACTION)
        out_approve = await click(
            bot, slack, attempt_id, ts, user=MALLORY, action=ids.APPROVE_ACTION
        )
        out_reject = await click(bot, slack, attempt_id, ts, user=MALLORY, action=ids.REJECT_ACTION)
        after = request_message(bot, attempt_id)
    for rid in (own_approve, own_reject):
        [text] = told(bot, rid)
        assert "You asked for this; someone else has to approve it." in text, text
    for rid in (out_approve, out_reject):
        [text] = told(bot, rid)
        assert f"<@{BOSS}>" in text and f"<!subteam^{LEADS}>" in text, f"who can approve? {text}"
        assert "needs approval from" in text, text
    # Ephemeral: every answer went to the clicker's response_url, none into the channel.
    for call in bot.slack.calls("response_url"):
        assert call.args.get("response_type", "ephemeral") == "ephemeral", call.args
    assert len(bot.slack.calls("views.open")) == opens_before, "no reject modal for them"
    assert (after.text, after.edits) == (before.text, before.edits)
    assert bot.vectorshift.terminate_calls == []
    [record] = await bot.audit_records()
    assert (record["outcome"], record["approved_by"], record["error"]) == (
        "awaiting_approval",
        None,
        None,
    )


async def test_reject_with_a_reason_settles_the_request_and_tells_the_requester(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-reject-01")
    async with bot.client() as slack:
        attempt_id, ts, _ = await ask(bot, slack, run)
        await click(bot, slack, attempt_id, ts, user=LEAD, action=ids.REJECT_ACTION)
        opened = await bot.slack.async_wait_for(
            "views.open", lambda c: view_of(c).get("callback_id") == ids.REJECT_CALLBACK
        )
        reject_view = view_of(opened)
        assert reject_view["callback_id"] == ids.REJECT_CALLBACK
        assert reject_view["private_metadata"] == attempt_id
        values = {
            ids.REJECT_REASON_BLOCK: {
                ids.REJECT_REASON_ACTION: {"type": "plain_text_input", "value": "use pause first"}
            }
        }
        submitted = await slack.submit(user=LEAD, values=values)
        assert submitted.status_code == 200
        await bot.idle()
        request = request_message(bot, attempt_id)
        replies = thread_replies(bot, ts)
        late = await click(bot, slack, attempt_id, ts, user=BOSS, action=ids.APPROVE_ACTION)
    assert f"Rejected by <@{LEAD}>" in request.text, request.text
    assert "use pause first" in request.text
    assert buttons(request.blocks) == [], "a decided request keeps no buttons"
    [reply] = replies
    assert f"<@{ALICE}>" in reply.text and "Rejected by" in reply.text, reply.text
    assert bot.vectorshift.terminate_calls == []
    [record] = await bot.audit_records()
    assert record["outcome"] == "rejected"
    assert record["error"] is not None and LEAD in str(record["error"])
    assert "use pause first" in str(record["error"])
    assert record["completed_at"] is not None
    [text] = told(bot, late)
    assert "already rejected" in text, text
    assert bot.vectorshift.terminate_calls == []
    # The claim is released: the requester may ask again and a new request is posted.
    async with bot.client() as slack:
        again, _, _ = await ask(bot, slack, run)
    assert again != attempt_id


async def test_two_approvals_count_distinct_approvers_then_run_once(two_bot: InProcessBot) -> None:
    bot = two_bot
    run = bot.add_run("run-two-appr-1")
    async with bot.client() as slack:
        attempt_id, ts, shown = await ask(bot, slack, run)
        await click(bot, slack, attempt_id, ts, user=LEAD, action=ids.APPROVE_ACTION)
        first = request_message(bot, attempt_id)
        again = await click(bot, slack, attempt_id, ts, user=LEAD, action=ids.APPROVE_ACTION)
        after_again = request_message(bot, attempt_id)
        calls_after_one = list(bot.vectorshift.terminate_calls)
        await click(bot, slack, attempt_id, ts, user=BOSS, action=ids.APPROVE_ACTION)
        result = await bot.slack.async_wait_for(
            "chat.postMessage",
            lambda c: c.args.get("thread_ts") == ts and "Terminated" in c.args["text"],
        )
        final = request_message(bot, attempt_id)
    assert "2 of" in texts(shown), texts(shown)
    assert calls_after_one == []
    assert f"Approved so far: <@{LEAD}>" in first.text, first.text
    assert buttons(first.blocks)[0] == (ids.APPROVE_ACTION, attempt_id), "still waits for one more"
    [text] = told(bot, again)
    assert "approved this already" in text, text
    assert after_again.edits == first.edits, "a second click by the same approver changes nothing"
    assert "Terminated — verified stopped" in result.args["text"]
    assert len(bot.vectorshift.terminate_calls) == 1
    assert "Approved by" in final.text and buttons(final.blocks) == []
    [record] = await bot.audit_records()
    assert (record["outcome"], record["approved_by"]) == ("succeeded", f"{LEAD},{BOSS}")
    assert record["approved_at"] is not None


async def test_a_replayed_approval_click_terminates_once(bot: InProcessBot) -> None:
    run = bot.add_run("run-replay-app")
    async with bot.client() as slack:
        attempt_id, ts, _ = await ask(bot, slack, run)
        message = request_message(bot, attempt_id)
        response_url = bot.slack.response_url(channel=INCIDENTS, message_ts=ts, user_id=LEAD)
        bot.slack.ensure_user(LEAD)
        body = block_actions_body(
            ids.APPROVE_ACTION,
            attempt_id,
            user_id=LEAD,
            channel_id=INCIDENTS,
            message_ts=ts,
            trigger_id=bot.slack.mint_trigger_id(LEAD),
            response_url=response_url,
            message_blocks=message.blocks,
            message_text=message.text,
        )
        acks = await asyncio.gather(slack.send(body), slack.send(body))
        await bot.idle()
        finished = list(bot.vectorshift.terminate_calls)
        late = await slack.send(body)
        await bot.idle()
    assert [a.status_code for a in [*acks, late]] == [200, 200, 200]
    assert len(finished) == 1
    assert len(bot.vectorshift.terminate_calls) == 1, "a replay after the end acted again"
    replies = told(bot, response_url.rsplit("/", 1)[1])
    assert len(replies) == 2 and all("nothing changed" in r for r in replies), replies
    results = [m for m in thread_replies(bot, ts) if "Terminated" in m.text]
    assert len(results) == 1, [m.text for m in thread_replies(bot, ts)]
    [record] = await bot.audit_records()
    assert (record["outcome"], record["approved_by"]) == ("succeeded", LEAD)


async def test_a_request_nobody_decides_expires(timed_bot: InProcessBot, clock: Clock) -> None:
    bot = timed_bot
    run = bot.add_run("run-expire-001")
    async with bot.client() as slack:
        attempt_id, ts, _ = await ask(bot, slack, run)
        await flows.expire_overdue(bot.runtime.deps)  # not due yet: nothing happens
        assert [r["outcome"] for r in await bot.audit_records()] == ["awaiting_approval"]
        clock.offset = timedelta(minutes=31)
        await flows.expire_overdue(bot.runtime.deps)
        await bot.idle()
        request = request_message(bot, attempt_id)
        replies = thread_replies(bot, ts)
        late = await click(bot, slack, attempt_id, ts, user=LEAD, action=ids.APPROVE_ACTION)
        await flows.expire_overdue(bot.runtime.deps)  # once only
        await bot.idle()
    assert "Expired" in request.text, request.text
    assert buttons(request.blocks) == []
    [reply] = replies
    assert f"<@{ALICE}>" in reply.text and "Expired" in reply.text, reply.text
    [record] = await bot.audit_records()
    assert record["outcome"] == "expired"
    assert record["completed_at"] is not None
    [text] = told(bot, late)
    assert "already expired" in text, text
    assert bot.vectorshift.terminate_calls == []
    assert len(thread_replies(bot, ts)) == 1, "a second sweep told the requester again"


async def test_the_approvals_command_lists_what_waits_on_each_caller(bot: InProcessBot) -> None:
    run = bot.add_run("run-listed-001")
    async with bot.client() as slack:
        attempt_id, ts, _ = await ask(bot, slack, run)
        answers: dict[str, list[SlackCall]] = {}
        for user in (LEAD, ALICE, MALLORY):
            await slack.command("approvals", user=user, channel=INCIDENTS)
            await bot.idle()
            rid = str(slack.last_response_url).rsplit("/", 1)[1]
            answers[user] = [
                c for c in bot.slack.calls("response_url") if c.args["response_url_id"] == rid
            ]
        [lead] = answers[LEAD]
        # Approve from the ephemeral list the lead was shown.
        [listed] = [m for m in bot.slack.messages(INCIDENTS) if m.ephemeral_to == LEAD]
        await slack.click(
            attempt_id,
            user=LEAD,
            channel=INCIDENTS,
            action_id=ids.APPROVE_ACTION,
            message_ts=listed.ts,
        )
        await bot.idle()
        request = request_message(bot, attempt_id)
    assert (ids.APPROVE_ACTION, attempt_id) in buttons(lead.args["blocks"])
    assert (ids.REJECT_ACTION, attempt_id) in buttons(lead.args["blocks"])
    assert run in lead.args["text"] and f"<@{ALICE}>" in lead.args["text"]
    [alice] = answers[ALICE]
    assert "Your requests still waiting" in alice.args["text"], alice.args["text"]
    assert run in alice.args["text"]
    assert buttons(alice.args.get("blocks")) == [], "no buttons on one's own request"
    [mallory] = answers[MALLORY]
    assert run not in mallory.args["text"] and attempt_id not in mallory.args["text"]
    assert buttons(mallory.args.get("blocks")) == []
    assert len(bot.vectorshift.terminate_calls) == 1
    assert "Approved by" in request.text and buttons(request.blocks) == []
    result = [m for m in thread_replies(bot, ts) if "Terminated" in m.text]
    assert len(result) == 1, "the result goes into the request's thread"
    [record] = await bot.audit_records()
    assert (record["outcome"], record["approved_by"]) == ("succeeded", LEAD)


async def test_a_second_request_for_a_waiting_run_is_a_duplicate_naming_the_requester(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-dup-000001")
    async with bot.client() as slack:
        attempt_id, _, _ = await ask(bot, slack, run)
        await slack.command(f"nightly-etl {run} me too", user=CAROL, channel=INCIDENTS)
        await bot.idle()
        carol = bot.slack.current_view(CAROL)
        await slack.command(f"nightly-etl {run} admin", user=ADMIN, channel=INCIDENTS)
        await bot.idle()
        admin = bot.slack.current_view(ADMIN)
    for shown in (carol, admin):
        assert shown is not None
        assert shown.get("submit") is None, "no button to submit a duplicate"
        words = texts(shown)
        assert f"<@{ALICE}> already asked" in words and attempt_id in words, words
    assert bot.vectorshift.terminate_calls == []
    records = await bot.audit_records()
    assert [(r["user_id"], r["outcome"]) for r in records] == [
        (ALICE, "awaiting_approval"),
        (CAROL, "duplicate"),
        (ADMIN, "duplicate"),
    ]
    assert ALICE in str(records[1]["error"]) and attempt_id in str(records[1]["error"])
    assert len([c for c in bot.slack.calls("chat.postMessage") if is_request(c)]) == 1


async def test_two_modals_open_on_one_run_the_second_submission_is_a_duplicate(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-dup-000002")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run} first", user=ALICE, channel=INCIDENTS)
        await bot.idle()
        await slack.command(f"nightly-etl {run} second", user=CAROL, channel=INCIDENTS)
        await bot.idle()
        await slack.submit(user=ALICE, reason="first")
        await bot.idle()
        await slack.submit(user=CAROL, reason="second")
        await bot.idle()
        carol = bot.slack.current_view(CAROL)
    assert carol is not None
    assert f"<@{ALICE}> already asked" in texts(carol), texts(carol)
    records = await bot.audit_records()
    assert [(r["user_id"], r["outcome"]) for r in records] == [
        (ALICE, "awaiting_approval"),
        (CAROL, "duplicate"),
    ]
    assert len([c for c in bot.slack.calls("chat.postMessage") if is_request(c)]) == 1
    assert bot.vectorshift.terminate_calls == []


async def test_can_i_says_approval_is_needed_and_a_pause_goes_alone(
    pause_bot: InProcessBot,
) -> None:
    bot = pause_bot
    run = bot.add_run("run-pause-alone")
    async with bot.client() as slack:
        await slack.command("can-i nightly-etl", user=ALICE, channel=INCIDENTS)
        await bot.idle()
        [can_i] = bot.slack.calls("response_url")
        await slack.command(f"pause nightly-etl {run} look", user=ALICE, channel=INCIDENTS)
        await modal(bot.slack, ids.CONFIRM_CALLBACK)
        await slack.submit(user=ALICE, reason="look")
        paused = await posted(bot.slack, INCIDENTS)
        await bot.idle()
        attempt_id, _, shown = await ask(bot, slack, run, reason="stop it")
    text = can_i.args["text"]
    assert "You may pause, resume and terminate" in text, text
    assert "Approval is needed from 1 of" in text and LEADS in text and BOSS in text, text
    assert "Paused — verified paused" in paused.args["text"], paused.args["text"]
    assert not is_request(paused)
    assert [c.run_id for c in bot.vectorshift.pause_calls] == [run]
    assert bot.vectorshift.terminate_calls == []
    assert "needs approval" in texts(shown)
    records = await bot.audit_records()
    assert [(r["action"], r["outcome"], r["rule"]) for r in records] == [
        ("pause", "succeeded", "oncall-pause"),
        ("terminate", "awaiting_approval", "oncall-terminate"),
    ]
    assert records[1]["id"] == attempt_id


async def test_a_rejection_without_a_reason_by_a_direct_approver(bot: InProcessBot) -> None:
    run = bot.add_run("run-reject-02")
    async with bot.client() as slack:
        attempt_id, ts, _ = await ask(bot, slack, run)
        await reject(bot, slack, attempt_id, ts, user=BOSS, reason=None)
        # A replayed rejection (the same modal submitted again) changes nothing.
        again = await slack.submit(
            user=BOSS,
            view_id="V-replayed",
            callback_id=ids.REJECT_CALLBACK,
            private_metadata=attempt_id,
            values={},
        )
        await bot.idle()
        request = request_message(bot, attempt_id)
    assert again.status_code == 200
    assert f"Rejected by <@{BOSS}>" in request.text and buttons(request.blocks) == []
    [reply] = thread_replies(bot, ts)
    assert reply.text.startswith(f"<@{ALICE}>"), reply.text
    [record] = await bot.audit_records()
    assert (record["outcome"], record["error"]) == ("rejected", f"rejected by {BOSS}")
    ephemeral = [c.args["text"] for c in bot.slack.calls("chat.postEphemeral")]
    assert any("already rejected" in t for t in ephemeral), ephemeral
    assert bot.vectorshift.terminate_calls == []
