"""The real Alertmanager sends its webhooks to the real bot process (SPEC §4.7).

Each test starts the bot (`make_stack`, against the stub Slack and the fake VectorShift) and
Debian's `/usr/bin/prometheus-alertmanager` (`devkit.alertmanager`) with its own config and
workdir under `tmp_path`, pointed at `<bot>/api/alerts/alertmanager` with the bot's alerts
token. The harness's small timers (group_wait 200ms, group_interval 1s, repeat_interval 1s:
a repeat every ~2 s) keep the module to seconds. Tests wait on the stub Slack's recorded calls
or on Alertmanager's log, never on a fixed sleep. The in-process tests of the same routes, with
recorded bodies, are in tests/slack/test_alert_webhooks.py.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from scenario import ALICE, INCIDENTS, PIPELINE_ID, add_run, make_stack

from bot.slack import ids
from devkit.alertmanager import Alert, AlertmanagerProcess
from devkit.expect import modal, texts
from devkit.fakes import SlackCall
from devkit.stack import ALERTS_TOKEN, LocalStack

pytestmark = pytest.mark.e2e

WEBHOOK_PATH = "/api/alerts/alertmanager"
SUMMARY = "Nightly ETL has been running for over 3 h"
GENERATOR_URL = "http://127.0.0.1:9090/graph?g0.expr=vs_run_seconds+%3E+10800"
WAIT_S = 15.0
"""Every wait: far above the ~2 s between Alertmanager's repeats, far below a hang."""
Match = Callable[[SlackCall], bool]
BUTTONS = [ids.PAUSE_ACTION, ids.TERMINATE_ACTION]
RESOLVED = re.compile(r"\*Resolved\* at \d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC")


@contextmanager
def bot(tmp_path: Path) -> Iterator[LocalStack]:
    """The bot, posting alerts without a `slack_channel` label to the incident channel."""
    with make_stack(tmp_path / "bot", env={"VS_ALERTS_DEFAULT_CHANNEL": INCIDENTS}) as stack:
        yield stack
        stack.slack.assert_within_limits()


def alertmanager(
    tmp_path: Path, stack: LocalStack, *, token: str = ALERTS_TOKEN, log_level: str = "info"
) -> AlertmanagerProcess:
    """Alertmanager sending to the bot's webhook route, with its own workdir."""
    return AlertmanagerProcess(
        tmp_path / "alertmanager",
        webhook_url=stack.url + WEBHOOK_PATH,
        token=token,
        log_level=log_level,
    )


def run_alert(run: str | None, **labels: str) -> Alert:
    """A firing alert about one run of nightly-etl, as a Prometheus rule would push it."""
    run_label = {} if run is None else {"vs_run": run}
    return Alert(
        labels={
            "alertname": "VectorShiftRunTooLong",
            "severity": "critical",
            "vs_pipeline": "nightly-etl",
            **run_label,
            **labels,
        },
        annotations={"summary": SUMMARY, "description": f"Run {run} started 3 h ago."},
        # startsAt = now, so that alerts pushed together stay one group (ALERTMANAGER_NOTES §3).
        starts_at=datetime.now(UTC),
        generator_url=GENERATOR_URL,
    )


def about(run: str) -> str:
    """What every alert message's text fallback says about its run (firing, resolved, done)."""
    return f"(pipeline nightly-etl, run {run})"


def is_alert_post(run: str) -> Match:
    """Matches the top-level `chat.postMessage` of an alert about `run` (not thread replies)."""
    return lambda c: about(run) in str(c.args.get("text")) and not c.args.get("thread_ts")


def alert_posts(stack: LocalStack, run: str) -> list[SlackCall]:
    return [c for c in stack.slack.calls("chat.postMessage") if is_alert_post(run)(c)]


def alert_ts(stack: LocalStack, run: str) -> str:
    """The ts of the one message the bot posted for `run`'s alert."""
    [message] = [
        m for m in stack.slack.messages(INCIDENTS) if m.thread_ts is None and about(run) in m.text
    ]
    return message.ts


def updates_of(ts: str) -> Match:
    return lambda c: c.args.get("ts") == ts


def later_update_of(ts: str, since: SlackCall) -> Match:
    """Matches an update of `ts` that arrived after `since` (a predicate must not call
    `stack.slack.calls`: the journal holds its lock while it waits)."""
    return lambda c: c.args.get("ts") == ts and c.at > since.at


def buttons(message_blocks: list[dict[str, Any]] | None) -> list[str]:
    return [
        e["action_id"]
        for b in message_blocks or []
        if b.get("type") == "actions"
        for e in b["elements"]
    ]


