"""`vs-terminate-bot sandbox`: the whole flow on this machine, without Slack or VectorShift.

It starts the real `vs-terminate-bot serve` on a SQLite file in a temporary directory, pointed
at the local fakes (`devkit.fakes`: a stub Slack Web API and a fake VectorShift API, both on
127.0.0.1), with a sample policy. Then it plays people: it sends the bot signed Slack requests
(slash commands, button clicks, modal submissions) and prints what each person would see in
Slack — ephemeral replies, modal states, channel and thread messages — from the fake Slack's
record of the bot's calls. The scripted session ends with the audit export and `audit
verify`; `--interactive` lets you type the requests yourself.

Nothing here talks to anything but 127.0.0.1, and the session ends by itself. Exit status 0
when every scripted step showed what it should, 1 otherwise (the server log's tail is shown).
"""

from __future__ import annotations

import asyncio
import json
import shlex
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TextIO

import httpx

from bot.attempts.lifecycle import Outcome
from bot.slack.ids import APPROVE_ACTION, PAUSE_ACTION, RESUME_ACTION
from devkit.fakes import FakeSlack, FakeVectorShift, RunScript, SlackCall, SlackUser
from devkit.payloads import SlackClient
from devkit.render import (
    CONFIRM_CALLBACK,
    RETRY_ACTION,
    TERMINATE_ACTION,
    Audience,
    Button,
    Shown,
    ack_shown,
    buttons,
    call_shown,
    view_text,
)
from devkit.stack import ALERTS_TOKEN, BOT_TOKEN, SIGNING_SECRET, LocalStack

__all__ = ["run_sandbox"]

EXIT_OK: Final = 0
EXIT_FAILED: Final = 1

WAIT_S: Final = 15.0
"""How long a scripted step waits for the bot's next visible call before calling it a failure."""
ERROR_CHECK_S: Final = 0.25
"""How often a wait looks at the bot's log for an error that means the call will never come."""
LOG_TAIL_LINES: Final = 25

# -- the sample workspace -----------------------------------------------------------------------

ALICE: Final = "U0ALICE01"
BOB: Final = "U0BOB0001"
CAROL: Final = "U0CAROL01"
DANA: Final = "U0DANA001"
ERIN: Final = "U0ERIN001"
ONCALL: Final = "S0ONCALL01"
INCIDENTS: Final = "C0INCIDENTS"
RANDOM: Final = "C0RANDOM01"

NIGHTLY_ETL: Final = "65f1c0ffee0123456789abcd"
EMBEDDINGS: Final = "65f1c0ffee0123456789beef"
BILLING: Final = "65f1c0ffee0123456789c0de"

USERS: Final = (
    SlackUser(id=ALICE, name="alice", real_name="Alice Okafor"),
    SlackUser(id=BOB, name="bob", real_name="Bob Lindqvist"),
    SlackUser(id=CAROL, name="carol", real_name="Carol Mendes"),
    SlackUser(id=DANA, name="dana", real_name="Dana Park"),
    SlackUser(id=ERIN, name="erin", real_name="Erin Walsh"),
)
ROLES: Final = {
    ALICE: "on-call (in @data-oncall)",
    CAROL: "on-call (in @data-oncall)",
    BOB: "developer, not in the policy",
    DANA: "platform admin",
    ERIN: "team lead, approves billing terminations",
}
CHANNELS: Final = {INCIDENTS: "incidents", RANDOM: "random"}
GROUPS: Final = {ONCALL: "data-oncall"}

POLICY: Final = f"""\
# Sample policy of the sandbox (VS_POLICY_FILE).
admins = ["{DANA}"]                      # dana may do anything, anywhere

[aliases]
nightly-etl = "{NIGHTLY_ETL}"
embeddings = "{EMBEDDINGS}"
billing = "{BILLING}"

[[rules]]
name = "data-oncall"
who = ["{ONCALL}"]                       # the @data-oncall user group
pipelines = ["nightly-etl", "embeddings"]
channels = ["{INCIDENTS}"]               # only from #incidents
require_reason = true
max_per_hour = 10

[[rules]]
name = "billing-oncall"                  # billing charges customers: two people decide
who = ["{ONCALL}"]
pipelines = ["billing"]
channels = ["{INCIDENTS}"]
approvers = ["{ERIN}"]                   # erin must approve; the requester never counts
"""

PIPELINES: Final = {
    NIGHTLY_ETL: "Nightly ETL",
    EMBEDDINGS: "Embeddings refresh",
    BILLING: "Billing sync",
}
ALIASES: Final = {NIGHTLY_ETL: "nightly-etl", EMBEDDINGS: "embeddings", BILLING: "billing"}

RUN_STUCK: Final = "66aa00bb11cc22dd33ee4401"
RUN_ASKED: Final = "66aa00bb11cc22dd33ee4402"
RUN_DONE: Final = "66aa00bb11cc22dd33ee4403"
RUN_FLAKY: Final = "66aa00bb11cc22dd33ee4404"
RUN_ALERTED: Final = "66aa00bb11cc22dd33ee4405"
RUN_WANDERING: Final = "66aa00bb11cc22dd33ee4406"
RUN_BILLING: Final = "66aa00bb11cc22dd33ee4407"

EXPECTED_OUTCOMES: Final = Counter(
    {
        Outcome.SUCCEEDED.value: 8,  # steps 1, 4 (the retry), 5, 6 (pause, resume, pause,
        # terminate) and 7 (approved)
        Outcome.DENIED.value: 2,  # step 2
        Outcome.ALREADY_FINISHED.value: 1,  # step 3
        Outcome.FAILED.value: 1,  # step 4's first try
    }
)


@dataclass(frozen=True)
class SampleRun:
    """A run the fake VectorShift knows, and how it behaves."""

    pipeline_id: str
    run_id: str
    script: RunScript
    note: str


