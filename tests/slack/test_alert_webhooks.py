"""Alertmanager and Grafana webhooks, in process (SPEC §4.7): real bodies, the stub Slack.

The real Alertmanager process drives the same routes in `tests/e2e/test_alertmanager_e2e.py`;
here the bodies it sent (tests/fixtures/alertmanager) and Grafana's documented ones are posted
directly, which reaches the corners a live Alertmanager cannot be steered into.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from harness import InProcessBot

from devkit.expect import modal, posted, texts
from devkit.fakes import RunScript
from devkit.scenario import ALICE, INCIDENTS

AM = "/api/alerts/alertmanager"
GRAFANA = "/api/alerts/grafana"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def am_body(*runs: str, status: str = "firing", **labels: str) -> dict[str, Any]:
    """A real Alertmanager body (firing.json) carrying one alert per run."""
    body = fixture("alertmanager/firing.json")
    template = body["alerts"][0]
    body["alerts"] = []
    for i, run in enumerate(runs):
        alert = copy.deepcopy(template)
        alert["labels"] |= {"vs_run": run, **labels}
        alert["fingerprint"] = f"{i:016x}"
        alert["status"] = status
        if status == "resolved":
            alert["endsAt"] = "2026-12-05T23:30:00.123456789Z"
        body["alerts"].append(alert)
    body["status"] = status
    return body


def buttons(blocks: list[dict[str, Any]] | None) -> list[str]:
    return [e["action_id"] for b in blocks or [] if b["type"] == "actions" for e in b["elements"]]


async def test_a_firing_alert_posts_once_and_every_repeat_updates_it(bot: InProcessBot) -> None:
    body = fixture("alertmanager/firing.json")
    status, first = await bot.post_alert(body, path=AM)
    assert status == 200
    [result] = first["results"]
    assert (first["ok"], result["fingerprint"], result["ok"]) == (True, "7e9cfb547720b511", True)
    for _ in range(3):  # repeat_interval: the same body again
        status, again = await bot.post_alert(fixture("alertmanager/repeat.json"), path=AM)
        assert (status, again["results"][0]["ts"]) == (200, result["ts"])
    [post] = bot.slack.calls("chat.postMessage")
    assert post.args["channel"] == INCIDENTS  # VS_ALERTS_DEFAULT_CHANNEL: no slack_channel label
    assert len(bot.slack.calls("chat.update")) == 3
    message = bot.slack.message(INCIDENTS, result["ts"])
    assert message is not None
    shown = texts(message.blocks)
    assert "VectorShiftRunTooLong" in shown
    assert "critical" in shown
    assert "Nightly ETL has been running for over 3 h" in shown
    assert "Run run-7f3a9c of nightly-etl started more than 3 hours ago." in shown
    assert buttons(message.blocks) == ["vs_pause", "vs_terminate"]
    assert bot.vectorshift.terminate_calls == []


async def test_a_group_posts_one_message_per_run_and_a_resolution_retires_one(
    bot: InProcessBot,
) -> None:
    status, firing = await bot.post_alert(fixture("alertmanager/group_firing.json"), path=AM)
    assert status == 200
    ts = [r["ts"] for r in firing["results"]]
    assert len(set(ts)) == 3
    status, partly = await bot.post_alert(
        fixture("alertmanager/group_partly_resolved.json"), path=AM
    )
    assert status == 200
    assert [r["ts"] for r in partly["results"]] == ts
    assert len(bot.slack.calls("chat.postMessage")) == 3
    resolved = bot.slack.message(INCIDENTS, ts[0])
    assert resolved is not None
    assert "*Resolved* at 2026-12-05 23:04 UTC" in texts(resolved.blocks)
    assert buttons(resolved.blocks) == []
    still = bot.slack.message(INCIDENTS, ts[1])
    assert still is not None
    assert buttons(still.blocks) == ["vs_pause", "vs_terminate"]


async def test_skipped_alerts_are_reported_and_the_rest_still_shown(bot: InProcessBot) -> None:
    status, answer = await bot.post_alert(fixture("alertmanager/label_variants.json"), path=AM)
    assert status == 200
    by_fingerprint = {r["fingerprint"]: r for r in answer["results"]}
    assert by_fingerprint["5fe9c119e66831c5"] == {
        "fingerprint": "5fe9c119e66831c5",
        "ok": False,
        "error": "labels: no vs_run (or run, run_id) label",
    }
    posts = bot.slack.calls("chat.postMessage")
    assert sorted(p.args["channel"] for p in posts) == ["C0INCIDENTS"] * 3
    assert sum(r["ok"] for r in answer["results"]) == 3


async def test_a_resolution_for_an_alert_never_posted_posts_nothing(bot: InProcessBot) -> None:
    status, answer = await bot.post_alert(fixture("alertmanager/resolved.json"), path=AM)
    assert (status, answer["results"]) == (
        200,
        [{"fingerprint": "7e9cfb547720b511", "ok": True, "ts": None}],
    )
    assert bot.slack.calls("chat.postMessage") == []


async def test_grafana_documented_bodies(bot: InProcessBot) -> None:
    status, answer = await bot.post_alert(fixture("grafana/firing.json"), path=GRAFANA)
    assert status == 200
    assert [r["error"] for r in answer["results"]] == [
        "labels: no vs_pipeline (or pipeline) label"
    ] * 2
    assert bot.slack.calls("chat.postMessage") == []

    body = fixture("grafana/firing.json")
    for i, alert in enumerate(body["alerts"]):
        alert["labels"] |= {"pipeline": "nightly-etl", "run_id": f"run-graf-{i}"}
    status, answer = await bot.post_alert(body, path=GRAFANA)
    assert status == 200
    assert all(r["ok"] for r in answer["results"])
    first = bot.slack.message(INCIDENTS, answer["results"][0]["ts"])
    assert first is not None
    assert "High memory usage" in texts(first.blocks)
    assert "<https://play.grafana.org/alerting/1afz29v7z/edit|Source>" in json.dumps(first.blocks)

    resolved = fixture("grafana/resolved.json")
    resolved["alerts"][0]["labels"] |= {"pipeline": "nightly-etl", "run_id": "run-graf-0"}
    status, answer = await bot.post_alert(resolved, path=GRAFANA)
    assert status == 200
    message = bot.slack.message(INCIDENTS, answer["results"][0]["ts"])
    assert message is not None
    assert "*Resolved* at 2021-10-12 08:06 UTC" in texts(message.blocks)
    assert buttons(message.blocks) == []
    assert len(bot.slack.calls("chat.postMessage")) == 2


async def test_bad_requests_get_4xx_never_5xx_and_change_nothing(bot: InProcessBot) -> None:
    body = json.dumps(fixture("alertmanager/firing.json"))
    assert (await bot.post_alert(body, path=AM, token="wrong-token-xxxxxxxx"))[0] == 401
    huge = json.dumps({"alerts": [], "pad": "x" * (1024 * 1024)})
    status, answer = await bot.post_alert(huge, path=AM)
    assert (status, answer["error"]) == (413, "body: larger than 1048576 bytes")
    for junk, field in (
        ("[]", "body"),
        ('{"alerts": {}}', "alerts"),
        ('{"receiver": "x"}', "alerts"),
    ):
        status, answer = await bot.post_alert(junk, path=GRAFANA)
        assert (status, answer["field"]) == (400, field)
    status, answer = await bot.post_alert("{not json", path=AM)
    assert (status, answer["error"]) == (400, "body: not valid JSON")
    deep = '{"alerts": ' + "[" * 5000 + "]" * 5000 + "}"
    assert (await bot.post_alert(deep, path=AM))[0] == 400
    weird = {"alerts": [None, 7, {"labels": "x"}, {"status": "firing", "labels": {"vs_run": "1"}}]}
    status, answer = await bot.post_alert(weird, path=AM)
    assert status == 200
    assert [r["ok"] for r in answer["results"]] == [False] * 4
    assert bot.slack.calls("chat.postMessage") == []
    assert await bot.audit_records() == []


async def test_slack_unreachable_answers_503_so_alertmanager_sends_again(
    bot: InProcessBot,
) -> None:
    bot.slack.fail("chat.postMessage", "service_unavailable", status=503)
    status, answer = await bot.post_alert(am_body("run-out-1", "run-out-2"), path=AM)
    assert status == 503
    assert answer["ok"] is False
    assert [r.get("error") for r in answer["results"]] == [
        "slack: service_unavailable",
        "not tried: slack: service_unavailable",
    ]
    bot.slack.clear_failures()
    status, answer = await bot.post_alert(am_body("run-out-1", "run-out-2"), path=AM)
    assert status == 200
    posted_ok = [c for c in bot.slack.calls("chat.postMessage") if c.error is None]
    assert len(posted_ok) == 2


async def test_a_channel_slack_refuses_is_that_alerts_error_not_the_groups(
    bot: InProcessBot,
) -> None:
    bot.slack.private_channel("C0PRIVATE001")
    body = am_body("run-priv-1")
    body["alerts"][0]["labels"]["slack_channel"] = "C0PRIVATE001"
    body["alerts"].append(am_body("run-pub-1")["alerts"][0] | {"fingerprint": "f" * 16})
    status, answer = await bot.post_alert(body, path=AM)
    assert status == 200
    assert answer["results"][0] == {
        "fingerprint": "0000000000000000",
        "ok": False,
        "error": "slack: channel_not_found",
    }
    assert answer["results"][1]["ok"] is True


async def test_terminate_from_an_alertmanager_alert_and_the_repeats_after_it(
    bot: InProcessBot,
) -> None:
    run = bot.add_run("run-am-click-1")
    _, answer = await bot.post_alert(am_body(run), path=AM)
    ts = answer["results"][0]["ts"]
    async with bot.client() as slack:
        await slack.click(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS, message_ts=ts)
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ALICE, reason="Alertmanager says it overran")
        reply = await posted(bot.slack, INCIDENTS, count=2)
    assert reply.args["thread_ts"] == ts
    assert "Terminated — verified stopped" in reply.args["text"]
    await bot.slack.async_wait_for(
        "chat.update", lambda c: "succeeded" in texts(c.args.get("blocks")), timeout=10
    )
    # Alertmanager keeps re-sending until the alert resolves: the message keeps the outcome.
    _, again = await bot.post_alert(am_body(run), path=AM)
    assert again["results"][0]["ts"] == ts
    message = bot.slack.message(INCIDENTS, ts)
    assert message is not None
    assert buttons(message.blocks) == []
    assert "succeeded" in texts(message.blocks)
    assert f"<@{ALICE}>" in texts(message.blocks)
    status, resolved = await bot.post_alert(am_body(run, status="resolved"), path=AM)
    assert (status, resolved["results"][0]["ts"]) == (200, ts)
    message = bot.slack.message(INCIDENTS, ts)
    assert message is not None
    assert "*Resolved* at 2026-12-05 23:30 UTC" in texts(message.blocks)
    assert "succeeded" in texts(message.blocks)
    assert len(bot.vectorshift.terminate_calls) == 1
    [record] = await bot.audit_records()
    assert (record["source"], record["thread_ts"], record["outcome"]) == ("button", ts, "succeeded")


async def test_a_paused_runs_alert_keeps_resume_and_terminate_on_repeat(bot: InProcessBot) -> None:
    run = bot.add_run("run-am-pause-1")
    _, answer = await bot.post_alert(am_body(run), path=AM)
    ts = answer["results"][0]["ts"]
    async with bot.client() as slack:
        await slack.click(
            f"nightly-etl {run}", user=ALICE, channel=INCIDENTS, message_ts=ts, action_id="vs_pause"
        )
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ALICE, reason="look first")
        await posted(bot.slack, INCIDENTS, count=2)
    await bot.slack.async_wait_for(
        "chat.update", lambda c: "paused" in texts(c.args.get("blocks")), timeout=10
    )
    await bot.post_alert(am_body(run), path=AM)
    message = bot.slack.message(INCIDENTS, ts)
    assert message is not None
    assert buttons(message.blocks) == ["vs_resume", "vs_terminate"]
    assert "paused" in texts(message.blocks)


async def test_resolved_while_an_action_is_in_flight_lets_it_finish(bot: InProcessBot) -> None:
    bot.vectorshift.hang_s = 1.5
    run = bot.add_run("run-am-flight-1", RunScript.TIMES_OUT)
    _, answer = await bot.post_alert(am_body(run), path=AM)
    ts = answer["results"][0]["ts"]
    async with bot.client() as slack:
        await slack.click(f"nightly-etl {run}", user=ALICE, channel=INCIDENTS, message_ts=ts)
        await modal(bot.slack, "vs_terminate_confirm")
        await slack.submit(user=ALICE, reason="stop it")
        await bot.vectorshift.async_wait_for_action("terminate", run_id=run)
        _, resolved = await bot.post_alert(am_body(run, status="resolved"), path=AM)
        assert resolved["results"][0]["ts"] == ts
        message = bot.slack.message(INCIDENTS, ts)
        assert message is not None
        assert "Resolved" in texts(message.blocks)
        assert buttons(message.blocks) == ["vs_pause", "vs_terminate"]  # in flight: left alone
        reply = await posted(bot.slack, INCIDENTS, count=2)
    assert "Terminated — verified stopped" in reply.args["text"]
    final = await bot.slack.async_wait_for(
        "chat.update", lambda c: "succeeded" in texts(c.args.get("blocks")), timeout=10
    )
    assert buttons(final.args["blocks"]) == []
    assert "Resolved" in texts(final.args["blocks"])


async def test_metrics_count_alerts_by_source_and_result(bot: InProcessBot) -> None:
    await bot.post_alert(fixture("alertmanager/label_variants.json"), path=AM)
    await bot.post_alert("[]", path=GRAFANA)
    async with bot.http() as http:
        body = (await http.get("/metrics")).text
    assert 'vs_terminate_alerts_total{result="posted",source="alertmanager"} 3.0' in body
    assert 'vs_terminate_alerts_total{result="skipped",source="alertmanager"} 1.0' in body
    assert 'vs_terminate_alerts_total{result="refused",source="grafana"} 1.0' in body
    assert 'vs_terminate_alerts_total{result="posted",source="native"} 0.0' in body
