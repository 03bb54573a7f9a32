"""The pictures `make pictures` takes: one named scene each, in the order the README shows them.

A scene is a short play against the running bot (`Studio`) that ends by naming the recorded
Web API call to draw (`Shot`). Each scene starts from a run of its own, so scenes can be added,
dropped or reordered freely. To add a picture, write a coroutine like the ones below and add a
`Scene(name, caption, play)` to `SCENES`; its files are `<name>.json`, `.html` and `.png`.

The people, channels and policy are the sandbox's (`devkit.sandbox`): @alice and @carol are in
@data-oncall, which may terminate the two sample pipelines from #incidents, giving a reason.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Final

from bot.slack.ids import (
    APPROVE_ACTION,
    PAUSE_ACTION,
    RESUME_ACTION,
    RETRY_ACTION,
    TERMINATE_ACTION,
)
from devkit.fakes import RunScript, SlackCall
from devkit.pictures.studio import Shot, Studio, has_button, in_channel
from devkit.sandbox import ALICE, BILLING, CAROL, EMBEDDINGS, ERIN, INCIDENTS

__all__ = ["SCENES", "Scene"]


@dataclass(frozen=True)
class Scene:
    """One picture: how to get the bot to send it, and what it shows.

    Attributes:
        name: The files' stem (`confirm-modal` → `confirm-modal.png`); lowercase and dashes.
        caption: One line saying what the picture shows (page title, README alt text).
        play: Drives the bot and returns the call to draw.
    """

    name: str
    caption: str
    play: Callable[[Studio], Awaitable[Shot]]


STUCK_REASON: Final = "stuck in a retry loop since 02:00"
ALERT_TEXT: Final = "Nightly ETL has been running for 3h12m (usual: 40 min)"


def _both(*tests: Callable[[SlackCall], bool]) -> Callable[[SlackCall], bool]:
    return lambda call: all(test(call) for test in tests)


async def confirm_modal(studio: Studio) -> Shot:
    """@alice asks to stop a stuck run; the confirmation modal shows its details."""
    run = studio.new_run()
    call = await studio.open_confirmation(ALICE, INCIDENTS, f"nightly-etl {run} {STUCK_REASON}")
    await studio.cancel(ALICE)
    return Shot(call)


async def result_succeeded(studio: Studio) -> Shot:
    """@alice confirms; the result is posted in #incidents."""
    run = studio.new_run()
    since = await studio.terminate(ALICE, INCIDENTS, f"nightly-etl {run} {STUCK_REASON}")
    call = await studio.expect(
        "chat.postMessage", "the result in #incidents", since=since, where=in_channel(INCIDENTS)
    )
    return Shot(call, studio.posted_ts(call))


async def result_failed(studio: Studio) -> Shot:
    """VectorShift answers 500; the failure is posted with a Retry button."""
    run = studio.new_run(RunScript.FAILS, pipeline=EMBEDDINGS)
    since = await studio.terminate(
        ALICE, INCIDENTS, f"embeddings {run} OOM-killed and restarting in a loop"
    )
    call = await studio.expect(
        "chat.postMessage",
        "the failure with a Retry button",
        since=since,
        where=_both(in_channel(INCIDENTS), has_button(RETRY_ACTION)),
    )
    return Shot(call, studio.posted_ts(call))


def _alert_body(run: str) -> dict[str, str]:
    return {"channel": INCIDENTS, "pipeline": "nightly-etl", "run": run, "text": ALERT_TEXT}


async def alert(studio: Studio) -> Shot:
    """An alerting tool posts to /api/alerts; the alert carries a Terminate button."""
    ts, since = await studio.alert(_alert_body(studio.new_run()))
    call = await studio.expect(
        "chat.postMessage",
        "the alert with a Terminate button",
        since=since,
        where=_both(in_channel(INCIDENTS), has_button(TERMINATE_ACTION)),
    )
    return Shot(call, ts)


async def alert_terminated(studio: Studio) -> Shot:
    """@carol clicks Terminate on the alert and confirms; the alert is edited to the outcome."""
    ts, _ = await studio.alert(_alert_body(studio.new_run()))
    since = await studio.confirm_click(
        CAROL, INCIDENTS, ts, TERMINATE_ACTION, "ETL overran its window, blocking the 06:00 load"
    )
    call = await studio.expect(
        "chat.update",
        "the alert edited to show the outcome, its button gone",
        since=since,
        where=lambda call: call.args.get("ts") == ts and not has_button(TERMINATE_ACTION)(call),
    )
    return Shot(call)


async def pause_modal(studio: Studio) -> Shot:
    """@alice asks to pause a run; the confirmation says what a pause means, offers terminate."""
    run = studio.new_run()
    call = await studio.open_confirmation(
        ALICE, INCIDENTS, f"pause nightly-etl {run} writing far more rows than usual"
    )
    await studio.cancel(ALICE)
    return Shot(call)


async def result_paused(studio: Studio) -> Shot:
    """@carol pauses a run from its alert; the result offers Resume and Terminate."""
    ts, _ = await studio.alert(_alert_body(studio.new_run()))
    since = await studio.confirm_click(
        CAROL, INCIDENTS, ts, PAUSE_ACTION, "pausing to look at what it wrote"
    )
    call = await studio.expect(
        "chat.postMessage",
        "the pause's result in the alert's thread, with Resume and Terminate",
        since=since,
        where=lambda call: call.args.get("thread_ts") == ts and has_button(RESUME_ACTION)(call),
    )
    return Shot(call, studio.posted_ts(call))