RUNS: Final = (
    SampleRun(NIGHTLY_ETL, RUN_STUCK, RunScript.SUCCEEDS, "running; stops when terminated"),
    SampleRun(NIGHTLY_ETL, RUN_ASKED, RunScript.SUCCEEDS, "running; stops when terminated"),
    SampleRun(NIGHTLY_ETL, RUN_DONE, RunScript.ALREADY_FINISHED, "already finished"),
    SampleRun(EMBEDDINGS, RUN_FLAKY, RunScript.FAILS_THEN_SUCCEEDS, "first terminate fails (500)"),
    SampleRun(NIGHTLY_ETL, RUN_ALERTED, RunScript.SUCCEEDS, "running; stops when terminated"),
    SampleRun(EMBEDDINGS, RUN_WANDERING, RunScript.SUCCEEDS, "running; pauses, resumes, stops"),
    SampleRun(BILLING, RUN_BILLING, RunScript.SUCCEEDS, "running; stopping it needs Erin's ok"),
    # Short ids for typing in --interactive (VectorShift's are 24 hex characters).
    SampleRun(NIGHTLY_ETL, "run-ok-1", RunScript.SUCCEEDS, "running; stops when terminated"),
    SampleRun(NIGHTLY_ETL, "run-ok-2", RunScript.SUCCEEDS, "running; stops when terminated"),
    SampleRun(EMBEDDINGS, "run-ok-3", RunScript.SUCCEEDS, "running; stops when terminated"),
    SampleRun(NIGHTLY_ETL, "run-flaky", RunScript.FAILS_THEN_SUCCEEDS, "first terminate fails"),
    SampleRun(NIGHTLY_ETL, "run-finished", RunScript.ALREADY_FINISHED, "already finished"),
    SampleRun(
        EMBEDDINGS,
        "run-stubborn",
        RunScript.KEEPS_RUNNING,
        "accepts terminate, keeps running (~30 s)",
    ),
)


def _fakes() -> tuple[FakeSlack, FakeVectorShift]:
    """The fake workspace and VectorShift account, seeded before the bot starts.

    Group membership must be there before the bot's first refresh, or the first requests
    would be judged on unknown membership.
    """
    slack = FakeSlack(bot_token=BOT_TOKEN)
    slack.set_users(*USERS)
    slack.set_group(ONCALL, [ALICE, CAROL])
    vectorshift = FakeVectorShift()
    for pipeline_id, name in PIPELINES.items():
        vectorshift.add_pipeline(pipeline_id, name)
    for run in RUNS:
        vectorshift.add_run(run.pipeline_id, run.run_id, run.script)
    return slack, vectorshift


# -- output -------------------------------------------------------------------------------------


class Console:
    """Plain text for pipes and files; a little colour on a terminal.

    Args:
        stream: Where to write.
        color: Use ANSI colours (only when the stream is a terminal).
    """

    _STYLES: Final = {
        "title": "1",
        "say": "36",
        "modal": "35",
        "ephemeral": "33",
        "channel": "32",
        "ok": "32",
        "fail": "31;1",
        "dim": "2",
    }

    def __init__(self, stream: TextIO, *, color: bool) -> None:
        self._stream = stream
        self._color = color

    def _paint(self, text: str, style: str) -> str:
        if not self._color:
            return text
        return f"\x1b[{self._STYLES[style]}m{text}\x1b[0m"

    def line(self, text: str = "", style: str | None = None) -> None:
        """Writes one line, styled when colour is on."""
        self._stream.write((self._paint(text, style) if style else text) + "\n")
        self._stream.flush()

    def prompt(self, text: str) -> None:
        """Writes `text` without a line break, for input typed on the same line."""
        self._stream.write(self._paint(text, "say"))
        self._stream.flush()

    def title(self, text: str) -> None:
        """A section heading: `── text ──`."""
        self.line()
        self.line(f"── {text} ──", "title")

    def say(self, text: str) -> None:
        """Narration: what a person does."""
        self.line(f"▸ {text}", "say")

    def shown(self, item: Shown) -> None:
        """What somebody sees, under a heading saying who and where."""
        style = (
            "modal"
            if item.where.startswith("[modal")
            else "ephemeral"
            if item.where.startswith(("[ephemeral", "[DM"))
            else "channel"
        )
        heading, *body = item.render(indent="    ")
        self.line(f"  {heading}", style)
        for text in body:
            self.line(text)

    def ok(self, text: str) -> None:
        """A check that passed."""
        self.line(f"  ✓ {text}", "ok")

    def fail(self, text: str) -> None:
        """A check that failed."""
        self.line(f"  ✗ {text}", "fail")


class StepFailedError(Exception):
    """A scripted step did not see what it expected; the message says what."""


# -- the session: people acting on the bot, and what they see -----------------------------------


