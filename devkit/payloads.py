"""Slack's requests to the bot: slash commands, button clicks, modal submissions and closes.

The `*_payload` builders return what Slack sends as plain data, with the fields Bolt reads:
`type`, `team`, `user`, `api_app_id`, `token`, `trigger_id`, `view`, `container`, `channel`,
`message`, `response_url`, `actions`, and the Enterprise Grid variants. That data is the
`payload` of a Socket Mode envelope as it is (`FakeSlack.async_send_envelope`); the `*_body`
builders take the same arguments and encode it as Slack POSTs it over HTTP (slash commands
form-encoded, interactivity as `payload=<json>`). `sign()` adds Slack's `v0` signature headers,
computed with `slack_sdk.signature.SignatureVerifier`, the same code Bolt verifies with.

`SlackClient` plays the Slack side of a conversation with a running bot: it mints trigger ids
and response_urls from a `FakeSlack`, reads the views the bot opened there, sends signed
requests with httpx, and applies a submission's `response_action` back to the fake, so a test
reads like a user's steps:

    async with SlackClient(bot_url, secret, slack) as user:
        await user.command("nightly-etl 65f1… runaway loop", user="U0ALICE", channel="C0INC")
        await slack.async_wait_for("views.update")
        await user.submit(user="U0ALICE", reason="runaway loop")
"""

from __future__ import annotations

import contextlib
import functools
import json
import secrets
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, Final, ParamSpec, Self
from urllib.parse import parse_qsl, urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from bot.slack.ids import COMMAND, EVENTS_PATH, REASON_ACTION, REASON_BLOCK, TERMINATE_ACTION
from devkit.fakes.slack_api import APP_ID, BOT_ID, BOT_USER_ID, ENTERPRISE_NAME, TEAM_ID, FakeSlack
from devkit.fakes.socket_mode import INTERACTIVE, SLASH_COMMANDS

__all__ = [
    "FORM",
    "VERIFICATION_TOKEN",
    "SlackClient",
    "block_actions_body",
    "block_actions_payload",
    "sign",
    "slash_command_body",
    "slash_command_payload",
    "view_closed_body",
    "view_closed_payload",
    "view_submission_body",
    "view_submission_payload",
]

FORM: Final = "application/x-www-form-urlencoded"
VERIFICATION_TOKEN: Final = "fake-verification-token"  # noqa: S105 - a placeholder, not a secret
"""The deprecated `token` field Slack still sends; Bolt ignores it in favour of the signature."""
TEAM_DOMAIN: Final = "test"

P = ParamSpec("P")


def sign(
    body: str, secret: str, timestamp: int | None = None, *, content_type: str = FORM
) -> dict[str, str]:
    """Returns the headers Slack sends with `body`: content type and `v0` signature.

    Args:
        body: The exact request body.
        secret: The app's signing secret.
        timestamp: Unix seconds for `X-Slack-Request-Timestamp`; now when None (Bolt rejects
            timestamps more than 5 minutes off).
        content_type: The body's content type.

    Returns:
        `Content-Type`, `X-Slack-Request-Timestamp` and `X-Slack-Signature`.

    Raises:
        RuntimeError: slack_sdk produced no signature.
    """
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=stamp, body=body)
    if signature is None:
        raise RuntimeError("slack_sdk produced no signature")
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": signature,
    }


def foreign_trigger_id() -> str:
    """Returns a trigger id shaped like Slack's that no `FakeSlack` issued."""
    return f"{secrets.randbelow(10**10)}.{int(time.time())}.{secrets.token_hex(16)}"


