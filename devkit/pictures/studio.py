"""The stage for the pictures: the real bot against the fakes, and the moves scenes are made of.

`Studio` wraps a sandbox `Session` (the real `vs-terminate-bot serve` started by `LocalStack`
against `FakeSlack` and `FakeVectorShift`, people sending it signed requests) with what a scene
needs: a fresh run for each scene, a confirmation opened and submitted, an alert posted through
`POST /api/alerts`, a button clicked, and the bot's next Web API call waited for. A scene ends
by naming the recorded call it wants drawn, as a `Shot`.

Scenes find what they draw by method, channel, ids and the shape of the blocks (a button's
`action_id`), never by the bot's wording, which may change without breaking a picture.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from bot.slack.ids import CONFIRM_CALLBACK
from devkit.fakes import FakeSlack, FakeVectorShift, RunScript, SlackCall
from devkit.render import buttons
from devkit.sandbox import (
    ALICE,
    CAROL,
    NIGHTLY_ETL,
    ONCALL,
    PIPELINES,
    USERS,
    Session,
    StepFailedError,
)
from devkit.stack import BOT_TOKEN

__all__ = ["Shot", "StepFailedError", "Studio", "has_button", "in_channel", "make_fakes"]

RUN_PREFIX: Final = "65f2a0c0ffee01234567"
"""Runs are numbered from here: 24 hex characters like VectorShift's, the same on every take."""


@dataclass(frozen=True)
class Shot:
    """The recorded call a scene wants drawn.

    Attributes:
        call: The Web API call (`views.update`, `chat.postMessage`, `chat.update`, …).
        ts: The message's ts when the call does not carry it (a new post's ts is Slack's).
    """

    call: SlackCall
    ts: str | None = None


def make_fakes() -> tuple[FakeSlack, FakeVectorShift]:
    """The sandbox's workspace (people, @data-oncall) and pipelines; scenes add their runs.

    Returns:
        The fake Slack and the fake VectorShift, not yet started.
    """
    slack = FakeSlack(bot_token=BOT_TOKEN)
    slack.set_users(*USERS)
    # Membership must be there before the bot's first refresh, as in the sandbox.
    slack.set_group(ONCALL, [ALICE, CAROL])
    vectorshift = FakeVectorShift()
    for pipeline_id, name in PIPELINES.items():
        vectorshift.add_pipeline(pipeline_id, name)
    return slack, vectorshift


def in_channel(channel: str) -> Callable[[SlackCall], bool]:
    """Matches a call posting or editing a top-level message in `channel` (not a thread)."""
    return lambda call: call.args.get("channel") == channel and not call.args.get("thread_ts")


def has_button(action_id: str) -> Callable[[SlackCall], bool]:
    """Matches a call whose blocks hold a button with `action_id`."""
    return lambda call: any(b.action_id == action_id for b in buttons(call.args.get("blocks")))