class Session:
    """Plays people against the running bot and prints what they see.

    Args:
        stack: The running fakes and bot.
        client: Sends signed Slack requests to the bot.
        http: Talks to the bot's own HTTP routes (alerts).
        console: Where output goes.
    """

    def __init__(
        self, stack: LocalStack, client: SlackClient, http: httpx.AsyncClient, console: Console
    ) -> None:
        self.stack = stack
        self.slack = stack.slack
        self.client = client
        self.http = http
        self.console = console
        self._triggers: dict[str, str] = {}
        self._response_urls: dict[str, tuple[str | None, str | None]] = {}
        self._view_owners: dict[str, str] = {}
        self._actors: set[str] = set()
        self.audience = Audience(
            users={user.id: user.name for user in USERS},
            channels=CHANNELS,
            groups=GROUPS,
            response_urls=self._response_urls,
            triggers=self._triggers,
            view_owners=self._view_owners,
        )
        self._cursor = len(self.slack.calls())
        self._log_mark = 0

    # -- showing ------------------------------------------------------------------------------

    def flush(self) -> list[Shown]:
        """Prints what the bot has shown anyone since the last flush.

        Returns:
            The items shown.
        """
        self._learn_view_owners()
        calls = self.slack.calls()
        fresh, self._cursor = calls[self._cursor :], len(calls)
        shown = [item for call in fresh if (item := call_shown(call, self.audience)) is not None]
        for item in shown:
            self.console.shown(item)
        return shown

    def _learn_view_owners(self) -> None:
        # The fake Slack records views.update by view id only; whose modal it is follows from
        # each person's open modal.
        for user in self._actors:
            view = self.slack.current_view(user)
            if view is not None:
                self._view_owners.setdefault(str(view["id"]), user)

    def _show_ack(self, response: httpx.Response, user: str, channel: str | None) -> list[Shown]:
        if response.status_code != httpx.codes.OK:
            raise StepFailedError(f"the bot answered HTTP {response.status_code}: {response.text}")
        try:
            body = response.json() if response.content.strip() else None
        except ValueError:
            body = None
        item = ack_shown(body, user=user, channel=channel, audience=self.audience)
        if item is None:
            return []
        self.console.shown(item)
        return [item]

    def _remember(self, user: str, channel: str) -> None:
        self._actors.add(user)
        if self.client.last_trigger_id:
            self._triggers[self.client.last_trigger_id] = user
        if self.client.last_response_url:
            rid = self.client.last_response_url.rstrip("/").rsplit("/", 1)[-1]
            self._response_urls[rid] = (user, channel)

    # -- acting -------------------------------------------------------------------------------

    async def command(self, user: str, channel: str, text: str) -> list[Shown]:
        """`/vs-terminate <text>` typed by `user` in `channel`; prints the ack.

        Returns:
            What the ack showed.

        Raises:
            StepFailedError: The bot did not answer 200.
        """
        self.flush()
        response = await self.client.command(
            text, user=user, channel=channel, channel_name=CHANNELS.get(channel, "general")
        )
        self._remember(user, channel)
        return self._show_ack(response, user, channel)

    async def click(
        self, button: Button, *, user: str, channel: str, message_ts: str
    ) -> list[Shown]:
        """`user` clicks `button` on a message; prints the ack (buttons ack empty).

        Raises:
            StepFailedError: The bot did not answer 200.
        """
        self.flush()
        response = await self.client.click(
            button.value,
            user=user,
            channel=channel,
            action_id=button.action_id,
            message_ts=message_ts,
            block_id=button.block_id or None,
        )
        self._remember(user, channel)
        return self._show_ack(response, user, channel)

    async def submit(self, user: str, reason: str | None) -> list[Shown]:
        """`user` presses the submit button of their open modal, with `reason` typed in.

        Raises:
            StepFailedError: No modal open, or the bot did not answer 200.
        """
        self.flush()
        view = self.slack.current_view(user)
        if view is None:
            raise StepFailedError(f"{self.audience.user(user)} has no open modal to submit")
        self._view_owners[str(view["id"])] = user
        response = await self.client.submit(user=user, reason=reason)
        return self._show_ack(response, user, None)

    async def cancel(self, user: str) -> None:
        """`user` closes their open modal with Cancel.

        Raises:
            StepFailedError: No modal open, or the bot did not answer 200.
        """
        self.flush()
        view = self.slack.current_view(user)
        if view is None:
            raise StepFailedError(f"{self.audience.user(user)} has no open modal to close")
        self._view_owners[str(view["id"])] = user
        try:
            response = await self.client.close_view(user=user)
        except RuntimeError as exc:  # a modal without notify_on_close: Slack tells the bot nothing
            self.console.line(f"  (closed; {exc})", "dim")
            return
        self.console.shown(Shown(f"[modal for {self.audience.user(user)}]", "closed", (), "ack"))
        if response.status_code != httpx.codes.OK:
            raise StepFailedError(f"the bot answered HTTP {response.status_code} to the close")

    async def alert(self, body: Mapping[str, str]) -> str:
        """An alerting tool's `POST /api/alerts`; returns the alert message's ts.

        Raises:
            StepFailedError: The bot refused the alert.
        """
        self.flush()
        response = await self.http.post(
            "/api/alerts", json=dict(body), headers={"Authorization": f"Bearer {ALERTS_TOKEN}"}
        )
        answer = response.json() if response.content.strip() else {}
        if response.status_code != httpx.codes.OK or not answer.get("ok"):
            raise StepFailedError(f"POST /api/alerts answered {response.status_code}: {answer}")
        self.console.line(f"  → HTTP {response.status_code} {json.dumps(answer)}", "dim")
        return str(answer["ts"])

    async def webhook(self, path: str, body: Mapping[str, object]) -> list[dict[str, Any]]:
        """An alerting tool's webhook (Alertmanager's, Grafana's) to `path`; returns the results.

        Raises:
            StepFailedError: The bot refused the body as a whole.
        """
        self.flush()
        response = await self.http.post(
            path, json=dict(body), headers={"Authorization": f"Bearer {ALERTS_TOKEN}"}
        )
        answer = response.json() if response.content.strip() else {}
        if response.status_code != httpx.codes.OK or not answer.get("ok"):
            raise StepFailedError(f"POST {path} answered {response.status_code}: {answer}")
        self.console.line(f"  → HTTP {response.status_code} {json.dumps(answer)}", "dim")
        return list(answer["results"])

    # -- waiting ------------------------------------------------------------------------------

    async def expect(
        self,
        method: str,
        what: str,
        *,
        since: float,
        where: Callable[[SlackCall], bool] | None = None,
        within_s: float = WAIT_S,
    ) -> SlackCall:
        """Waits for the bot's next successful `method` call since `since` matching `where`.

        Args:
            method: The Web API method.
            what: What is expected, in words, for the failure message.
            since: `time.monotonic()` before the action that should cause it.
            where: An extra condition.
            within_s: Seconds to wait.

        Returns:
            The call.

        Raises:
            StepFailedError: It did not come in time.
        """

        def matches(call: SlackCall) -> bool:
            return call.at >= since and call.error is None and (where is None or where(call))

        deadline = time.monotonic() + within_s
        while True:
            # Waited for in slices, so that an error the bot logged ends the wait at once.
            try:
                return await self.slack.async_wait_for(
                    method, matches, timeout=min(ERROR_CHECK_S, max(deadline - time.monotonic(), 0))
                )
            except TimeoutError:
                if (error := self.logged_error()) is not None:
                    raise StepFailedError(f"expected {what}, but the bot logged: {error}") from None
                if time.monotonic() >= deadline:
                    raise StepFailedError(
                        f"expected {what} ({method}) within {within_s:g} s"
                    ) from None

    def mark_log(self) -> None:
        """Starts a new stretch of the bot's log for `logged_error` and `log_since_mark`."""
        self._log_mark = len(self.stack.log())

    def log_since_mark(self) -> list[str]:
        """The bot's log lines written since `mark_log`."""
        return self.stack.log()[self._log_mark :].splitlines()

    def logged_error(self) -> str | None:
        """The first ERROR line the bot logged since `mark_log`, if any."""
        return next((line for line in self.log_since_mark() if " ERROR " in line), None)

    async def expect_modal(self, user: str, *, since: float) -> dict[str, Any]:
        """Waits until the modal opened since `since` shows its details (or why not).

        Returns:
            The view with the details: opened complete, or put in place of "Checking…".

        Raises:
            StepFailedError: No modal, or it stayed at "Checking…".
        """
        opened = await self.expect(
            "views.open", f"a modal for {self.audience.user(user)}", since=since
        )
        view = opened.args.get("view")
        if isinstance(view, dict) and "Checking…" not in view_text(view):
            return view  # the details came quickly: the modal opened complete
        call = await self.expect("views.update", "the modal's details", since=since)
        view = call.args.get("view")
        return view if isinstance(view, dict) else {}