def slash_command_payload(
    text: str,
    *,
    user_id: str,
    channel_id: str,
    response_url: str,
    team_id: str = TEAM_ID,
    trigger_id: str | None = None,
    channel_name: str = "incidents",
    user_name: str | None = None,
    enterprise_id: str | None = None,
    command: str = COMMAND,
    escape: bool = True,
) -> dict[str, str]:
    """Builds a slash command's fields: the form Slack POSTs, or a Socket Mode envelope's payload.

    Slack sends the same fields either way, all strings: form-encoded over HTTP, as a JSON
    object in a `slash_commands` envelope's `payload`.

    Args:
        text: What the user typed after the command.
        user_id: The invoking user.
        channel_id: Where it was typed.
        response_url: The response_url to include (mint one with `FakeSlack.response_url`).
        team_id: The user's workspace.
        trigger_id: The trigger id; a fresh foreign one when None.
        channel_name: The channel's name (`directmessage` in a DM).
        user_name: The user's handle; derived from the id when None.
        enterprise_id: Set for an Enterprise Grid workspace.
        command: The command.
        escape: HTML-escape `&`, `<`, `>` in `text` as Slack does.

    Returns:
        The fields, in the order Slack sends them.
    """
    if escape:
        text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    fields: dict[str, str] = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": TEAM_DOMAIN,
    }
    if enterprise_id is not None:
        fields |= {"enterprise_id": enterprise_id, "enterprise_name": ENTERPRISE_NAME}
    fields |= {
        "channel_id": channel_id,
        "channel_name": channel_name,
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id or foreign_trigger_id(),
    }
    return fields


def button_blocks(
    action_id: str, value: str, *, text: str = "", block_id: str = "vs_terminate_actions"
) -> list[dict[str, Any]]:
    """Returns the blocks of a message with one button (an alert, or a failure with Retry).

    Args:
        action_id: The button's action id.
        value: The button's value.
        text: A section above the button; none when empty.
        block_id: The actions block's id.

    Returns:
        The blocks.
    """
    label = "Retry" if action_id != TERMINATE_ACTION else "Terminate"
    blocks: list[dict[str, Any]] = []
    if text:
        blocks.append({"type": "section", "text": {"type": "plain_text", "text": text}})
    blocks.append(
        {
            "type": "actions",
            "block_id": block_id,
            "elements": [
                {
                    "type": "button",
                    "action_id": action_id,
                    "text": {"type": "plain_text", "text": label},
                    "value": value,
                }
            ],
        }
    )
    return blocks


