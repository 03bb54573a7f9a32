"""Whatever people, alerting tools or VectorShift write: inside Slack's limits, never live mrkdwn.

A pipeline named with mrkdwn and a link, a reason that mentions `<!channel>`, an error and a run
status full of formatting, names thousands of characters long: every view and message the bot
sends stays within Slack's Block Kit limits (the stub Slack checks each one, tests/conftest.py
fails any test it refused) and shows those words as plain text (SPEC §7).
"""

from __future__ import annotations

from harness import InProcessBot

from devkit.expect import (
    HOSTILE,
    live_markup,
    mrkdwn_strings,
    posted,
    terminate_via_modal,
    texts,
)
from devkit.scenario import ADMIN, AUDIT, INCIDENTS

HOSTILE_NAME = "Nightly " + " ".join(HOSTILE)
HOSTILE_ID = "65f1c0ffee0123456789eeee"


def every_payload(bot: InProcessBot) -> list[object]:
    return [call.args for call in bot.slack.calls() if call.error is None]


async def test_a_hostile_pipeline_name_and_reason_render_as_plain_text_everywhere(
    bot: InProcessBot,
) -> None:
    bot.vectorshift.add_pipeline(HOSTILE_ID, HOSTILE_NAME)
    run = bot.add_run("run-hostile-01", pipeline_id=HOSTILE_ID)
    reason = "stuck " + " ".join(HOSTILE)
    async with bot.client() as slack:
        message = await terminate_via_modal(
            slack,
            bot.slack,
            f'"{HOSTILE_NAME}" {run}',
            user=ADMIN,
            channel=INCIDENTS,
            reason=reason,
        )
        mirror = await posted(bot.slack, AUDIT)
        for command in (f'status "{HOSTILE_NAME}" {run}', f'can-i "{HOSTILE_NAME}"', "history"):
            await slack.command(command, user=ADMIN, channel=INCIDENTS)
        await bot.idle()
    assert HOSTILE_NAME in texts(message.args["blocks"])  # shown, verbatim, as plain text
    assert reason in texts(message.args["blocks"])
    assert HOSTILE_NAME in texts(mirror.args["blocks"])
    replies = bot.slack.calls("response_url")
    assert len(replies) == 3
    assert all(HOSTILE_NAME in texts(r.args["blocks"]) for r in replies)
    assert [p for p in every_payload(bot) if live_markup(p)] == []


async def test_vectorshift_error_and_status_texts_render_as_plain_text(bot: InProcessBot) -> None:
    run = bot.add_run("run-hostile-02")
    bot.vectorshift.inject("terminate", 400, {"status": "failed", "error": " ".join(HOSTILE)})
    async with bot.client() as slack:
        failed = await terminate_via_modal(
            slack, bot.slack, f"nightly-etl {run}", user=ADMIN, channel=INCIDENTS, reason="x"
        )
        odd = bot.add_run("run-hostile-03")
        bot.vectorshift.set_status("65f1c0ffee0123456789abcd", odd, "*weird* _state_ <!here>")
        await slack.command(f"status nightly-etl {odd}", user=ADMIN, channel=INCIDENTS)
        await bot.idle()
    assert "VectorShift refused to terminate the run" in texts(failed.args["blocks"])
    assert "*weird* _state_ <!here>" in texts(bot.slack.calls("response_url")[-1].args["blocks"])
    assert [p for p in every_payload(bot) if live_markup(p)] == []
    assert not any("<!here>" in t for p in every_payload(bot) for t in mrkdwn_strings(p))


async def test_a_hostile_alert_is_plain_text_with_only_the_bots_link(bot: InProcessBot) -> None:
    status, answer = await bot.post_alert(
        {
            "channel": INCIDENTS,
            "pipeline": "nightly-etl",
            "run": "run-alert-hostile",
            "text": " ".join(HOSTILE) + " " + "y" * 1900,
        }
    )
    assert status == 200, answer
    [alert] = bot.slack.calls("chat.postMessage")
    assert live_markup(alert.args) == []
    assert " ".join(HOSTILE) in texts(alert.args["blocks"])