# -- checks -------------------------------------------------------------------------------------


def _text_of(items: Iterable[Shown]) -> str:
    return "\n".join(item.text for item in items)


def _require(condition: bool, problem: str) -> None:
    if not condition:
        raise StepFailedError(problem)


def _has(items: Sequence[Shown], where: str, text: str) -> bool:
    return any(item.where == where and text in item.text for item in items)


def _reason_in(view: Mapping[str, Any]) -> str | None:
    """The reason the confirmation modal was pre-filled with (from the command's text)."""
    for block in view.get("blocks") or []:
        if not isinstance(block, dict):
            continue
        element = block.get("element")
        if block.get("block_id") == "reason" and isinstance(element, dict):
            value = element.get("initial_value")
            return str(value) if value else None
    return None


def _has_button(action_id: str) -> Callable[[SlackCall], bool]:
    return lambda call: any(b.action_id == action_id for b in buttons(call.args.get("blocks")))


def _in_thread(ts: str) -> Callable[[SlackCall], bool]:
    return lambda call: call.args.get("thread_ts") == ts


def _edits(ts: str) -> Callable[[SlackCall], bool]:
    return lambda call: call.args.get("ts") == ts


def _in_channel(channel: str) -> Callable[[SlackCall], bool]:
    return lambda call: call.args.get("channel") == channel and not call.args.get("thread_ts")


# -- the scripted session -----------------------------------------------------------------------