def current_blocks(stack: LocalStack, ts: str) -> list[dict[str, Any]]:
    message = stack.slack.message(INCIDENTS, ts)
    assert message is not None, f"the stub Slack has no message {ts}"
    return message.blocks


def alerts_counter(stack: LocalStack, result: str) -> float:
    """`vs_terminate_alerts_total{result=…, source="alertmanager"}` from the bot's /metrics."""
    with urllib.request.urlopen(f"{stack.url}/metrics", timeout=5) as response:  # noqa: S310
        body = response.read().decode()
    line = f'vs_terminate_alerts_total{{result="{result}",source="alertmanager"}} '
    [value] = [row.removeprefix(line) for row in body.splitlines() if row.startswith(line)]
    return float(value)


def test_a_firing_alert_is_posted_once_and_each_repeat_updates_that_message(
    tmp_path: Path,
) -> None:
    run = "run-am-e2e-repeat"
    with bot(tmp_path) as stack, alertmanager(tmp_path, stack) as am:
        am.push([run_alert(run)])
        post = stack.slack.wait_for("chat.postMessage", is_alert_post(run), timeout=WAIT_S)
        ts = alert_ts(stack, run)
        # repeat_interval: Alertmanager sends the identical body again, every ~2 s.
        stack.slack.wait_for("chat.update", updates_of(ts), timeout=WAIT_S, count=2)
        posts = alert_posts(stack, run)
        updates = [c for c in stack.slack.calls("chat.update") if updates_of(ts)(c)]
        blocks = current_blocks(stack, ts)

    assert len(posts) == 1, f"a repeat posted the alert again: {[p.args for p in posts]}"
    assert post.args["channel"] == INCIDENTS  # VS_ALERTS_DEFAULT_CHANNEL: no slack_channel label
    shown = texts(blocks)
    assert "VectorShiftRunTooLong" in shown
    assert "critical" in shown
    assert SUMMARY in shown
    assert f"Run {run} started 3 h ago." in shown
    assert "|Source>" in json.dumps(blocks)  # the generatorURL, linked
    assert buttons(blocks) == BUTTONS
    assert buttons(post.args["blocks"]) == BUTTONS
    assert len(updates) >= 2
    for update in updates:  # a repeat shows the same alert, buttons and all
        assert update.args["channel"] == INCIDENTS
        assert buttons(update.args["blocks"]) == BUTTONS
        assert SUMMARY in texts(update.args["blocks"])
    assert stack.vectorshift.terminate_calls == []
    assert stack.vectorshift.pause_calls == []


def test_a_group_gets_one_message_per_run_and_a_resolved_run_loses_its_buttons(
    tmp_path: Path,
) -> None:
    runs = ["run-am-e2e-grp-1", "run-am-e2e-grp-2", "run-am-e2e-grp-3"]
    alerts = [run_alert(run) for run in runs]
    with bot(tmp_path) as stack, alertmanager(tmp_path, stack) as am:
        am.push(alerts)
        for run in runs:
            stack.slack.wait_for("chat.postMessage", is_alert_post(run), timeout=WAIT_S)
        ts = {run: alert_ts(stack, run) for run in runs}
        am.resolve(alerts[:1])
        resolved = stack.slack.wait_for(
            "chat.update",
            lambda c: c.args.get("ts") == ts[runs[0]] and "Resolved" in texts(c.args.get("blocks")),
            timeout=WAIT_S,
        )
        # The rest of the group keeps firing: wait for one of its repeats after the resolution.
        stack.slack.wait_for("chat.update", later_update_of(ts[runs[1]], resolved), timeout=WAIT_S)
        posts = {run: alert_posts(stack, run) for run in runs}
        blocks = {run: current_blocks(stack, ts[run]) for run in runs}

    assert len(set(ts.values())) == 3
    assert {run: len(p) for run, p in posts.items()} == dict.fromkeys(runs, 1)
    assert len(stack.slack.calls("chat.postMessage")) == 3
    assert RESOLVED.search(texts(resolved.args["blocks"])), texts(resolved.args["blocks"])
    assert resolved.args["text"].startswith("Resolved: ")
    assert buttons(resolved.args["blocks"]) == []
    assert RESOLVED.search(texts(blocks[runs[0]]))
    assert buttons(blocks[runs[0]]) == []
    for run in runs[1:]:
        assert buttons(blocks[run]) == BUTTONS, run
        assert "Resolved" not in texts(blocks[run]), run