async def alert_paused(studio: Studio) -> Shot:
    """The alert after the pause: who paused it, and what may follow."""
    ts, _ = await studio.alert(_alert_body(studio.new_run()))
    since = await studio.confirm_click(CAROL, INCIDENTS, ts, PAUSE_ACTION, "looking into it")
    call = await studio.expect(
        "chat.update",
        "the alert edited to show the pause",
        since=since,
        where=lambda call: call.args.get("ts") == ts and has_button(RESUME_ACTION)(call),
    )
    return Shot(call)


def _alertmanager_body(run: str, status: str = "firing") -> dict[str, object]:
    """What Alertmanager posts for one VectorShiftRunTooLong alert (tests/fixtures/alertmanager)."""
    alert = {
        "status": status,
        "labels": {
            "alertname": "VectorShiftRunTooLong",
            "severity": "critical",
            "vs_pipeline": "nightly-etl",
            "vs_run": run,
            "slack_channel": INCIDENTS,
        },
        "annotations": {
            "summary": "Nightly ETL has been running for 3h12m (usual: 40 min)",
            "description": f"Run {run} started at 02:00 and is still writing.",
        },
        "startsAt": "2026-12-06T02:00:00Z",
        "endsAt": "2026-12-06T05:20:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "generatorURL": "http://prometheus.example:9090/graph?g0.expr=vs_run_seconds+%3E+10800",
        "fingerprint": "7e9cfb547720b511",
    }
    return {"version": "4", "status": status, "receiver": "vs-terminate", "alerts": [alert]}


async def alertmanager_alert(studio: Studio) -> Shot:
    """Alertmanager's webhook: name, severity, summary, description, a Source link, buttons."""
    [result], since = await studio.alertmanager(_alertmanager_body(studio.new_run()))
    call = await studio.expect(
        "chat.postMessage",
        "the Alertmanager alert with Pause and Terminate",
        since=since,
        where=_both(in_channel(INCIDENTS), has_button(TERMINATE_ACTION)),
    )
    return Shot(call, str(result["ts"]))


async def alertmanager_resolved(studio: Studio) -> Shot:
    """The same alert once Alertmanager says it resolved: when, and no buttons."""
    run = studio.new_run()
    [result], _ = await studio.alertmanager(_alertmanager_body(run))
    _, since = await studio.alertmanager(_alertmanager_body(run, "resolved"))
    call = await studio.expect(
        "chat.update",
        "the alert resolved, its buttons gone",
        since=since,
        where=lambda call: (
            call.args.get("ts") == result["ts"] and not has_button(TERMINATE_ACTION)(call)
        ),
    )
    return Shot(call)


async def _approval_request(studio: Studio) -> tuple[SlackCall, str]:
    run = studio.new_run(pipeline=BILLING)
    since = await studio.terminate(
        ALICE, INCIDENTS, f"billing {run} charging customers twice since 03:10"
    )
    call = await studio.expect(
        "chat.postMessage",
        "the approval request with Approve and Reject",
        since=since,
        where=_both(in_channel(INCIDENTS), has_button(APPROVE_ACTION)),
    )
    ts = studio.posted_ts(call)
    assert ts is not None  # noqa: S101 - the fake keeps every message it was sent
    return call, ts


async def approval_request(studio: Studio) -> Shot:
    """@alice asks to terminate a billing run; the request waits for @erin."""
    call, ts = await _approval_request(studio)
    return Shot(call, ts)


async def approval_approved(studio: Studio) -> Shot:
    """@erin approves; the request says so, and the result follows in its thread."""
    _, ts = await _approval_request(studio)
    since = await studio.click(ERIN, INCIDENTS, ts, APPROVE_ACTION)
    call = await studio.expect(
        "chat.update",
        "the request, approved",
        since=since,
        where=lambda call: call.args.get("ts") == ts and not has_button(APPROVE_ACTION)(call),
    )
    await studio.expect(
        "chat.postMessage",
        "the result in the request's thread",
        since=since,
        where=lambda call: call.args.get("thread_ts") == ts,
    )
    return Shot(call)


SCENES: Final = (
    Scene(
        "confirm-modal",
        "The confirmation modal: the run's details and a reason, before anything is sent",
        confirm_modal,
    ),
    Scene(
        "result-succeeded",
        "The result in the channel after a successful terminate (verified stopped)",
        result_succeeded,
    ),
    Scene(
        "result-failed",
        "The result when VectorShift fails the terminate, with a Retry button",
        result_failed,
    ),
    Scene(
        "alert",
        "An alert posted through POST /api/alerts, with its Terminate button",
        alert,
    ),
    Scene(
        "alert-terminated",
        "The same alert after someone terminated the run from it",
        alert_terminated,
    ),
    Scene(
        "pause-modal",
        "The confirmation of a pause: what it means, and the switch between pause and terminate",
        pause_modal,
    ),
    Scene(
        "result-paused",
        "The result of a verified pause, with Resume and Terminate",
        result_paused,
    ),
    Scene(
        "alert-paused",
        "An alert after someone paused its run: who, when, and what may follow",
        alert_paused,
    ),
    Scene(
        "approval-request",
        "An approval request: who asks what, the approvers mentioned, Approve and Reject",
        approval_request,
    ),
    Scene(
        "approval-approved",
        "The same request once approved, with the result in its thread",
        approval_approved,
    ),
    Scene(
        "alertmanager-alert",
        "An alert from Prometheus Alertmanager's webhook, with Pause and Terminate",
        alertmanager_alert,
    ),
    Scene(
        "alertmanager-resolved",
        "The same alert after Alertmanager sent its resolution",
        alertmanager_resolved,
    ),
)
"""Every picture, in the README's order; names are unique."""