class Script:
    """The five scripted steps, the audit trail, and the verdict.

    Args:
        session: The people and the bot.
    """

    def __init__(self, session: Session) -> None:
        self.s = session
        self.out = session.console
        self.failed: list[str] = []

    async def run(self) -> int:
        """Plays every step, then the audit; returns the exit status."""
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            ("1. Alice (on-call) stops a stuck run", self.allowed),
            ("2. Bob (not on-call), and Alice outside #incidents, are turned away", self.denied),
            ("3. Dana (admin) picks a run that has already finished", self.finished),
            ("4. A terminate fails; Alice clicks Retry", self.retry),
            ("5. An alert arrives with a Terminate button; Carol clicks it", self.alert),
            ("6. Carol pauses a run from an alert, looks, resumes; pauses, terminates", self.pause),
            (
                "7. Billing needs two people: Alice asks, Bob cannot approve, Erin does",
                self.approval,
            ),
        ]
        for title, step in steps:
            self.out.title(title)
            self.s.mark_log()
            try:
                await step()
            except (StepFailedError, httpx.HTTPError) as exc:
                self.s.flush()
                self._failure(title, str(exc) or type(exc).__name__)
        self.out.title("Audit trail (vs-terminate-bot audit export)")
        self.s.mark_log()
        try:
            await self.audit()
        except StepFailedError as exc:
            self._failure("audit export", str(exc))
        self.out.title("vs-terminate-bot audit verify")
        self.s.mark_log()
        try:
            await audit_verify(self.s)
        except StepFailedError as exc:
            self._failure("audit verify", str(exc))
        self.out.title("Result")
        if self.failed:
            self.out.fail(f"{len(self.failed)} part(s) did not show what they should:")
            for title in self.failed:
                self.out.line(f"    - {title}")
            return EXIT_FAILED
        self.out.ok("every step showed what it should; the audit chain verifies")
        return EXIT_OK

    def _failure(self, title: str, problem: str) -> None:
        self.failed.append(title)
        self.out.fail(problem)
        lines = self.s.log_since_mark()
        if not lines:
            self.out.line("  (nothing in the bot's log during this step)", "dim")
            return
        self.out.line(
            f"  the bot's log during this step (last {LOG_TAIL_LINES} lines at most):", "dim"
        )
        for line in lines[-LOG_TAIL_LINES:]:
            self.out.line(f"    {line}", "dim")

    async def _confirm(self, user: str, *, since: float, reason: str | None) -> list[Shown]:
        """Waits for the confirmation modal, prints it, submits it with `reason`."""
        view = await self.s.expect_modal(user, since=since)
        shown = self.s.flush()
        _require(
            view.get("callback_id") == CONFIRM_CALLBACK,
            f"expected the confirmation modal, got:\n{view_text(view, self.s.audience)}",
        )
        typed = reason if reason is not None else _reason_in(view)
        submit = view.get("submit")
        label = submit.get("text") if isinstance(submit, dict) else "Terminate"
        self.out.say(f"{self.s.audience.user(user)} presses {label} (reason: {typed!r})")
        return [*shown, *await self.s.submit(user, typed)]

    async def _alice_confirms(self, text: str) -> float:
        """@alice types `/vs-terminate {text}` in #incidents and confirms the modal as it comes
        (its own reason); returns when the command was answered, for what follows to wait on."""
        self.out.say(f"@alice in #incidents types: /vs-terminate {text}")
        since = time.monotonic()
        await self.s.command(ALICE, INCIDENTS, text)
        submitted = time.monotonic()
        await self._confirm(ALICE, since=since, reason=None)
        return submitted

    async def allowed(self) -> None:
        """Step 1: an allowed terminate, from command to channel message."""
        text = f"nightly-etl {RUN_STUCK} stuck in a retry loop since 02:00"
        submitted = await self._alice_confirms(text)
        await self.s.expect(
            "chat.postMessage",
            "the result in #incidents",
            since=submitted,
            where=_in_channel(INCIDENTS),
        )
        shown = self.s.flush()
        _require(
            _has(shown, "[#incidents]", "Terminated"), "expected '✅ … Terminated' in #incidents"
        )
        _require(
            _has(shown, "[modal for @alice]", "Terminated"), "expected the modal to show the result"
        )
        self.out.ok("terminated: result in the modal and in #incidents")

    async def denied(self) -> None:
        """Step 2: denials decided by the policy, answered privately."""
        for user, channel, text in (
            (BOB, INCIDENTS, f"nightly-etl {RUN_ASKED} looks stuck to me"),
            (ALICE, RANDOM, f"nightly-etl {RUN_ASKED} stuck again"),
        ):
            who, where = self.s.audience.user(user), self.s.audience.channel(channel)
            self.out.say(f"{who} in {where} types: /vs-terminate {text}")
            since = time.monotonic()
            shown = await self.s.command(user, channel, text)
            if not shown:  # not decided in the ack: the modal says it instead
                await self.s.expect_modal(user, since=since)
            shown += self.s.flush()
            _require(
                "may not terminate" in _text_of(shown),
                f"expected {who} to be told they may not terminate this run here",
            )
        calls = [c for c in self.s.stack.vectorshift.terminate_calls if c.run_id == RUN_ASKED]
        _require(not calls, f"VectorShift got {len(calls)} terminate call(s) for a denied run")
        self.out.ok("both denied with the reason and who can; VectorShift was not called")

    async def finished(self) -> None:
        """Step 3: a run that already finished gets a modal without a Terminate button."""
        text = f"nightly-etl {RUN_DONE} cleanup"
        self.out.say(f"@dana in #incidents types: /vs-terminate {text}")
        since = time.monotonic()
        await self.s.command(DANA, INCIDENTS, text)
        view = await self.s.expect_modal(DANA, since=since)
        self.s.flush()
        _require(
            view.get("callback_id") != CONFIRM_CALLBACK and not view.get("submit"),
            "expected a modal without a Terminate button",
        )
        _require(
            "already finished" in view_text(view),
            "expected the modal to say the run has already finished",
        )
        self.out.ok("the modal says the run has already finished; no Terminate button")

    async def retry(self) -> None:
        """Step 4: a failure with a Retry button, then a successful retry in the thread."""
        text = f"embeddings {RUN_FLAKY} memory leak, OOM-killed and restarting in a loop"
        submitted = await self._alice_confirms(text)
        await self.s.expect(
            "chat.postMessage",
            "a failure message with a Retry button",
            since=submitted,
            where=_has_button(RETRY_ACTION),
        )
        shown = self.s.flush()
        _require(_has(shown, "[#incidents]", "Failed"), "expected 'Failed: …' in #incidents")
        failure = next(
            (
                m
                for m in reversed(self.s.slack.messages(INCIDENTS))
                if any(b.action_id == RETRY_ACTION for b in buttons(m.blocks))
            ),
            None,
        )
        _require(failure is not None, "the failure message has no Retry button")
        assert failure is not None  # noqa: S101 - for mypy; _require raised otherwise
        retry = next(b for b in buttons(failure.blocks) if b.action_id == RETRY_ACTION)
        self.out.say("@alice clicks Retry on the failure message")
        since = time.monotonic()
        await self.s.click(retry, user=ALICE, channel=INCIDENTS, message_ts=failure.ts)
        submitted = time.monotonic()
        await self._confirm(ALICE, since=since, reason=None)
        await self.s.expect(
            "chat.postMessage",
            "the retry's result in the thread",
            since=submitted,
            where=_in_thread(failure.ts),
        )
        await self.s.expect(
            "chat.update",
            "the failure message without its Retry button",
            since=submitted,
            where=_edits(failure.ts),
        )
        shown = self.s.flush()
        _require(
            _has(shown, "[#incidents thread]", "Terminated"),
            "expected '✅ … Terminated' in the failure's thread",
        )
        self.out.ok("failed first, Retry opened a fresh confirmation, terminated in the thread")

    async def alert(self) -> None:
        """Step 5: an alert's Terminate button, answered in its thread; the alert is updated."""
        body = {
            "channel": INCIDENTS,
            "pipeline": "nightly-etl",
            "run": RUN_ALERTED,
            "text": "Nightly ETL has been running for 3h12m (usual: 40 min)",
        }
        self.out.say(f"An alerting tool posts to /api/alerts: {json.dumps(body)}")
        ts = await self.s.alert(body)
        self.s.flush()
        message = self.s.slack.message(INCIDENTS, ts)
        found = [
            b for b in buttons(message.blocks if message else []) if b.action_id == TERMINATE_ACTION
        ]
        _require(bool(found), "expected the alert to carry a Terminate button")
        self.out.say("@carol clicks Terminate on the alert")
        since = time.monotonic()
        await self.s.click(found[0], user=CAROL, channel=INCIDENTS, message_ts=ts)
        submitted = time.monotonic()
        await self._confirm(
            CAROL, since=since, reason="ETL overran its window, blocking the 06:00 load"
        )
        await self.s.expect(
            "chat.postMessage",
            "the result in the alert's thread",
            since=submitted,
            where=_in_thread(ts),
        )
        await self.s.expect(
            "chat.update", "the alert updated with the outcome", since=submitted, where=_edits(ts)
        )
        shown = self.s.flush()
        _require(
            _has(shown, "[#incidents thread]", "Terminated"),
            "expected '✅ … Terminated' in the alert's thread",
        )
        edited = self.s.slack.message(INCIDENTS, ts)
        _require(
            edited is not None
            and not any(b.action_id == TERMINATE_ACTION for b in buttons(edited.blocks)),
            "expected the alert's Terminate button to be gone",
        )
        self.out.ok("result in the alert's thread; the alert shows the outcome, button removed")

    async def pause(self) -> None:
        """Step 6: pause from an alert, look, resume; pause again from the result, terminate."""
        body = {
            "channel": INCIDENTS,
            "pipeline": "embeddings",
            "run": RUN_WANDERING,
            "text": "Embeddings refresh is writing far more rows than usual",
        }
        self.out.say(f"An alerting tool posts to /api/alerts: {json.dumps(body)}")
        ts = await self.s.alert(body)
        self.s.flush()
        await self._act(PAUSE_ACTION, ts, "pausing to look at what it wrote", "Paused")
        edited = self.s.slack.message(INCIDENTS, ts)
        _require(
            edited is not None and "paused" in view_text({"blocks": edited.blocks}),
            "expected the alert to say it was paused, and by whom",
        )
        status = self.s.stack.vectorshift.run_status(EMBEDDINGS, RUN_WANDERING)
        self.out.say(f"(the run's status at VectorShift is now {status!r}; Carol looks around)")
        await self._act(RESUME_ACTION, ts, "rows are fine, a new customer", "Resumed")
        await self._act(PAUSE_ACTION, ts, "it is writing duplicates after all", "Paused")
        await self._act(TERMINATE_ACTION, ts, "duplicates confirmed; stopping it", "Terminated")
        self.out.ok("paused, resumed, paused again and terminated, each in the alert's thread")

    async def approval(self) -> None:
        """Step 7: a request that needs approval, an outsider's click refused, an approval."""
        text = f"billing {RUN_BILLING} charging customers twice since 03:10"
        submitted = await self._alice_confirms(text)
        await self.s.expect(
            "chat.postMessage",
            "the approval request",
            since=submitted,
            where=_in_channel(INCIDENTS),
        )
        shown = self.s.flush()
        _require(
            _has(shown, "[#incidents]", "asks to terminate"),
            "expected the approval request in #incidents",
        )
        _require(
            not [c for c in self.s.stack.vectorshift.terminate_calls if c.run_id == RUN_BILLING],
            "VectorShift was called before anyone approved",
        )
        request = next(
            m
            for m in reversed(self.s.slack.messages(INCIDENTS))
            if any(b.action_id == APPROVE_ACTION for b in buttons(m.blocks))
        )
        approve = next(b for b in buttons(request.blocks) if b.action_id == APPROVE_ACTION)
        self.out.say("@bob clicks Approve")
        since = time.monotonic()
        await self.s.click(approve, user=BOB, channel=INCIDENTS, message_ts=request.ts)
        await self.s.expect("response_url", "Bob told who can approve", since=since, where=None)
        told = self.s.flush()
        _require("may approve" in _text_of(told), "expected Bob to be told who may approve")
        self.out.say("@erin clicks Approve")
        since = time.monotonic()
        await self.s.click(approve, user=ERIN, channel=INCIDENTS, message_ts=request.ts)
        await self.s.expect(
            "chat.postMessage",
            "the result in the request's thread",
            since=since,
            where=_in_thread(request.ts),
        )
        shown = self.s.flush()
        _require(
            _has(shown, "[#incidents thread]", "Terminated"),
            "expected '✅ … Terminated' in the request's thread",
        )
        calls = [c for c in self.s.stack.vectorshift.terminate_calls if c.run_id == RUN_BILLING]
        _require(len(calls) == 1, f"expected one terminate call, VectorShift got {len(calls)}")
        self.out.ok("nothing ran until Erin approved; Bob was told who may; one terminate call")

    async def _act(self, action_id: str, alert_ts: str, reason: str, done: str) -> None:
        """Carol clicks an action button in the alert's thread (or on the alert), confirms."""
        offering = [
            m
            for m in self.s.slack.messages(INCIDENTS)
            if alert_ts in {m.ts, m.thread_ts}
            and any(b.action_id == action_id for b in buttons(m.blocks))
        ]
        _require(bool(offering), f"expected a message in the alert's thread to offer {action_id}")
        message = offering[-1]
        button = next(b for b in buttons(message.blocks) if b.action_id == action_id)
        where = "the alert" if message.ts == alert_ts else "the last result"
        self.out.say(f"@carol clicks {button.label} on {where}")
        since = time.monotonic()
        await self.s.click(button, user=CAROL, channel=INCIDENTS, message_ts=message.ts)
        submitted = time.monotonic()
        await self._confirm(CAROL, since=since, reason=reason)
        await self.s.expect(
            "chat.postMessage",
            "the result in the alert's thread",
            since=submitted,
            where=_in_thread(alert_ts),
        )
        await self.s.expect(
            "chat.update",
            f"{where} updated with what happened",
            since=submitted,
            where=_edits(message.ts),
        )
        shown = self.s.flush()
        _require(
            _has(shown, "[#incidents thread]", done),
            f"expected '… {done}' in the alert's thread",
        )

    async def audit(self) -> None:
        """The audit export as a table; one attempt per step's request, each with its outcome."""
        records = await audit_table(self.s)
        outcomes = Counter(str(r.get("outcome")) for r in records)
        if outcomes != EXPECTED_OUTCOMES:
            want = ", ".join(f"{o} {n}" for o, n in sorted(EXPECTED_OUTCOMES.items()))
            found = ", ".join(f"{o} {n}" for o, n in sorted(outcomes.items()))
            raise StepFailedError(f"expected attempts {want}; the export has {found}")