class Studio:
    """A running bot, the people who use it, and the moves scenes are made of.

    Args:
        session: The sandbox session (stack, signed-request client, audience).
    """

    def __init__(self, session: Session) -> None:
        self.session = session
        self.slack = session.slack
        self.vectorshift = session.stack.vectorshift
        self._runs = 0

    def new_run(self, script: RunScript = RunScript.SUCCEEDS, pipeline: str = NIGHTLY_ETL) -> str:
        """Adds a run to the fake VectorShift that behaves as `script`; returns its id."""
        self._runs += 1
        run_id = f"{RUN_PREFIX}{self._runs:04x}"
        self.vectorshift.add_run(pipeline, run_id, script)
        return run_id

    @staticmethod
    def mark() -> float:
        """Now, for `expect(since=…)`: calls before it are not waited for."""
        return time.monotonic()

    async def expect(
        self, method: str, what: str, *, since: float, where: Callable[[SlackCall], bool] | None
    ) -> SlackCall:
        """Waits for the bot's next successful `method` call since `since` matching `where`.

        Raises:
            StepFailedError: It did not come in time, or the bot logged an error meanwhile.
        """
        call = await self.session.expect(method, what, since=since, where=where)
        self.session.flush()
        return call

    async def open_confirmation(self, user: str, channel: str, text: str) -> SlackCall:
        """`user` types `/vs-terminate <text>` in `channel`; returns the confirmation's update.

        Returns:
            The `views.open` (or, after "Checking…", the `views.update`) that showed the
            confirmation (callback `vs_terminate_confirm`).

        Raises:
            StepFailedError: No confirmation came (denied, blocked, or the bot failed).
        """
        since = self.mark()
        await self.session.command(user, channel, text)
        return await self._confirmation(since)

    async def _confirmation(self, since: float) -> SlackCall:
        def confirm(call: SlackCall) -> bool:
            view = call.args.get("view")
            return isinstance(view, Mapping) and view.get("callback_id") == CONFIRM_CALLBACK

        return await self.expect(
            "views.open|views.update", "the confirmation modal", since=since, where=confirm
        )

    async def submit(self, user: str, reason: str | None = None) -> float:
        """`user` presses the confirmation's submit button.

        Args:
            user: Whose open modal.
            reason: Typed into the reason box; None keeps what the modal was pre-filled with.

        Returns:
            The moment before the submission, for `expect(since=…)`.
        """
        since = self.mark()
        view = self.slack.current_view(user)
        typed = reason if reason is not None else _prefilled(view or {})
        await self.session.submit(user, typed)
        return since

    async def cancel(self, user: str) -> None:
        """`user` closes their open modal."""
        await self.session.cancel(user)

    async def terminate(self, user: str, channel: str, text: str) -> float:
        """`user` types `/vs-terminate <text>` and confirms with the pre-filled reason.

        Returns:
            The moment before the submission.
        """
        await self.open_confirmation(user, channel, text)
        return await self.submit(user)

    async def alert(self, body: Mapping[str, str]) -> tuple[str, float]:
        """An alerting tool posts `body` to `POST /api/alerts`.

        Returns:
            The alert message's ts, and the moment before the post.

        Raises:
            StepFailedError: The bot refused the alert.
        """
        since = self.mark()
        # The session's client, not LocalStack.post_alert: same request, but httpx with an
        # explicit transport, which no proxy setting in the environment can divert.
        return await self.session.alert(body), since

    async def alertmanager(self, body: Mapping[str, object]) -> tuple[list[dict[str, Any]], float]:
        """Alertmanager posts `body` to `POST /api/alerts/alertmanager`.

        Returns:
            The bot's per-alert results, and the moment before the post.

        Raises:
            StepFailedError: The bot refused the body.
        """
        since = self.mark()
        return await self.session.webhook("/api/alerts/alertmanager", body), since

    async def click(self, user: str, channel: str, ts: str, action_id: str) -> float:
        """`user` clicks the button with `action_id` on message `ts` in `channel`.

        Returns:
            The moment before the click.

        Raises:
            StepFailedError: No such message or button.
        """
        message = self.slack.message(channel, ts)
        found = [b for b in buttons(message.blocks if message else []) if b.action_id == action_id]
        if not found:
            raise StepFailedError(f"no {action_id} button on message {ts} in {channel}")
        since = self.mark()
        await self.session.click(found[0], user=user, channel=channel, message_ts=ts)
        return since

    async def confirm_click(
        self, user: str, channel: str, ts: str, action_id: str, reason: str | None = None
    ) -> float:
        """`user` clicks a button that opens a confirmation, and submits it.

        Returns:
            The moment before the submission.
        """
        since = await self.click(user, channel, ts, action_id)
        await self._confirmation(since)
        return await self.submit(user, reason)

    def posted_ts(self, call: SlackCall) -> str | None:
        """The ts Slack gave the message a `chat.postMessage` call posted, if it can be told.

        The fake records the call's arguments, not its answer; the message is found by channel
        and content (the newest one, should the same content have been posted twice).
        """
        channel, blocks = call.args.get("channel"), call.args.get("blocks")
        for message in reversed(self.slack.messages(str(channel))):
            if message.blocks == blocks and message.text == call.args.get("text", message.text):
                return message.ts
        return None


def _prefilled(view: Mapping[str, Any]) -> str | None:
    """What the confirmation's text input was pre-filled with (the command's reason)."""
    for block in view.get("blocks") or []:
        element = block.get("element") if isinstance(block, Mapping) else None
        if isinstance(element, Mapping) and element.get("type") == "plain_text_input":
            value = element.get("initial_value")
            return str(value) if value else None
    return None
