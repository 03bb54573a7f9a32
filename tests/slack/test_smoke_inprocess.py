"""A first in-process scenario (placeholder while the e2e tests move here)."""

from __future__ import annotations

from harness import InProcessBot

from devkit.scenario import ALICE, INCIDENTS


async def test_allowed_user_terminates_a_run_in_process(bot: InProcessBot) -> None:
    run = bot.add_run("run-inproc-001")
    async with bot.client() as user:
        ack = await user.command(f"nightly-etl {run} stuck", user=ALICE, channel=INCIDENTS)
        assert ack.status_code == 200
        await bot.idle()
        submitted = await user.submit(user=ALICE, reason="stuck")
        assert submitted.json()["response_action"] == "update"
        await bot.idle()
    posts = bot.slack.calls("chat.postMessage")
    assert any("Terminated — verified" in c.args["text"] for c in posts)
    assert [r["outcome"] for r in await bot.audit_records()] == ["succeeded"]