async def audit_table(session: Session) -> list[dict[str, object]]:
    """Prints the audit export as a compact table.

    Returns:
        The exported records.

    Raises:
        StepFailedError: The export failed.
    """
    result = await asyncio.to_thread(session.stack.cli, "audit", "export", "--format", "jsonl")
    if result.returncode != 0:
        raise StepFailedError(f"audit export exited {result.returncode}: {result.stderr.strip()}")
    records: list[dict[str, object]] = [
        json.loads(line) for line in result.stdout.splitlines() if line.strip()
    ]
    names = {**session.audience.users, **{pid: name for pid, name in PIPELINES.items()}}
    rows = [
        ("time", "who", "source", "pipeline", "run", "action", "outcome", "rule", "reason / error")
    ]
    for record in records:
        when = str(record.get("requested_at") or "")
        user = str(record.get("user_id") or "")
        pipeline = str(
            record.get("pipeline_name") or names.get(str(record.get("pipeline_id")), "") or ""
        )
        detail = record.get("error") if record.get("outcome") != Outcome.SUCCEEDED else None
        rows.append(
            (
                when[11:19],
                f"@{names.get(user, record.get('user_name') or user)}",
                str(record.get("source") or ""),
                pipeline or "—",
                _shorten_left(str(record.get("run_id") or ""), 9),
                str(record.get("action") or ""),
                str(record.get("outcome") or ""),
                str(record.get("rule") or "—"),
                _shorten(str(detail or record.get("reason") or "—"), 36),
            )
        )
    for line in _table(rows):
        session.console.line(f"  {line}")
    session.console.line(
        f"  ({len(records)} attempts; `audit export --format csv` for all fields)", "dim"
    )
    return records


