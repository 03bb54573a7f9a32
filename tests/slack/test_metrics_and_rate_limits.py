"""Operations in process: metrics, Slack's rate limits, fuzzed signed payloads (SPEC §3, §7)."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

from harness import InProcessBot, running_bot

from devkit.expect import modal, posted, terminate_via_modal
from devkit.fakes import RunScript
from devkit.scenario import ADMIN, INCIDENTS

PROMTOOL = "/usr/bin/promtool"


async def test_metrics_count_attempts_and_vectorshift_calls(bot: InProcessBot) -> None:
    run = bot.add_run("run-metrics-1")
    async with bot.client() as slack:
        await terminate_via_modal(
            slack,
            bot.slack,
            f"nightly-etl {run}",
            user=ADMIN,
            channel=INCIDENTS,
            reason="metrics",
        )

    async with bot.http() as http:
        body = (await http.get("/metrics")).text
    assert 'vs_terminate_attempts_total{action="terminate",outcome="succeeded"} 1.0' in body
    # Series that saw no event yet are there at zero, so rate() works from the first one.
    assert 'vs_terminate_attempts_total{action="resume",outcome="failed"} 0.0' in body
    assert 'vs_terminate_alerts_total{result="resolved",source="alertmanager"} 0.0' in body
    assert 'vs_terminate_vectorshift_requests_total{operation="terminate",status="200"} 1.0' in body
    assert "vs_terminate_vectorshift_latency_seconds_bucket" in body


async def test_promtool_accepts_the_metrics(bot: InProcessBot) -> None:
    """Debian's `promtool check metrics` (scripts/system-deps.sh installs it) lints /metrics."""
    run = bot.add_run("run-promtool-1")
    async with bot.client() as slack:
        await terminate_via_modal(
            slack, bot.slack, f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS, reason="lint"
        )
    await bot.post_alert({"channel": INCIDENTS, "pipeline": "nightly-etl", "run": run, "text": "x"})
    async with bot.http() as http:
        body = (await http.get("/metrics")).content
    checked = await asyncio.to_thread(
        subprocess.run,
        [PROMTOOL, "check", "metrics"],
        input=body,
        capture_output=True,
        timeout=30,
        check=False,
    )
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, b"", b"")
    assert b'vs_terminate_alerts_total{result="posted",source="native"} 1.0' in body


async def test_slack_rate_limit_is_honoured_and_the_result_still_arrives(bot: InProcessBot) -> None:
    bot.slack.fail(
        "chat.postMessage", "ratelimited", status=429, retry_after=1, times=1, channel=INCIDENTS
    )
    run = bot.add_run("run-429-00001")
    async with bot.client() as slack:
        await slack.command(f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS)
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ADMIN, reason="rate limited")
        delivered = await posted(bot.slack, INCIDENTS, count=2)
    refused = bot.slack.calls("chat.postMessage")[0]
    assert refused.error == "ratelimited"
    assert delivered.error is None
    assert delivered.at - refused.at >= 0.9
    assert "Terminated — verified" in delivered.args["text"]


async def test_metrics_count_vectorshift_calls_that_got_no_answer(
    tmp_path: Path, sqlite_url: str
) -> None:
    async with running_bot(tmp_path, sqlite_url, deadline_s=0.3) as bot:
        bot.vectorshift.hang_s = 5.0
        run = bot.add_run("run-hangs-001", RunScript.TIMES_OUT)
        async with bot.client() as slack:
            await terminate_via_modal(
                slack, bot.slack, f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS, reason="x"
            )
        async with bot.http() as http:
            body = (await http.get("/metrics")).text
    assert (
        'vs_terminate_vectorshift_requests_total{operation="terminate",status="error"} 1.0' in body
    )