def test_a_wrong_token_is_refused_with_401_and_nothing_reaches_slack(tmp_path: Path) -> None:
    with (
        bot(tmp_path) as stack,
        alertmanager(tmp_path, stack, token="not-the-alerts-token-0123456789") as am,
    ):
        am.push([run_alert("run-am-e2e-401")])
        log = am.wait_for_log("unexpected status code 401", timeout_s=WAIT_S)
        refused = alerts_counter(stack, "refused")
        posted = alerts_counter(stack, "posted")

    # Alertmanager logs the bot's answer body after the URL; the token is nowhere in it.
    assert f"unexpected status code 401: {stack.url}{WEBHOOK_PATH}: " in log
    assert "invalid or missing bearer token" in log
    assert "not-the-alerts-token" not in log
    assert ALERTS_TOKEN not in log
    assert refused >= 1
    assert posted == 0
    assert stack.slack.calls("chat.postMessage") == []
    assert stack.slack.calls("chat.update") == []


def test_an_alert_without_a_run_label_is_skipped_and_its_group_still_shown(
    tmp_path: Path,
) -> None:
    run = "run-am-e2e-skip"
    # debug: Alertmanager logs a first-attempt "Notify success", i.e. once the bot has answered.
    with bot(tmp_path) as stack, alertmanager(tmp_path, stack, log_level="debug") as am:
        am.push([run_alert(run), run_alert(None, instance="etl-worker-7")])
        stack.slack.wait_for("chat.postMessage", is_alert_post(run), timeout=WAIT_S)
        am_log = am.wait_for_log('msg="Notify success"', timeout_s=WAIT_S)
        bot_log = stack.log()
        skipped = alerts_counter(stack, "skipped")

    assert 'msg="Notify success" attempts=1' in am_log  # a 200 at once: no retry, no 4xx
    # Both alerts came in one body: the good one shown, the other named in the bot's log.
    assert "alertmanager: 2 alerts: 1 posted, 1 skipped" in bot_log
    assert "alertmanager: not shown: labels: no vs_run (or run, run_id) label" in bot_log
    assert skipped >= 1
    [post] = stack.slack.calls("chat.postMessage")
    assert about(run) in post.args["text"]


async def test_terminate_clicked_on_an_alertmanager_alert_and_the_repeats_after_it(
    tmp_path: Path,
) -> None:
    with bot(tmp_path) as stack, alertmanager(tmp_path, stack) as am:
        run = add_run(stack, "run-am-e2e-click")
        am.push([run_alert(run)])
        await stack.slack.async_wait_for("chat.postMessage", is_alert_post(run), timeout=WAIT_S)
        ts = alert_ts(stack, run)
        async with stack.client() as slack:
            await slack.click(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS, message_ts=ts)
            await modal(stack.slack, ids.CONFIRM_CALLBACK)
            await slack.submit(user=ALICE, reason="Alertmanager says it overran")
            reply = await stack.slack.async_wait_for(
                "chat.postMessage", lambda c: c.args.get("thread_ts") == ts, timeout=WAIT_S + 10
            )
        done = await stack.slack.async_wait_for(
            "chat.update",
            lambda c: c.args.get("ts") == ts and "succeeded" in texts(c.args.get("blocks")),
            timeout=WAIT_S,
        )
        # Alertmanager keeps re-sending the firing alert: two more repeats after the outcome.
        await stack.slack.async_wait_for(
            "chat.update", later_update_of(ts, done), timeout=WAIT_S, count=2
        )
        later = stack.slack.calls("chat.update")
        later = [c for c in later if later_update_of(ts, done)(c)]
        blocks = current_blocks(stack, ts)
        posts = alert_posts(stack, run)
        terminate_calls = stack.vectorshift.terminate_calls
        records = await asyncio.to_thread(stack.audit_records)

    assert reply.args["channel"] == INCIDENTS
    assert "Terminated — verified stopped" in reply.args["text"]
    assert [(c.pipeline_id, c.run_id) for c in terminate_calls] == [(PIPELINE_ID, run)]
    assert len(later) >= 2
    for update in later:
        shown = texts(update.args["blocks"])
        assert buttons(update.args["blocks"]) == [], (
            f"a repeat after the terminate put buttons back on the alert: {shown}"
        )
        assert "succeeded" in shown, f"a repeat after the terminate lost the outcome: {shown}"
    assert buttons(blocks) == []
    assert "succeeded" in texts(blocks)
    assert f"<@{ALICE}>" in texts(blocks)
    assert SUMMARY in texts(blocks)
    assert len(posts) == 1
    [record] = records
    assert (record["source"], record["thread_ts"], record["outcome"], record["action"]) == (
        "button",
        ts,
        "succeeded",
        "terminate",
    )