async def audit_verify(session: Session) -> None:
    """Prints `vs-terminate-bot audit verify` and checks it passed.

    Raises:
        StepFailedError: Verification failed.
    """
    result = await asyncio.to_thread(session.stack.cli, "audit", "verify")
    for line in (result.stdout + result.stderr).strip().splitlines():
        session.console.line(f"  {line}")
    if result.returncode != 0:
        raise StepFailedError(f"audit verify exited {result.returncode}")


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _shorten_left(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]


def _table(rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]
    lines.insert(1, "  ".join("─" * width for width in widths))
    return lines


# -- the interactive session --------------------------------------------------------------------

QUIET_S: Final = 1.5
"""The bot paces channel posts at one a second; this long without a call means it is done."""
POLL_S: Final = 0.1
SETTLE_MAX_S: Final = 60.0
BUSY_WORDS: Final = ("Checking…", "Terminating…", "Verifying")


class LineReader:
    """Lines from a text stream, read on a daemon thread so a blocked read never holds up exit.

    (`asyncio.to_thread` would: on Ctrl-C, `asyncio.run` waits for its worker, which waits
    for a line that may never come.)

    Args:
        stream: Where lines come from.
    """

    def __init__(self, stream: TextIO) -> None:
        self._stream = stream
        self._queue: asyncio.Queue[str] = asyncio.Queue()
        self._loop = asyncio.get_running_loop()
        threading.Thread(target=self._pump, name="sandbox-stdin", daemon=True).start()

    def _pump(self) -> None:
        while True:
            line = self._stream.readline()
            try:
                self._loop.call_soon_threadsafe(self._queue.put_nowait, line)
            except RuntimeError:  # the loop has closed: nobody is listening any more
                return
            if not line:
                return

    async def readline(self) -> str:
        """The next line with its newline; an empty string at end of input."""
        return await self._queue.get()