def block_actions_payload(
    action_id: str,
    value: str,
    *,
    user_id: str,
    channel_id: str,
    message_ts: str,
    trigger_id: str,
    response_url: str,
    thread_ts: str | None = None,
    message_blocks: list[dict[str, Any]] | None = None,
    message_text: str = "",
    block_id: str | None = None,
    team_id: str = TEAM_ID,
    user_name: str | None = None,
    channel_name: str = "incidents",
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """Builds a `block_actions` payload for a button click on a channel message.

    Args:
        action_id: The clicked button's action id.
        value: The button's value.
        user_id: Who clicked.
        channel_id: The message's channel.
        message_ts: The message's ts.
        trigger_id: The trigger id for opening a modal.
        response_url: The interaction's response_url.
        thread_ts: The thread the message is in, if any.
        message_blocks: The message's blocks; one button with this action and value when None.
        message_text: The message's text fallback.
        block_id: The button's block id; found in `message_blocks` when None.
        team_id: The user's workspace.
        user_name: The user's handle; derived from the id when None.
        channel_name: The channel's name.
        enterprise_id: Set for an Enterprise Grid workspace.

    Returns:
        The payload object.
    """
    blocks = message_blocks if message_blocks is not None else button_blocks(action_id, value)
    block_id = block_id or _block_of(blocks, action_id)
    button = _element_of(blocks, action_id) or {}
    container: dict[str, Any] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel_id,
        "is_ephemeral": False,
    }
    message: dict[str, Any] = {
        "type": "message",
        "subtype": "bot_message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": team_id,
        "text": message_text,
        "blocks": blocks,
        "ts": message_ts,
    }
    if thread_ts is not None:
        container["thread_ts"] = thread_ts
        message["thread_ts"] = thread_ts
    payload: dict[str, Any] = {
        "type": "block_actions",
        **_actor(user_id, user_name, team_id, enterprise_id),
        "container": container,
        "trigger_id": trigger_id,
        "channel": {"id": channel_id, "name": channel_name},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [
            {
                "action_id": action_id,
                "block_id": block_id,
                "text": button.get("text", {"type": "plain_text", "text": "Terminate"}),
                "value": value,
                "type": "button",
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }
    return payload


def view_submission_payload(
    callback_id: str,
    private_metadata: str,
    values: Mapping[str, Any],
    *,
    user_id: str,
    view_id: str,
    team_id: str = TEAM_ID,
    view: Mapping[str, Any] | None = None,
    trigger_id: str | None = None,
    user_name: str | None = None,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """Builds a `view_submission` payload.

    Args:
        callback_id: The view's callback id.
        private_metadata: The view's private metadata.
        values: `view.state.values`: `{block_id: {action_id: {"type": …, "value": …}}}`.
        user_id: Who submitted.
        view_id: The view's id.
        team_id: The user's workspace.
        view: The view as stored by `FakeSlack` (title, blocks, hash, …); a minimal modal
            when None.
        trigger_id: The trigger id; a fresh foreign one when None.
        user_name: The user's handle; derived from the id when None.
        enterprise_id: Set for an Enterprise Grid workspace.

    Returns:
        The payload object.
    """
    payload: dict[str, Any] = {
        "type": "view_submission",
        **_actor(user_id, user_name, team_id, enterprise_id),
        "trigger_id": trigger_id or foreign_trigger_id(),
        "view": _view_payload(
            view,
            view_id=view_id,
            callback_id=callback_id,
            private_metadata=private_metadata,
            values=values,
            team_id=team_id,
        ),
        "response_urls": [],
    }
    return payload


def view_closed_payload(
    callback_id: str,
    private_metadata: str,
    *,
    user_id: str,
    view_id: str,
    team_id: str = TEAM_ID,
    view: Mapping[str, Any] | None = None,
    is_cleared: bool = False,
    user_name: str | None = None,
    enterprise_id: str | None = None,
) -> dict[str, Any]:
    """Builds a `view_closed` payload (sent only for views with `notify_on_close`).

    Args:
        callback_id: The view's callback id.
        private_metadata: The view's private metadata.
        user_id: Who closed it.
        view_id: The view's id.
        team_id: The user's workspace.
        view: The view as stored by `FakeSlack`; a minimal modal when None.
        is_cleared: The whole view stack was closed.
        user_name: The user's handle; derived from the id when None.
        enterprise_id: Set for an Enterprise Grid workspace.

    Returns:
        The payload object.
    """
    payload: dict[str, Any] = {
        "type": "view_closed",
        **_actor(user_id, user_name, team_id, enterprise_id),
        "view": _view_payload(
            view,
            view_id=view_id,
            callback_id=callback_id,
            private_metadata=private_metadata,
            values={},
            team_id=team_id,
        ),
        "is_cleared": is_cleared,
    }
    return payload


# -- HTTP bodies: the payloads above, encoded the way Slack POSTs them -------------------------


def _form_encoded(build: Callable[P, Mapping[str, str]]) -> Callable[P, str]:
    """A slash command builder whose result is form-encoded, as Slack POSTs commands."""

    @functools.wraps(build)
    def body(*args: P.args, **kwargs: P.kwargs) -> str:
        return urlencode(build(*args, **kwargs))

    return body


def _payload_form(build: Callable[P, Mapping[str, Any]]) -> Callable[P, str]:
    """An interaction builder whose result is sent as `payload=<json>`, as Slack POSTs them."""

    @functools.wraps(build)
    def body(*args: P.args, **kwargs: P.kwargs) -> str:
        return urlencode({"payload": json.dumps(build(*args, **kwargs))})

    return body


# Each takes its payload builder's arguments and returns the exact HTTP request body.
slash_command_body = _form_encoded(slash_command_payload)
block_actions_body = _payload_form(block_actions_payload)
view_submission_body = _payload_form(view_submission_payload)
view_closed_body = _payload_form(view_closed_payload)


class SlackClient:
    """Sends signed Slack requests to a running bot, as the users in a test would.

    Args:
        base_url: The bot's root URL, e.g. `http://127.0.0.1:3000`.
        secret: The bot's signing secret.
        slack: The fake Slack the bot talks to; mints trigger ids and response_urls and holds
            the views the bot opened.
        path: The Slack request path.
        transport: An httpx transport, e.g. `httpx.ASGITransport(app)` to skip the socket.
        timeout_s: Per-request timeout.
    """

    def __init__(
        self,
        base_url: str,
        secret: str,
        slack: FakeSlack,
        *,
        path: str = EVENTS_PATH,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout_s: float = 10.0,
    ) -> None:
        self._secret = secret
        self._slack = slack
        self._path = path
        self._http = httpx.AsyncClient(
            base_url=base_url, transport=transport, timeout=httpx.Timeout(timeout_s)
        )
        self.last_trigger_id: str | None = None
        """The trigger id of the latest command or click."""
        self.last_response_url: str | None = None
        """The response_url of the latest command or click."""
        self._choices: dict[str, dict[str, str]] = {}
        """What each user chose in radio groups of each open view, as Slack keeps it."""

    def __repr__(self) -> str:
        return f"SlackClient(base_url={str(self._http.base_url)!r})"

    async def aclose(self) -> None:
        """Closes the HTTP client."""
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def send(
        self,
        body: str,
        *,
        timestamp: int | None = None,
        signed: bool = True,
        content_type: str = FORM,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        """Posts any body to the Slack request path, signed unless told not to.

        Args:
            body: The raw body (garbage welcome).
            timestamp: The signature timestamp; now when None.
            signed: Sign it with the bot's secret.
            content_type: The content type.
            headers: Extra headers, applied last (to tamper with the signature).

        Returns:
            The bot's response. A message in it (a slash command's ack) is checked against
            Slack's Block Kit limits by the fake (`FakeSlack.check_ack`), as Slack would before
            showing it.
        """
        sent_headers = (
            sign(body, self._secret, timestamp, content_type=content_type)
            if signed
            else {"Content-Type": content_type}
        )
        sent_headers.update(headers or {})
        response = await self._http.post(self._path, content=body.encode(), headers=sent_headers)
        if response.status_code == 200 and response.headers.get("content-type", "").startswith(
            "application/json"
        ):
            with contextlib.suppress(ValueError):
                self._slack.check_ack(response.json())
        return response

    async def command(
        self,
        text: str,
        *,
        user: str,
        channel: str,
        channel_name: str = "incidents",
        enterprise_id: str | None = None,
        team_id: str | None = None,
        escape: bool = True,
    ) -> httpx.Response:
        """Types `/vs-terminate <text>` as `user` in `channel`.

        Args:
            text: The text after the command.
            user: The user id (added to the fake workspace if unknown).
            channel: The channel id.
            channel_name: The channel's name.
            enterprise_id: Enterprise Grid id; the fake's when None.
            team_id: The user's workspace; the fake's when None.
            escape: HTML-escape `&`, `<`, `>` as Slack does.

        Returns:
            The bot's response (the ack).
        """
        team = team_id or self._slack.team_id
        self._slack.ensure_user(user, team_id=team)
        trigger_id = self._slack.mint_trigger_id(user)
        response_url = self._slack.response_url(channel=channel, user_id=user)
        self.last_trigger_id, self.last_response_url = trigger_id, response_url
        body = slash_command_body(
            text,
            user_id=user,
            channel_id=channel,
            response_url=response_url,
            team_id=team,
            trigger_id=trigger_id,
            channel_name=channel_name,
            user_name=self._user_name(user),
            enterprise_id=enterprise_id or self._slack.enterprise_id,
            escape=escape,
        )
        return await self.send(body)

    async def click(
        self,
        value: str,
        *,
        user: str,
        channel: str,
        action_id: str = TERMINATE_ACTION,
        message_ts: str | None = None,
        thread_ts: str | None = None,
        message_blocks: list[dict[str, Any]] | None = None,
        message_text: str | None = None,
        block_id: str | None = None,
        enterprise_id: str | None = None,
        team_id: str | None = None,
    ) -> httpx.Response:
        """Clicks a button with `action_id` and `value` on a message in `channel`.

        The message is taken from the fake when it knows it; otherwise it is put there first
        (an alert another tool posted), so the bot can update it afterwards.

        Args:
            value: The button's value (`"<pipeline> <run>"`, or an attempt id for Retry).
            user: Who clicks (added to the fake workspace if unknown).
            channel: The message's channel.
            action_id: The button's action id.
            message_ts: The message; a new one is put in the channel when None.
            thread_ts: The thread the message is in.
            message_blocks: The message's blocks, when the fake does not have it.
            message_text: The message's text fallback, when the fake does not have it.
            block_id: The button's block id; found in the message's blocks when None.
            enterprise_id: Enterprise Grid id; the fake's when None.
            team_id: The user's workspace; the fake's when None.

        Returns:
            The bot's response (the ack).
        """
        team = team_id or self._slack.team_id
        self._slack.ensure_user(user, team_id=team)
        message = self._slack.message(channel, message_ts) if message_ts is not None else None
        if message is None:
            message = self._slack.add_message(
                channel,
                message_text if message_text is not None else f"Alert: {value}",
                message_blocks
                if message_blocks is not None
                else button_blocks(action_id, value, text=message_text or ""),
                ts=message_ts,
                thread_ts=thread_ts,
            )
        trigger_id = self._slack.mint_trigger_id(user)
        response_url = self._slack.response_url(
            channel=channel, message_ts=message.ts, user_id=user
        )
        self.last_trigger_id, self.last_response_url = trigger_id, response_url
        body = block_actions_body(
            action_id,
            value,
            user_id=user,
            channel_id=channel,
            message_ts=message.ts,
            trigger_id=trigger_id,
            response_url=response_url,
            thread_ts=message.thread_ts,
            message_blocks=message.blocks,
            message_text=message.text,
            block_id=block_id,
            team_id=team,
            user_name=self._user_name(user),
            enterprise_id=enterprise_id or self._slack.enterprise_id,
        )
        return await self.send(body)

    async def submit(
        self,
        *,
        user: str,
        view_id: str | None = None,
        reason: str | None = None,
        values: Mapping[str, Any] | None = None,
        callback_id: str | None = None,
        private_metadata: str | None = None,
        enterprise_id: str | None = None,
        team_id: str | None = None,
    ) -> httpx.Response:
        """Submits a modal as `user`, then applies the bot's `response_action` to the fake.

        An empty 200 closes the view (as in Slack); `update` replaces it; `errors` keeps it
        open; `clear` closes the stack.

        Args:
            user: Who submits.
            view_id: The view; the user's newest open view in the fake when None.
            reason: Typed into the `reason` input.
            values: `view.state.values` to send instead of the ones built from `reason`.
            callback_id: Overrides the view's callback id (required for a view the fake lacks).
            private_metadata: Overrides the view's private metadata (likewise).
            enterprise_id: Enterprise Grid id; the fake's when None.
            team_id: The user's workspace; the fake's when None.

        Returns:
            The bot's response (the ack).

        Raises:
            LookupError: No view to submit.
        """
        view = self._view(user, view_id)
        vid = view_id or str(view["id"])
        choices = self._choices.pop(vid, {})
        state = dict(values) if values is not None else _input_values(view, reason, choices)
        body = view_submission_body(
            callback_id if callback_id is not None else str(view.get("callback_id", "")),
            private_metadata
            if private_metadata is not None
            else str(view.get("private_metadata", "")),
            state,
            user_id=user,
            view_id=vid,
            team_id=team_id or self._slack.team_id,
            view=view,
            user_name=self._user_name(user),
            enterprise_id=enterprise_id or self._slack.enterprise_id,
        )
        response = await self.send(body)
        self._apply_response_action(vid, response)
        return response

    async def close_view(
        self,
        *,
        user: str,
        view_id: str | None = None,
        is_cleared: bool = False,
        callback_id: str | None = None,
        private_metadata: str | None = None,
        enterprise_id: str | None = None,
        team_id: str | None = None,
    ) -> httpx.Response:
        """Closes a modal with Cancel/× as `user` and sends the `view_closed` Slack would send.

        Args:
            user: Who closes it.
            view_id: The view; the user's newest open view in the fake when None.
            is_cleared: The whole stack was closed.
            callback_id: Overrides the view's callback id (required for a view the fake lacks).
            private_metadata: Overrides the view's private metadata (likewise).
            enterprise_id: Enterprise Grid id; the fake's when None.
            team_id: The user's workspace; the fake's when None.

        Returns:
            The bot's response.

        Raises:
            LookupError: No view to close.
            RuntimeError: The view lacks `notify_on_close`, so Slack would send nothing.
        """
        view = self._view(user, view_id)
        vid = view_id or str(view["id"])
        if "notify_on_close" in view and not view["notify_on_close"]:
            raise RuntimeError(f"view {vid} lacks notify_on_close: Slack sends no view_closed")
        self._slack.close_view(vid)
        body = view_closed_body(
            callback_id if callback_id is not None else str(view.get("callback_id", "")),
            private_metadata
            if private_metadata is not None
            else str(view.get("private_metadata", "")),
            user_id=user,
            view_id=vid,
            team_id=team_id or self._slack.team_id,
            view=view,
            is_cleared=is_cleared,
            user_name=self._user_name(user),
            enterprise_id=enterprise_id or self._slack.enterprise_id,
        )
        return await self.send(body)

    async def choose(
        self, value: str, *, user: str, action_id: str, view_id: str | None = None
    ) -> httpx.Response:
        """Picks `value` in a radio group of the user's open modal (Slack sends `block_actions`).

        The choice is kept, as Slack keeps a view's state, and goes with a later `submit()`.

        Args:
            value: The option's value.
            user: Who chooses.
            action_id: The radio group's action id.
            view_id: The view; the user's newest open view in the fake when None.

        Returns:
            The bot's response (the ack).
        """
        view = self._view(user, view_id)
        vid = view_id or str(view["id"])
        chosen = self._choices.setdefault(vid, {})
        chosen[action_id] = value
        payload = view_action_payload(
            view,
            action_id,
            value,
            user_id=user,
            team_id=self._slack.team_id,
            user_name=self._user_name(user),
            enterprise_id=self._slack.enterprise_id,
            choices=chosen,
        )
        return await self.send(urlencode({"payload": json.dumps(payload)}))

    def _user_name(self, user_id: str) -> str:
        known = self._slack.user(user_id)
        return known.name if known is not None else user_id.lower()

    def _view(self, user: str, view_id: str | None) -> dict[str, Any]:
        if view_id is None:
            view = self._slack.current_view(user)
            if view is None:
                raise LookupError(f"{user} has no open view in the fake Slack")
            return view
        return self._slack.view(view_id) or {"id": view_id}

    def _apply_response_action(self, view_id: str, response: httpx.Response) -> None:
        if response.status_code != 200 or not self._slack.is_view_open(view_id):
            return
        if not response.content.strip():
            self._slack.close_view(view_id)
            return
        try:
            answer = response.json()
        except ValueError:
            return
        action = answer.get("response_action") if isinstance(answer, dict) else None
        if action == "update" and isinstance(answer.get("view"), dict):
            self._slack.replace_view(view_id, answer["view"])
        elif action == "clear":
            self._slack.close_view(view_id)


def _actor(
    user_id: str, user_name: str | None, team_id: str, enterprise_id: str | None
) -> dict[str, Any]:
    """The fields every interaction payload carries about who acted and where."""
    name = user_name or user_id.lower()
    team: dict[str, Any] = {"id": team_id, "domain": TEAM_DOMAIN}
    enterprise: dict[str, Any] | None = None
    if enterprise_id is not None:
        team |= {"enterprise_id": enterprise_id, "enterprise_name": ENTERPRISE_NAME}
        enterprise = {"id": enterprise_id, "name": ENTERPRISE_NAME}
    return {
        "user": {"id": user_id, "username": name, "name": name, "team_id": team_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "team": team,
        "enterprise": enterprise,
        "is_enterprise_install": False,
    }


def _view_payload(
    view: Mapping[str, Any] | None,
    *,
    view_id: str,
    callback_id: str,
    private_metadata: str,
    values: Mapping[str, Any],
    team_id: str,
) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Terminate run"},
        "blocks": [],
        "close": None,
        "submit": None,
        "clear_on_close": False,
        "notify_on_close": True,
        "external_id": "",
        "previous_view_id": None,
        "root_view_id": view_id,
        "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
        "app_id": APP_ID,
        "bot_id": BOT_ID,
    }
    base.update(view or {})
    base |= {
        "id": view_id,
        "team_id": team_id,
        "app_installed_team_id": team_id,
        "callback_id": callback_id,
        "private_metadata": private_metadata,
        "state": {"values": dict(values)},
    }
    return base


def _input_values(
    view: Mapping[str, Any], reason: str | None, choices: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """`state.values` as Slack sends them: `reason` in the reason input, other inputs empty, and
    each radio group's selection (`choices` by action id, else its initial option)."""
    values: dict[str, Any] = {}
    for block in view.get("blocks") or []:
        if isinstance(block, dict) and block.get("type") == "actions":
            values.update(_radio_values(block, choices or {}))
        if not isinstance(block, dict) or block.get("type") != "input":
            continue
        element = block.get("element")
        if not isinstance(element, dict) or "action_id" not in element:
            continue
        block_id, action_id = str(block.get("block_id", "")), str(element["action_id"])
        typed = reason if (block_id, action_id) == (REASON_BLOCK, REASON_ACTION) else None
        values[block_id] = {
            action_id: {"type": element.get("type", "plain_text_input"), "value": typed}
        }
    if reason is not None and REASON_BLOCK not in values:
        values[REASON_BLOCK] = {REASON_ACTION: {"type": "plain_text_input", "value": reason}}
    return values


def _radio_values(block: Mapping[str, Any], choices: Mapping[str, str]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for element in block.get("elements") or []:
        if not isinstance(element, dict) or element.get("type") != "radio_buttons":
            continue
        action_id = str(element.get("action_id", ""))
        options = [o for o in element.get("options") or [] if isinstance(o, dict)]
        chosen = choices.get(action_id)
        selected = next((o for o in options if o.get("value") == chosen), None)
        selected = selected or element.get("initial_option")
        state: dict[str, Any] = {"type": "radio_buttons", "selected_option": selected}
        values.setdefault(str(block.get("block_id", "")), {})[action_id] = state
    return values


def view_action_payload(
    view: Mapping[str, Any],
    action_id: str,
    value: str,
    *,
    user_id: str,
    team_id: str = TEAM_ID,
    user_name: str | None = None,
    enterprise_id: str | None = None,
    choices: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """A `block_actions` payload for choosing `value` in a radio group inside an open modal."""
    blocks = [b for b in view.get("blocks") or [] if isinstance(b, dict)]
    element = _element_of(blocks, action_id) or {}
    options = [o for o in element.get("options") or [] if isinstance(o, dict)]
    selected = next((o for o in options if o.get("value") == value), {"value": value})
    state = _input_values(view, None, {**(choices or {}), action_id: value})
    return {
        "type": "block_actions",
        **_actor(user_id, user_name, team_id, enterprise_id),
        "container": {"type": "view", "view_id": view.get("id")},
        "trigger_id": foreign_trigger_id(),
        "view": {**view, "state": {"values": state}},
        "actions": [
            {
                "action_id": action_id,
                "block_id": _block_of(blocks, action_id),
                "type": "radio_buttons",
                "selected_option": selected,
                "action_ts": f"{time.time():.6f}",
            }
        ],
    }


def _block_of(blocks: list[dict[str, Any]], action_id: str) -> str:
    for block in blocks:
        for element in block.get("elements", []) if isinstance(block, dict) else []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return str(block.get("block_id", "actions"))
    return "actions"


def _element_of(blocks: list[dict[str, Any]], action_id: str) -> dict[str, Any] | None:
    for block in blocks:
        for element in block.get("elements", []) if isinstance(block, dict) else []:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return element
    return None


class SocketModeSlackClient(SlackClient):
    """`SlackClient` for a bot in Socket Mode: the same requests, sent as envelopes.

    Each body the builders make is turned back into the payload Slack would put in an envelope
    (a slash command's fields, or the interaction payload) and sent over the stub Slack's
    WebSocket; the ack comes back as the response, so `submit()` still applies a
    `response_action` and every helper works as it does over HTTP.

    Args:
        slack: The stub Slack the bot is connected to.
        timeout_s: How long an envelope may wait for its ack.
    """

    def __init__(self, slack: FakeSlack, *, timeout_s: float = 10.0) -> None:
        super().__init__("http://socket-mode.invalid", "unused", slack, timeout_s=timeout_s)
        self._timeout_s = timeout_s

    async def send(
        self,
        body: str,
        *,
        timestamp: int | None = None,  # noqa: ARG002 - envelopes carry no signature
        signed: bool = True,  # noqa: ARG002
        content_type: str = FORM,  # noqa: ARG002
        headers: Mapping[str, str] | None = None,  # noqa: ARG002
    ) -> httpx.Response:
        """Send a form body's payload as an envelope; the ack's payload is the response body."""
        fields = dict(parse_qsl(body, keep_blank_values=True))
        if "payload" in fields:
            kind, payload = INTERACTIVE, json.loads(fields["payload"])
        else:
            kind, payload = SLASH_COMMANDS, fields
        ack = await self._slack.async_send_envelope(kind, payload, timeout=self._timeout_s)
        answer = ack.get("payload")
        if answer is None:
            return httpx.Response(200, content=b"")
        return httpx.Response(200, json=answer)
