"""The stub Slack: Web API methods the bot calls and response_url posts, recorded and scriptable.

`FakeSlack` answers `POST|GET /api/<method>` the way slack.com does for the methods SPEC §4
needs (`auth.test`, `views.*`, `chat.*`, `conversations.open`, `users.info`,
`usergroups.users.list`) and `POST /response/<id>` the way a response_url does. Bodies may be
form-encoded, JSON or query parameters, as slack_sdk's `AsyncWebClient` sends them. Every call
is recorded as a `SlackCall`; tests wait for calls with `wait_for` (sync) or `async_wait_for`.

It keeps enough Slack state to catch real mistakes: views have ids, hashes and a stack and
cannot be updated once closed; messages exist before they can be updated; trigger ids are
single-use (and expire when `trigger_ttl_s` is set).

Every view and message it is sent (`views.*`, `chat.*`, response_url posts, and the acks
`SlackClient` hands it) is checked against Slack's Block Kit limits by `devkit.slack_limits`.
A violation is answered the way Slack answers it (`invalid_blocks` with `errors`,
`invalid_arguments` with `response_metadata.messages`, `msg_too_long`) and recorded in
`limit_violations`, whatever the answer: tests/conftest.py fails any test after which a
violation is left that the test did not `take_limit_violations()` itself.

Scripting: `fail()` makes a method answer `{"ok": false, "error": …}` or HTTP 429 with
`Retry-After` (optionally only for one channel, to act like a private channel, or only a few
times); `delay()` slows a method down to simulate Slack timeouts.

Socket Mode: `apps.connections.open` takes only an app-level token (`xapp-…`; other methods
refuse one) and hands out a `ws://127.0.0.1:<port>/link/…` URL served by this same fake, which
plays Slack's side of the link (`devkit.fakes.socket_mode`): `hello`, envelopes and their acks,
`disconnect`, and a record of how each connection ended. `refuse_app_token()` scripts a refusal.

Run it with `with FakeSlack() as slack:` (background thread) or
`async with FakeSlack().serve() as slack:` (current loop); point the bot's `SLACK_API_URL` at
`slack.api_url`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

from aiohttp import web

from bot.slack.ids import SCOPES
from devkit.fakes.runner import Journal
from devkit.fakes.socket_mode import APP_TOKEN_PREFIX, APPS_CONNECTIONS_OPEN, SocketModeFake
from devkit.slack_limits import Problem, check_message, check_method, check_response, check_view

__all__ = [
    "APP_ID",
    "BOT_ID",
    "BOT_USER_ID",
    "ENTERPRISE_NAME",
    "TEAM_ID",
    "FakeSlack",
    "LimitViolation",
    "SlackCall",
    "SlackMessage",
    "SlackUser",
    "drain_limit_violations",
]

TEAM_ID: Final = "T0TEST"
TEAM_NAME: Final = "Test"
TEAM_DOMAIN: Final = "test"
WORKSPACE_URL: Final = "https://test.slack.com/"
BOT_USER_ID: Final = "U0BOT"
BOT_ID: Final = "B0BOT"
APP_ID: Final = "A0TEST"
ENTERPRISE_NAME: Final = "Test Org"

RESPONSE_URL_METHOD: Final = "response_url"
"""`SlackCall.method` of a post to a response_url; its args carry `response_url_id`."""

ACK_METHOD: Final = "ack"
"""`LimitViolation.method` of a message the bot returned in an HTTP ack (`check_ack`)."""

RESPONSE_ACTION_METHOD: Final = "response_action"
"""`LimitViolation.method` of a view a `response_action: update` ack put up (`replace_view`)."""

PRIVATE_CHANNEL_METHODS: Final = (
    "chat.postMessage",
    "chat.postEphemeral",
    "chat.update",
    "chat.getPermalink",
)
"""What `private_channel()` makes fail."""

_FIRST_TS_SECONDS: Final = 1_700_000_000
_TS_STEP_US: Final = 100
_JSON_FIELDS: Final = ("view", "blocks", "attachments", "metadata")
"""Fields slack_sdk sends as JSON strings when a method goes out form-encoded."""

_INVALID_BLOCKS_STATUS: Final = 400
"""What a response_url answers a payload Slack would not show (as incoming webhooks do)."""


class LimitViolation(NamedTuple):
    """A payload sent to a `FakeSlack` that Slack's Block Kit limits do not allow.

    Attributes:
        method: The Web API method, `response_url`, `ack` or `response_action`.
        problem: What was wrong and where, e.g.
            `must be less than 2001 characters [json-pointer:/blocks/0/fields/0/text]`.
    """

    method: str
    problem: str


_pending_lock = threading.Lock()
_pending: list[FakeSlack] = []
"""Fakes holding violations nobody has taken yet. Strong references on purpose: a fake a test
built and dropped must still be there when the test's teardown looks (a weak registry would
lose it to garbage collection first); `take_limit_violations()` lets go of it."""


def drain_limit_violations() -> list[LimitViolation]:
    """Takes every violation any `FakeSlack` has recorded that nobody has taken yet.

    tests/conftest.py calls this after each test, so a violation fails the test during which it
    was recorded (module-scoped fakes included).

    Returns:
        The violations, fake by fake, in the order each fake recorded them.
    """
    with _pending_lock:
        fakes = list(_pending)
    # A fake's lock is always taken before the registry's (never inside it), so release first.
    return [violation for fake in fakes for violation in fake.take_limit_violations()]


@dataclass(frozen=True, slots=True)
class SlackCall:
    """One request the fake received.

    Attributes:
        method: The Web API method (`chat.postMessage`), or `response_url` for a response_url post.
        args: The arguments: query, form and JSON body merged; JSON-string fields (`view`,
            `blocks`, …) decoded; for response_url posts the JSON body plus `response_url_id`.
        token: The bearer token (or `token` argument) it carried, if any.
        at: `time.monotonic()` when it arrived.
        error: The `error` the fake answered with, None when it answered `ok`.
    """

    method: str
    args: dict[str, Any]
    token: str | None = dataclasses.field(repr=False)
    at: float
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SlackUser:
    """A workspace member as `users.info` describes one.

    Attributes:
        id: `U…` (or `W…` on Enterprise Grid).
        name: The handle.
        real_name: The display name; defaults to `name`.
        team_id: The member's workspace.
        is_restricted: A multi-channel guest.
        is_ultra_restricted: A single-channel guest.
        enterprise_id: Set for Enterprise Grid members (adds `enterprise_user`).
        is_bot: A bot user.
        deleted: A deactivated account.
    """

    id: str
    name: str
    real_name: str = ""
    team_id: str = TEAM_ID
    is_restricted: bool = False
    is_ultra_restricted: bool = False
    enterprise_id: str | None = None
    is_bot: bool = False
    deleted: bool = False

    def to_api(self) -> dict[str, Any]:
        """Returns the `user` object of a `users.info` answer."""
        real_name = self.real_name or self.name
        user: dict[str, Any] = {
            "id": self.id,
            "team_id": self.team_id,
            "name": self.name,
            "real_name": real_name,
            "deleted": self.deleted,
            "is_bot": self.is_bot,
            "is_app_user": False,
            "is_admin": False,
            "is_owner": False,
            "is_restricted": self.is_restricted,
            "is_ultra_restricted": self.is_ultra_restricted,
            "tz": "Etc/UTC",
            "profile": {"real_name": real_name, "display_name": self.name, "team": self.team_id},
        }
        if self.enterprise_id is not None:
            user["enterprise_user"] = {
                "id": self.id,
                "enterprise_id": self.enterprise_id,
                "enterprise_name": ENTERPRISE_NAME,
                "is_admin": False,
                "is_owner": False,
                "teams": [self.team_id],
            }
        return user


@dataclass(frozen=True, slots=True)
class SlackMessage:
    """A message as it currently stands in the fake workspace.

    Attributes:
        channel: Channel id (`D…` for a DM).
        ts: Its timestamp id.
        text: The text fallback.
        blocks: Block Kit blocks.
        thread_ts: The parent's ts when it is a reply.
        user: Who posted it.
        ephemeral_to: The only user who sees it, for ephemeral messages.
        deleted: Deleted through a response_url `delete_original`.
        edits: How many times it was updated.
    """

    channel: str
    ts: str
    text: str
    blocks: list[dict[str, Any]]
    thread_ts: str | None = None
    user: str = BOT_USER_ID
    ephemeral_to: str | None = None
    deleted: bool = False
    edits: int = 0


@dataclass(slots=True)
class _Failure:
    method: str
    error: str
    times: int | None
    channel: str | None
    status: int
    retry_after: int | None


@dataclass(slots=True)
class _Trigger:
    issued_at: float
    user_id: str | None
    used: bool = False


@dataclass(frozen=True, slots=True)
class _ResponseTarget:
    channel: str | None
    message_ts: str | None
    user_id: str | None


class SlackError(Exception):
    """A Web API method's `{"ok": false, "error": …}` answer, raised inside the fake.

    Args:
        error: The error code.
        *messages: `response_metadata.messages`.
        errors: The top-level `errors` Slack adds to `invalid_blocks`.
    """

    def __init__(self, error: str, *messages: str, errors: Sequence[str] = ()) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages
        self.errors = tuple(errors)


Handler = Callable[[dict[str, Any]], dict[str, Any]]


class FakeSlack(SocketModeFake):
    """A stub of the Slack Web API, response_urls and Socket Mode that records and scripts calls.

    Args:
        team_id: The workspace `auth.test` reports and views carry.
        enterprise_id: Set to act like an Enterprise Grid install.
        bot_token: When set, calls with another token get `invalid_auth`; otherwise any token
            is accepted (a missing one still gets `not_authed`, an app-level one
            `not_allowed_token_type`).
        app_token: When set, `apps.connections.open` with another `xapp-` token gets
            `invalid_auth`; otherwise any app-level token opens a Socket Mode link.
        scopes: The scopes reported in `X-OAuth-Scopes`; defaults to the manifest's.
        trigger_ttl_s: When set, `views.open`/`views.push` with a trigger id minted here more
            than this long ago get `expired_trigger_id` (Slack's window is 3 s).
    """

    def __init__(
        self,
        *,
        team_id: str = TEAM_ID,
        enterprise_id: str | None = None,
        bot_token: str | None = None,
        app_token: str | None = None,
        scopes: Iterable[str] = SCOPES,
        trigger_ttl_s: float | None = None,
    ) -> None:
        super().__init__(app_id=APP_ID, app_token=app_token)
        self.team_id = team_id
        self.enterprise_id = enterprise_id
        self.scopes = tuple(scopes)
        self.trigger_ttl_s = trigger_ttl_s
        self._bot_token = bot_token
        self._lock = threading.Lock()
        self._journal: Journal[SlackCall] = Journal()
        self._failures: list[_Failure] = []
        self._delays: dict[str, float] = {}
        self._users: dict[str, SlackUser] = {}
        self._groups: dict[str, list[str]] = {}
        self._views: dict[str, dict[str, Any]] = {}
        self._view_owner: dict[str, str | None] = {}
        self._closed_views: set[str] = set()
        self._messages: dict[tuple[str, str], SlackMessage] = {}
        self._triggers: dict[str, _Trigger] = {}
        self._response_targets: dict[str, _ResponseTarget] = {}
        self._violations: list[LimitViolation] = []
        self._counter = itertools.count(1)
        self._ts_counter = itertools.count(1)
        self._handlers: dict[str, Handler] = {
            "auth.test": self._auth_test,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "conversations.open": self._conversations_open,
            "users.info": self._users_info,
            "usergroups.users.list": self._usergroups_users_list,
            APPS_CONNECTIONS_OPEN: self._apps_connections_open,
        }

    # -- running -------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """Builds the aiohttp application serving `/api/<method>`, `/response/<id>` and `/link/`.

        Returns:
            The application.
        """
        app = web.Application()
        app.router.add_route("POST", "/api/{method}", self._handle_api)
        app.router.add_route("GET", "/api/{method}", self._handle_api)
        app.router.add_post("/response/{id}", self._handle_response_url)
        self._serve_socket_mode(app)
        return app

    @property
    def api_url(self) -> str:
        """The Web API base to give the bot as `SLACK_API_URL`; ends with `/api/`."""
        return f"{self.root_url}/api/"

    # -- scripting -----------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        error: str,
        *,
        times: int | None = None,
        channel: str | None = None,
        status: int = 200,
        retry_after: int | None = None,
    ) -> None:
        """Makes `method` answer `{"ok": false, "error": error}`.

        The oldest matching script wins; a script with `times` is dropped once used up.

        Args:
            method: A Web API method, or `response_url`.
            error: The Slack error code (`not_in_channel`, `expired_trigger_id`, `ratelimited`, …).
            times: Fail only this many times; None fails until `clear_failures()`.
            channel: Fail only calls for this channel (a response_url matches on the channel it
                was minted for), e.g. to act like a private channel the bot is not in.
            status: HTTP status; 429 adds `Retry-After`.
            retry_after: Seconds for `Retry-After` (defaults to 1 with status 429).
        """
        if status == 429 and retry_after is None:
            retry_after = 1
        with self._lock:
            self._failures.append(_Failure(method, error, times, channel, status, retry_after))

    def private_channel(self, channel: str, error: str = "channel_not_found") -> None:
        """Makes `channel` act like a private channel the bot is not in.

        Every `chat.*` method then answers `error` for it; response_urls minted for it still
        work, as they do in Slack (which is why delivery falls back to them).

        Args:
            channel: The channel id.
            error: The error code; Slack says `channel_not_found` for private channels and
                `not_in_channel` for some public ones.
        """
        for method in PRIVATE_CHANNEL_METHODS:
            self.fail(method, error, channel=channel)

    def delay(self, method: str, seconds: float) -> None:
        """Delays every answer of `method` (after recording it), to simulate a slow Slack.

        Args:
            method: A Web API method, or `response_url`.
            seconds: Extra latency; 0 removes the delay.
        """
        with self._lock:
            if seconds > 0:
                self._delays[method] = seconds
            else:
                self._delays.pop(method, None)

    def refuse_app_token(self, error: str = "invalid_auth", *, times: int | None = None) -> None:
        """Makes `apps.connections.open` refuse the app-level token, as for a revoked one.

        Args:
            error: The Slack error code (`invalid_auth`, `token_revoked`, `not_authed`, …).
            times: Refuse only this many times; None refuses until `clear_failures()`.
        """
        self.fail(APPS_CONNECTIONS_OPEN, error, times=times)

    def clear_failures(self) -> None:
        """Drops every `fail()` and `delay()` script."""
        with self._lock:
            self._failures.clear()
            self._delays.clear()

    def set_users(self, *users: SlackUser) -> None:
        """Adds users to the workspace, replacing those with the same id.

        Args:
            *users: The users `users.info` will describe.
        """
        with self._lock:
            for user in users:
                self._users[user.id] = user

    def user(self, user_id: str) -> SlackUser | None:
        """Returns a workspace member, or None if `users.info` would say `user_not_found`."""
        with self._lock:
            return self._users.get(user_id)

    def ensure_user(self, user_id: str, *, team_id: str | None = None) -> None:
        """Adds a plain member with a handle derived from the id unless the user exists.

        Args:
            user_id: The user id.
            team_id: Their workspace; defaults to this fake's.
        """
        with self._lock:
            if user_id not in self._users:
                name = user_id.lower()
                self._users[user_id] = SlackUser(
                    id=user_id, name=name, real_name=name.title(), team_id=team_id or self.team_id
                )

    def set_group(self, group_id: str, users: Iterable[str]) -> None:
        """Sets the members `usergroups.users.list` reports for a user group.

        Args:
            group_id: `S…`.
            users: Member user ids.
        """
        with self._lock:
            self._groups[group_id] = list(users)

    def mint_trigger_id(self, user_id: str | None = None) -> str:
        """Issues a trigger id for an interaction payload, as Slack would.

        Args:
            user_id: Whose interaction it is; views opened with it belong to them.

        Returns:
            A trigger id shaped like Slack's.
        """
        trigger_id = f"{next(self._counter)}.{int(time.time())}.{secrets.token_hex(16)}"
        with self._lock:
            self._triggers[trigger_id] = _Trigger(time.monotonic(), user_id)
        return trigger_id

    def trigger_issued_at(self, trigger_id: str) -> float | None:
        """`time.monotonic()` when `mint_trigger_id` issued it; None for a foreign id."""
        with self._lock:
            trigger = self._triggers.get(trigger_id)
        return None if trigger is None else trigger.issued_at

    def response_url(
        self,
        response_url_id: str | None = None,
        *,
        channel: str | None = None,
        message_ts: str | None = None,
        user_id: str | None = None,
    ) -> str:
        """Mints a response_url served by this fake.

        Args:
            response_url_id: Its id; generated when None.
            channel: The channel an `in_channel` response goes to.
            message_ts: The message `replace_original`/`delete_original` act on.
            user_id: Who sees an ephemeral response.

        Returns:
            `http://127.0.0.1:<port>/response/<id>`.
        """
        rid = response_url_id or f"R{next(self._counter):06d}{secrets.token_hex(4).upper()}"
        with self._lock:
            self._response_targets[rid] = _ResponseTarget(channel, message_ts, user_id)
        return f"{self.root_url}/response/{rid}"

    def add_message(
        self,
        channel: str,
        text: str,
        blocks: list[dict[str, Any]] | None = None,
        *,
        ts: str | None = None,
        thread_ts: str | None = None,
        user: str = BOT_USER_ID,
    ) -> SlackMessage:
        """Puts a message into a channel without a recorded call (one an alerting tool posted).

        Args:
            channel: Channel id.
            text: Text fallback.
            blocks: Block Kit blocks.
            ts: Its ts; generated when None.
            thread_ts: The parent's ts for a reply.
            user: Who posted it.

        Returns:
            The stored message.
        """
        with self._lock:
            message = SlackMessage(
                channel=channel,
                ts=ts or self._next_ts(),
                text=text,
                blocks=list(blocks or []),
                thread_ts=thread_ts,
                user=user,
            )
            self._messages[(channel, message.ts)] = message
        return message

    def close_view(self, view_id: str) -> None:
        """Marks a view (and its stack) closed, as when the user dismisses the modal."""
        with self._lock:
            root = self._views.get(view_id, {}).get("root_view_id", view_id)
            for vid, view in self._views.items():
                if vid == view_id or view.get("root_view_id") == root:
                    self._closed_views.add(vid)

    def replace_view(self, view_id: str, view: Mapping[str, Any]) -> dict[str, Any]:
        """Replaces an open view's content, as a `response_action: update` ack does.

        Args:
            view_id: The view.
            view: The new view definition.

        Returns:
            The stored view.

        Raises:
            KeyError: The view is unknown.
            SlackError: The view breaks Slack's limits (recorded as a `response_action`
                violation); Slack would show the user an error and keep the old view.
        """
        problems = check_view(view, at="/view")
        if problems:
            self._record_violations(RESPONSE_ACTION_METHOD, problems)
            raise _refusal("views.update", {}, problems)
        with self._lock:
            old = self._views[view_id]
            stored = self._build_view(
                dict(view),
                view_id=view_id,
                root=old["root_view_id"],
                previous=old["previous_view_id"],
            )
            self._views[view_id] = stored
            return stored

    # -- queries -------------------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[SlackCall]:
        """Returns the recorded calls in arrival order, optionally of one method."""
        return self._journal.snapshot(None if method is None else _method_is(method))

    def clear(self) -> None:
        """Forgets recorded calls (scripts, users, views and messages stay)."""
        self._journal.clear()

    def wait_for(
        self,
        method: str,
        predicate: Callable[[SlackCall], bool] | None = None,
        timeout: float = 10.0,
        *,
        count: int = 1,
    ) -> SlackCall:
        """Blocks until a matching call has arrived (already recorded ones count).

        For sync callers; use `async_wait_for` on an event loop.

        Args:
            method: The method to wait for, or several separated by `|`.
            predicate: An extra condition on the call.
            timeout: Seconds to wait at most.
            count: Wait for this many matching calls and return the last of them.

        Returns:
            The `count`-th matching call.

        Raises:
            TimeoutError: No such call in time; the message lists what did arrive.
        """
        try:
            return self._journal.wait(_matcher(method, predicate), timeout=timeout, count=count)
        except TimeoutError:
            raise TimeoutError(self._timeout_message(method, count, timeout)) from None

    async def async_wait_for(
        self,
        method: str,
        predicate: Callable[[SlackCall], bool] | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors wait_for for sync callers
        *,
        count: int = 1,
    ) -> SlackCall:
        """Waits without blocking the loop until a matching call has arrived.

        Args:
            method: The method to wait for.
            predicate: An extra condition on the call.
            timeout: Seconds to wait at most.
            count: Wait for this many matching calls and return the last of them.

        Returns:
            The `count`-th matching call.

        Raises:
            TimeoutError: No such call in time; the message lists what did arrive.
        """
        try:
            return await self._journal.async_wait(
                _matcher(method, predicate), timeout=timeout, count=count
            )
        except TimeoutError:
            raise TimeoutError(self._timeout_message(method, count, timeout)) from None

    def view(self, view_id: str) -> dict[str, Any] | None:
        """Returns a view as it now stands (a copy), or None if unknown."""
        with self._lock:
            view = self._views.get(view_id)
            return None if view is None else _copy(view)

    def is_view_open(self, view_id: str) -> bool:
        """True if the view exists and was not closed."""
        with self._lock:
            return view_id in self._views and view_id not in self._closed_views

    def current_view(self, user_id: str) -> dict[str, Any] | None:
        """Returns the user's newest open view (a copy), or None."""
        with self._lock:
            for vid in reversed(list(self._views)):
                if self._view_owner.get(vid) == user_id and vid not in self._closed_views:
                    return _copy(self._views[vid])
        return None

    def message(self, channel: str, ts: str) -> SlackMessage | None:
        """Returns a message as it now stands, or None."""
        with self._lock:
            return self._messages.get((channel, ts))

    def messages(self, channel: str | None = None) -> list[SlackMessage]:
        """Returns stored messages in posting order, optionally of one channel."""
        with self._lock:
            found = list(self._messages.values())
        return [m for m in found if channel is None or m.channel == channel]

    @property
    def limit_violations(self) -> list[LimitViolation]:
        """Every payload outside Slack's Block Kit limits sent here and not yet taken, in order."""
        with self._lock:
            return list(self._violations)

    def take_limit_violations(self) -> list[LimitViolation]:
        """Returns the recorded violations and forgets them.

        A test that sends an invalid payload on purpose takes the violations it expects, so the
        end-of-test check in tests/conftest.py does not fail it.

        Returns:
            What `limit_violations` held.
        """
        # Both locks in the order `_record_violations` takes them, so a violation recorded
        # meanwhile is either taken here or leaves the fake pending.
        with self._lock, _pending_lock:
            taken, self._violations = self._violations, []
            if self in _pending:
                _pending.remove(self)
        return taken

    def assert_within_limits(self) -> None:
        """Fails if anything sent here broke Slack's Block Kit limits.

        Raises:
            AssertionError: Lists every violation, one per line.
        """
        violations = self.limit_violations
        if violations:
            lines = "\n".join(f"  {method}: {problem}" for method, problem in violations)
            raise AssertionError(f"payloads outside Slack's Block Kit limits:\n{lines}")

    def check_ack(self, body: object) -> list[str]:
        """Checks a message the bot returned in an HTTP ack, as Slack would before showing it.

        Slack shows a slash command's ack text and blocks to the user, so they are held to the
        same limits as posted messages; violations are recorded under `ack`. Acks that carry no
        message (empty, `response_action`, …) have nothing to check.

        Args:
            body: The decoded JSON body of the ack.

        Returns:
            The violations found (already recorded).
        """
        if not isinstance(body, Mapping) or "response_action" in body:
            return []
        if "text" not in body and "blocks" not in body:
            return []
        problems = check_message(
            body.get("text"), body.get("blocks"), attachments=body.get("attachments")
        )
        self._record_violations(ACK_METHOD, problems)
        return [str(problem) for problem in problems]

    def transcript(self) -> list[str]:
        """Returns what users were shown, one line per successful call, in order."""
        lines: list[str] = []
        for call in self.calls():
            if call.error is None and (line := _transcript_line(call)) is not None:
                lines.append(line)
        return lines

    # -- HTTP ----------------------------------------------------------------------------------

    async def _handle_api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            args, token = await _read_api_args(request)
            in_header = request.headers.get("Authorization", "").startswith("Bearer ")
        except ValueError:
            self._journal.append(SlackCall(method, {}, None, time.monotonic(), "invalid_json"))
            return _slack_json({"ok": False, "error": "invalid_json"}, scopes=self.scopes)
        arrived = time.monotonic()
        status, retry_after = 200, None
        # Recorded whatever the answer: a payload the bot sent is a bug even when Slack would
        # have refused the call for another reason first.
        problems = check_method(method, args)
        self._record_violations(method, problems)
        try:
            with self._lock:
                delay = self._delays.get(method, 0.0)
                self._check_auth(method, token, in_header=in_header)
                failure = self._take_failure(method, args.get("channel"))
                if failure is not None:
                    status, retry_after = failure.status, failure.retry_after
                    raise SlackError(failure.error)
                if problems:
                    raise _refusal(method, args, problems)
                handler = self._handlers.get(method)
                if handler is None:
                    raise SlackError("unknown_method")
                body = handler(args)
            self._journal.append(SlackCall(method, args, token, arrived))
        except SlackError as exc:
            self._journal.append(SlackCall(method, args, token, arrived, exc.error))
            body = _error_body(exc)
        if delay:
            await asyncio.sleep(delay)
        return _slack_json(body, status=status, retry_after=retry_after, scopes=self.scopes)

    async def _handle_response_url(self, request: web.Request) -> web.Response:
        rid = request.match_info["id"]
        arrived = time.monotonic()
        try:
            payload = json.loads(await request.text())
            if not isinstance(payload, dict):
                raise ValueError("not an object")
        except ValueError:
            call = SlackCall(RESPONSE_URL_METHOD, {"response_url_id": rid}, None, arrived)
            self._journal.append(dataclasses.replace(call, error="invalid_payload"))
            return web.json_response({"ok": False, "error": "invalid_payload"}, status=400)
        args = {**payload, "response_url_id": rid}
        status, retry_after, error = 200, None, None
        problems = check_response(payload)
        self._record_violations(RESPONSE_URL_METHOD, problems)
        refusal: SlackError | None = None
        with self._lock:
            delay = self._delays.get(RESPONSE_URL_METHOD, 0.0)
            target = self._response_targets.get(rid, _ResponseTarget(None, None, None))
            failure = self._take_failure(RESPONSE_URL_METHOD, target.channel)
            if failure is not None:
                status, retry_after, error = failure.status, failure.retry_after, failure.error
            elif problems:
                refusal = _refusal(RESPONSE_URL_METHOD, payload, problems)
                status, error = _INVALID_BLOCKS_STATUS, refusal.error
            else:
                self._apply_response(target, payload)
        self._journal.append(SlackCall(RESPONSE_URL_METHOD, args, None, arrived, error))
        if delay:
            await asyncio.sleep(delay)
        if refusal is not None:
            return _slack_json(_error_body(refusal), status=status)
        if error is not None:
            return _slack_json(
                {"ok": False, "error": error}, status=status, retry_after=retry_after
            )
        return web.json_response({"ok": True})

    # -- state helpers (called with the lock held) ---------------------------------------------

    def _record_violations(self, method: str, problems: Sequence[Problem]) -> None:
        if not problems:
            return
        with self._lock, _pending_lock:
            self._violations.extend(LimitViolation(method, str(p)) for p in problems)
            if self not in _pending:
                _pending.append(self)

    def _check_auth(self, method: str, token: str | None, *, in_header: bool) -> None:
        if method == APPS_CONNECTIONS_OPEN:
            error = self._app_token_error(token, in_header=in_header)
            if error is not None:
                raise SlackError(error)
            return
        if not token:
            raise SlackError("not_authed")
        if token.startswith(APP_TOKEN_PREFIX):
            # App-level tokens only open Socket Mode links; Slack refuses them elsewhere.
            raise SlackError("not_allowed_token_type")
        if self._bot_token is not None and token != self._bot_token:
            raise SlackError("invalid_auth")

    def _take_failure(self, method: str, channel: object) -> _Failure | None:
        for failure in self._failures:
            if failure.method != method:
                continue
            if failure.channel is not None and failure.channel != channel:
                continue
            if failure.times is not None:
                failure.times -= 1
                if failure.times <= 0:
                    self._failures.remove(failure)
            return failure
        return None

    def _next_ts(self) -> str:
        micros = next(self._ts_counter) * _TS_STEP_US
        return f"{_FIRST_TS_SECONDS + micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _next_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._counter):04d}{secrets.token_hex(3).upper()}"

    def _use_trigger(self, args: dict[str, Any]) -> str | None:
        trigger_id = args.get("trigger_id")
        if not isinstance(trigger_id, str) or not trigger_id:
            raise SlackError("invalid_arguments", "[ERROR] missing required field: trigger_id")
        trigger = self._triggers.get(trigger_id)
        if trigger is None:  # hand-made payloads carry ids this fake never issued
            return None
        if trigger.used:
            raise SlackError("exchanged_trigger_id")
        if self.trigger_ttl_s is not None and (
            time.monotonic() - trigger.issued_at > self.trigger_ttl_s
        ):
            raise SlackError("expired_trigger_id")
        trigger.used = True
        return trigger.user_id

    def _build_view(
        self,
        view: dict[str, Any],
        *,
        view_id: str,
        root: str | None = None,
        previous: str | None = None,
    ) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": self.team_id,
            "type": view.get("type", "modal"),
            "title": view.get("title"),
            "submit": view.get("submit"),
            "close": view.get("close"),
            "blocks": view.get("blocks", []),
            "private_metadata": view.get("private_metadata", ""),
            "callback_id": view.get("callback_id", ""),
            "external_id": view.get("external_id", ""),
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "clear_on_close": bool(view.get("clear_on_close", False)),
            "notify_on_close": bool(view.get("notify_on_close", False)),
            "root_view_id": root or view_id,
            "previous_view_id": previous,
            "app_id": APP_ID,
            "app_installed_team_id": self.team_id,
            "bot_id": BOT_ID,
        }

    def _find_view(self, args: dict[str, Any]) -> str:
        view_id = args.get("view_id")
        if not view_id and args.get("external_id"):
            view_id = next(
                (v["id"] for v in self._views.values() if v["external_id"] == args["external_id"]),
                None,
            )
        if not view_id:
            raise SlackError("invalid_arguments", "[ERROR] either view_id or external_id required")
        if view_id not in self._views or view_id in self._closed_views:
            raise SlackError("not_found")
        return str(view_id)

    def _channel_for(self, channel: object) -> str:
        if not isinstance(channel, str) or not channel:
            raise SlackError("channel_not_found")
        # Posting to a user id lands in the DM with them, and Slack answers with the DM's id.
        return f"D{channel}" if channel[0] in "UW" else channel

    def _message_body(self, message: SlackMessage) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": "message",
            "user": message.user,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": self.team_id,
            "text": message.text,
            "blocks": message.blocks,
            "ts": message.ts,
        }
        if message.thread_ts is not None:
            body["thread_ts"] = message.thread_ts
        return body

    def _apply_response(self, target: _ResponseTarget, payload: dict[str, Any]) -> None:
        text = str(payload.get("text", ""))
        blocks = payload.get("blocks") if isinstance(payload.get("blocks"), list) else None
        original = (
            self._messages.get((target.channel, target.message_ts))
            if target.channel is not None and target.message_ts is not None
            else None
        )
        if payload.get("delete_original") in (True, "true"):
            if original is not None:
                self._messages[(original.channel, original.ts)] = dataclasses.replace(
                    original, deleted=True
                )
        elif payload.get("replace_original") in (True, "true"):
            if original is not None:
                self._messages[(original.channel, original.ts)] = dataclasses.replace(
                    original, text=text, blocks=blocks or [], edits=original.edits + 1
                )
        elif target.channel is not None:
            in_channel = payload.get("response_type") == "in_channel"
            message = SlackMessage(
                channel=target.channel,
                ts=self._next_ts(),
                text=text,
                blocks=blocks or [],
                thread_ts=payload.get("thread_ts") if in_channel else None,
                ephemeral_to=None if in_channel else target.user_id,
            )
            self._messages[(message.channel, message.ts)] = message

    def _timeout_message(self, method: str, count: int, timeout: float) -> str:
        seen = [f"{c.method}{'!' + c.error if c.error else ''}" for c in self.calls()]
        return (
            f"FakeSlack: fewer than {count} matching {method} call(s) within {timeout} s; "
            f"calls so far: {', '.join(seen) or 'none'}"
        )

    # -- Web API methods (called with the lock held) -------------------------------------------

    def _auth_test(self, _args: dict[str, Any]) -> dict[str, Any]:
        answer: dict[str, Any] = {
            "ok": True,
            "url": WORKSPACE_URL,
            "team": TEAM_NAME,
            "user": "vs-terminate",
            "team_id": self.team_id,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }
        if self.enterprise_id is not None:
            answer["enterprise_id"] = self.enterprise_id
        return answer

    def _views_open(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _require_view(args)
        owner = self._use_trigger(args)
        view_id = self._next_id("V")
        stored = self._build_view(view, view_id=view_id)
        self._views[view_id] = stored
        self._view_owner[view_id] = owner
        return {"ok": True, "view": stored}

    def _views_push(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _require_view(args)
        owner = self._use_trigger(args)
        below = next(
            (
                vid
                for vid in reversed(list(self._views))
                if self._view_owner.get(vid) == owner and vid not in self._closed_views
            ),
            None,
        )
        view_id = self._next_id("V")
        root = self._views[below]["root_view_id"] if below is not None else None
        stored = self._build_view(view, view_id=view_id, root=root, previous=below)
        self._views[view_id] = stored
        self._view_owner[view_id] = owner
        return {"ok": True, "view": stored}

    def _views_update(self, args: dict[str, Any]) -> dict[str, Any]:
        view = _require_view(args)
        view_id = self._find_view(args)
        old = self._views[view_id]
        expected = args.get("hash")
        if expected and expected != old["hash"]:
            raise SlackError("hash_conflict")
        stored = self._build_view(
            view, view_id=view_id, root=old["root_view_id"], previous=old["previous_view_id"]
        )
        self._views[view_id] = stored
        return {"ok": True, "view": stored}

    def _chat_post_message(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_for(args.get("channel"))
        text, blocks = _message_content(args)
        thread_ts = args.get("thread_ts") or None
        message = SlackMessage(
            channel=channel,
            ts=self._next_ts(),
            text=text,
            blocks=blocks or [],
            thread_ts=str(thread_ts) if thread_ts else None,
        )
        self._messages[(channel, message.ts)] = message
        return {
            "ok": True,
            "channel": channel,
            "ts": message.ts,
            "message": self._message_body(message),
        }

    def _chat_update(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_for(args.get("channel"))
        ts = args.get("ts")
        original = self._messages.get((channel, str(ts)))
        if original is None or original.deleted:
            raise SlackError("message_not_found")
        text, blocks = _message_content(args, allow_empty=True)
        # Slack keeps the previous blocks when `blocks` is left out; `[]` removes them.
        updated = dataclasses.replace(
            original,
            text=text if "text" in args else original.text,
            blocks=original.blocks if blocks is None else blocks,
            edits=original.edits + 1,
        )
        self._messages[(channel, original.ts)] = updated
        return {
            "ok": True,
            "channel": channel,
            "ts": updated.ts,
            "text": updated.text,
            "message": self._message_body(updated),
        }

    def _chat_post_ephemeral(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_for(args.get("channel"))
        user = args.get("user")
        if not isinstance(user, str) or not user:
            raise SlackError("user_not_found")
        text, blocks = _message_content(args)
        thread_ts = args.get("thread_ts") or None
        message = SlackMessage(
            channel=channel,
            ts=self._next_ts(),
            text=text,
            blocks=blocks or [],
            thread_ts=str(thread_ts) if thread_ts else None,
            ephemeral_to=user,
        )
        self._messages[(channel, message.ts)] = message
        return {"ok": True, "message_ts": message.ts}

    def _chat_get_permalink(self, args: dict[str, Any]) -> dict[str, Any]:
        channel = self._channel_for(args.get("channel"))
        ts = str(args.get("message_ts", ""))
        if (channel, ts) not in self._messages:
            raise SlackError("message_not_found")
        return {
            "ok": True,
            "channel": channel,
            "permalink": f"https://test.slack.com/archives/{channel}/p{ts.replace('.', '')}",
        }

    def _conversations_open(self, args: dict[str, Any]) -> dict[str, Any]:
        users = args.get("users")
        if isinstance(users, list):
            users = ",".join(str(u) for u in users)
        if not isinstance(users, str) or not users:
            raise SlackError("users_list_not_supplied")
        ids = [u.strip() for u in users.split(",") if u.strip()]
        for user_id in ids:
            if user_id not in self._users:
                raise SlackError("user_not_found")
        if len(ids) == 1:
            return {"ok": True, "channel": {"id": f"D{ids[0]}"}}
        return {"ok": True, "channel": {"id": f"G{'_'.join(sorted(ids))}"}}

    def _users_info(self, args: dict[str, Any]) -> dict[str, Any]:
        user = self._users.get(str(args.get("user", "")))
        if user is None:
            raise SlackError("user_not_found")
        return {"ok": True, "user": user.to_api()}

    def _usergroups_users_list(self, args: dict[str, Any]) -> dict[str, Any]:
        members = self._groups.get(str(args.get("usergroup", "")))
        if members is None:
            raise SlackError("no_such_subteam")
        return {"ok": True, "users": list(members)}


# -- module helpers ----------------------------------------------------------------------------


def _method_is(method: str) -> Callable[[SlackCall], bool]:
    return lambda call: call.method == method


def _matcher(
    method: str, predicate: Callable[[SlackCall], bool] | None
) -> Callable[[SlackCall], bool]:
    """Calls of `method` (or of any of `"views.open|views.update"`) meeting `predicate`."""
    methods = frozenset(method.split("|"))
    if predicate is None:
        return lambda call: call.method in methods
    return lambda call: call.method in methods and predicate(call)


async def _read_api_args(request: web.Request) -> tuple[dict[str, Any], str | None]:
    """Merges query, form and JSON arguments; decodes JSON-string fields; finds the token."""
    args: dict[str, Any] = dict(request.query)
    if request.method == "POST" and request.can_read_body:
        if request.content_type == "application/json":
            body = json.loads(await request.text() or "{}")
            if not isinstance(body, dict):
                raise ValueError("JSON body is not an object")
            args.update(body)
        else:
            form = await request.post()
            args.update({k: v for k, v in form.items() if isinstance(v, str)})
    for field in _JSON_FIELDS:
        value = args.get(field)
        if isinstance(value, str) and value[:1] in "[{":
            args[field] = json.loads(value)
    token: str | None = None
    authorization = request.headers.get("Authorization", "")
    if authorization.startswith("Bearer "):
        token = authorization.removeprefix("Bearer ").strip()
    token_arg = args.pop("token", None)
    if token is None and isinstance(token_arg, str):
        token = token_arg
    return args, token


def _slack_json(
    body: dict[str, Any],
    *,
    status: int = 200,
    retry_after: int | None = None,
    scopes: tuple[str, ...] = (),
) -> web.Response:
    headers = {"X-OAuth-Scopes": ",".join(scopes)} if scopes else {}
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return web.json_response(body, status=status, headers=headers)


def _require_view(args: dict[str, Any]) -> dict[str, Any]:
    view = args.get("view")
    if not isinstance(view, dict):
        raise SlackError("invalid_arguments", "[ERROR] missing required field: view")
    return view


def _message_content(
    args: dict[str, Any], *, allow_empty: bool = False
) -> tuple[str, list[dict[str, Any]] | None]:
    text = args.get("text")
    text = "" if text is None else str(text)
    blocks = args.get("blocks")
    if blocks is not None and not isinstance(blocks, list):
        raise SlackError("invalid_blocks_format")
    if not allow_empty and not text and not blocks:
        raise SlackError("no_text")
    return text, blocks


def _refusal(method: str, args: Mapping[str, Any], problems: Sequence[Problem]) -> SlackError:
    """The error Slack answers a payload outside its Block Kit limits with."""
    messages = [f"[ERROR] {problem}" for problem in problems]
    if method.startswith("views."):
        return SlackError("invalid_arguments", *messages)
    blocks = args.get("blocks")
    if blocks is not None and not isinstance(blocks, list):
        return SlackError("invalid_blocks_format")
    errors = [str(problem) for problem in problems]
    if any(p.pointer.startswith("/attachments") for p in problems):
        return SlackError("invalid_attachments", *messages, errors=errors)
    if any(p.pointer.startswith("/blocks") for p in problems):
        return SlackError("invalid_blocks", *messages, errors=errors)
    # Slack truncates an over-long `text` (with a warning) rather than refusing it; the fake
    # refuses it so the test sees it.
    return SlackError("msg_too_long", *messages)


def _error_body(exc: SlackError) -> dict[str, Any]:
    body: dict[str, Any] = {"ok": False, "error": exc.error}
    if exc.errors:
        body["errors"] = list(exc.errors)
    if exc.messages:
        body["response_metadata"] = {"messages": list(exc.messages)}
    return body


def _plain_text(obj: object) -> str | None:
    if isinstance(obj, dict) and isinstance(obj.get("text"), str):
        return str(obj["text"])
    return None


def _visible_text(text: str, blocks: object) -> str:
    """What a user reads: the blocks' text when there are blocks, else the fallback text."""
    parts: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, dict):
            continue
        if (line := _plain_text(block.get("text"))) is not None:
            parts.append(line)
        for item in [*block.get("fields", []), *block.get("elements", [])]:
            if not isinstance(item, dict):
                continue
            if (line := _plain_text(item) or _plain_text(item.get("text"))) is not None:
                parts.append(f"[{line}]" if item.get("type") == "button" else line)
        if block.get("type") == "input" and (label := _plain_text(block.get("label"))):
            parts.append(f"<input: {label}>")
    return " | ".join(parts) if parts else text


def _transcript_line(call: SlackCall) -> str | None:
    args = call.args
    text = _visible_text(str(args.get("text", "")), args.get("blocks"))
    where = args.get("channel")
    match call.method:
        case "chat.postMessage":
            thread = f" thread {args['thread_ts']}" if args.get("thread_ts") else ""
            return f"[{where}{thread}] {text}"
        case "chat.postEphemeral":
            return f"[{where} to {args.get('user')} only] {text}"
        case "chat.update":
            return f"[{where} edit {args.get('ts')}] {text}"
        case "response_url":
            return f"[response_url {_response_kind(args)}] {text}".rstrip()
        case "views.open" | "views.update" | "views.push":
            view = args.get("view")
            view = view if isinstance(view, dict) else {}
            title = _plain_text(view.get("title")) or ""
            verb = call.method.removeprefix("views.")
            return f"[modal {verb}] {title}: {_visible_text('', view.get('blocks'))}"
    return None


def _response_kind(args: dict[str, Any]) -> str:
    if args.get("delete_original") in (True, "true"):
        return "delete"
    if args.get("replace_original") in (True, "true"):
        return "replace"
    return "in_channel" if args.get("response_type") == "in_channel" else "ephemeral"


def _copy(view: dict[str, Any]) -> dict[str, Any]:
    """A deep copy, so callers cannot change the fake's state behind its lock."""
    copied: dict[str, Any] = json.loads(json.dumps(view))
    return copied