class Interactive:
    """Reads lines like `U0ALICE01 C0INCIDENTS /vs-terminate nightly-etl run-ok-1 stuck`.

    Args:
        session: The people and the bot.
        stdin: Where lines come from.
    """

    def __init__(self, session: Session, stdin: TextIO) -> None:
        self.s = session
        self.out = session.console
        self.stdin = stdin
        self.user = ALICE
        self.channel = INCIDENTS
        self.prompt = stdin.isatty()

    def intro(self) -> None:
        """Prints the input format, the people, channels, pipelines and runs."""
        out = self.out
        out.title("Interactive sandbox")
        out.line("Each line: [<user id> [<channel id>]] <action>. User and channel default to the")
        out.line("previous line's (at first U0ALICE01 in C0INCIDENTS). Actions:")
        out.line("  /vs-terminate <text>         the slash command, e.g.")
        out.line("      U0ALICE01 C0INCIDENTS /vs-terminate nightly-etl run-ok-1 stuck in a loop")
        out.line(
            "  submit [<reason>]            press Terminate in the open modal (reason replaces"
        )
        out.line(
            "                               what is typed in it; none keeps the pre-filled one)"
        )
        out.line("  cancel                       close the open modal with Cancel")
        out.line("  alert <pipeline> <run> [<text>]   an alerting tool posts to /api/alerts")
        out.line("  buttons                      list the buttons in channel messages")
        out.line("  click <n>                    click button n of `buttons`")
        out.line("  audit                        audit export and audit verify")
        out.line("  help | quit                  (end of input quits too)")
        out.line("People:")
        for user in USERS:
            out.line(f"  {user.id}  @{user.name:<6} {ROLES[user.id]}")
        out.line("Channels: " + ", ".join(f"{cid} #{name}" for cid, name in CHANNELS.items()))
        out.line(
            "Pipelines: "
            + ", ".join(f"{ALIASES[pid]} → {name} ({pid})" for pid, name in PIPELINES.items())
        )
        out.line("Runs:")
        for run in RUNS:
            out.line(f"  {ALIASES[run.pipeline_id]:<11} {run.run_id:<24}  {run.note}")
        out.line("Policy:")
        for line in POLICY.splitlines():
            out.line(f"  {line}", "dim")

    async def run(self) -> int:
        """Reads and acts on lines until `quit` or end of input; returns the exit status."""
        self.intro()
        lines = LineReader(self.stdin)
        while True:
            if self.prompt:
                who, where = self.s.audience.user(self.user), self.s.audience.channel(self.channel)
                self.out.prompt(f"{who} in {where}> ")
            line = await lines.readline()
            if not line:
                self.out.line()
                return EXIT_OK
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            if not self.prompt:
                self.out.line(f"> {line}", "say")
            if line in {"quit", "exit"}:
                return EXIT_OK
            try:
                await self.act(line)
            except (StepFailedError, LookupError, ValueError, httpx.HTTPError) as exc:
                self.s.flush()
                self.out.fail(str(exc) or type(exc).__name__)

    async def act(self, line: str) -> None:
        """Does what one line says and shows what came of it.

        Raises:
            StepFailedError: The bot refused a request.
            ValueError: The line cannot be understood.
        """
        words = line.split()
        if words and words[0][:1] in {"U", "W"} and words[0][1:].isalnum() and words[0].isupper():
            self.user = words.pop(0)
        if words and words[0][:1] in {"C", "G", "D"} and words[0].isalnum() and words[0].isupper():
            self.channel = words.pop(0)
        if not words:
            return
        verb, rest = words[0], line.split(words[0], 1)[1].strip()
        if verb == "/vs-terminate":
            await self.s.command(self.user, self.channel, rest)
        elif verb == "submit":
            view = self.s.slack.current_view(self.user)
            reason = rest or (_reason_in(view) if view else None)
            await self.s.submit(self.user, reason)
        elif verb == "cancel":
            await self.s.cancel(self.user)
        elif verb == "alert":
            parts = shlex.split(rest)
            if len(parts) < 2:
                raise ValueError("usage: alert <pipeline> <run> [<text>]")
            text = " ".join(parts[2:]) or f"Run {parts[1]} looks stuck"
            await self.s.alert(
                {"channel": self.channel, "pipeline": parts[0], "run": parts[1], "text": text}
            )
        elif verb == "buttons":
            self.list_buttons()
            return
        elif verb == "click":
            await self.click(rest)
        elif verb == "audit":
            await audit_table(self.s)
            self.out.line("  audit verify:")
            await audit_verify(self.s)
            return
        elif verb == "help":
            self.intro()
            return
        else:
            raise ValueError(f"unknown action {verb!r}; type help")
        await self.settle()
        self.s.flush()
        view = self.s.slack.current_view(self.user)
        if view is not None and view.get("callback_id") == CONFIRM_CALLBACK:
            self.out.line(
                f"  ({self.s.audience.user(self.user)} has a confirmation open: "
                "`submit [<reason>]` or `cancel`)",
                "dim",
            )

    def _buttons(self) -> list[tuple[str, str, Button]]:
        found = []
        for message in self.s.slack.messages():
            if message.deleted or message.ephemeral_to or message.channel.startswith("D"):
                continue
            found += [(message.channel, message.ts, b) for b in buttons(message.blocks)]
        return found

    def list_buttons(self) -> None:
        """Prints the clickable buttons, numbered."""
        found = self._buttons()
        if not found:
            self.out.line("  (no buttons in any channel yet)")
        for n, (channel, ts, button) in enumerate(found, start=1):
            self.out.line(
                f"  {n}. [ {button.label} ] in {self.s.audience.channel(channel)} "
                f"(message {ts}, value {button.value!r})"
            )

    async def click(self, which: str) -> None:
        """Clicks button number `which` of `buttons` as the current user.

        Raises:
            ValueError: No such button.
        """
        found = self._buttons()
        if not which.isdigit() or not 1 <= int(which) <= len(found):
            raise ValueError(f"no button {which!r}; `buttons` lists {len(found)}")
        channel, ts, button = found[int(which) - 1]
        self.out.say(f"{self.s.audience.user(self.user)} clicks [ {button.label} ]")
        await self.s.click(button, user=self.user, channel=channel, message_ts=ts)

    async def settle(self) -> None:
        """Waits until the bot has gone quiet and no modal of the user is mid-flight.

        The bot's work after an ack has no completion signal Slack could see, so "done" means:
        no new call for `QUIET_S`, and the user's modal is not at Checking/Terminating/Verifying.
        """
        deadline = time.monotonic() + SETTLE_MAX_S
        seen, quiet_since = len(self.s.slack.calls()), time.monotonic()
        while time.monotonic() < deadline:
            await asyncio.sleep(POLL_S)
            count = len(self.s.slack.calls())
            if count != seen:
                seen, quiet_since = count, time.monotonic()
                self.s.flush()
            elif time.monotonic() - quiet_since >= QUIET_S and not self._busy():
                return

    def _busy(self) -> bool:
        view = self.s.slack.current_view(self.user)
        text = view_text(view) if view else ""
        return any(word in text for word in BUSY_WORDS)


# -- entry point --------------------------------------------------------------------------------


def run_sandbox(*, interactive: bool) -> int:
    """Starts the fakes and the real bot, plays the session, stops everything.

    Args:
        interactive: Read requests from stdin instead of playing the script.

    Returns:
        The exit status: 0 when every scripted step showed what it should, 1 otherwise.
    """
    console = Console(sys.stdout, color=sys.stdout.isatty())
    console.line("vs-terminate sandbox: the real bot against a fake Slack workspace and a fake")
    console.line("VectorShift account, all on 127.0.0.1. Nothing leaves this machine.")
    with tempfile.TemporaryDirectory(prefix="vs-terminate-sandbox-") as workdir:
        slack, vectorshift = _fakes()
        stack = LocalStack(
            Path(workdir),
            policy=POLICY,
            slack=slack,
            vectorshift=vectorshift,
            # Local traffic must never be routed through a proxy from the caller's environment.
            env={
                "NO_PROXY": "127.0.0.1,localhost",
                "no_proxy": "127.0.0.1,localhost",
                "LOG_LEVEL": "INFO",
            },
        )
        started = time.monotonic()
        try:
            try:
                stack.start()
            except RuntimeError as exc:
                console.fail(f"the bot did not start: {exc}")
                return EXIT_FAILED
            console.line(
                f"Started `vs-terminate-bot serve` on {stack.url} (SQLite in a temporary "
                f"directory) in {time.monotonic() - started:.1f} s.",
                "dim",
            )
            return asyncio.run(_play(stack, console, interactive=interactive))
        finally:
            stack.stop()


async def _play(stack: LocalStack, console: Console, *, interactive: bool) -> int:
    # An explicit transport: httpx then ignores proxy settings from the environment.
    client = SlackClient(
        stack.url, SIGNING_SECRET, stack.slack, transport=httpx.AsyncHTTPTransport()
    )
    http = httpx.AsyncClient(
        base_url=stack.url, transport=httpx.AsyncHTTPTransport(), timeout=httpx.Timeout(10.0)
    )
    async with client, http:
        session = Session(stack, client, http, console)
        if interactive:
            return await Interactive(session, sys.stdin).run()
        console.title("The sample policy (policy.toml)")
        for line in POLICY.splitlines():
            console.line(f"  {line}", "dim")
        console.line("People:")
        for user in USERS:
            console.line(f"  @{user.name:<6} {ROLES[user.id]}")
        return await Script(session).run()
