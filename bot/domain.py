"""Value types and parsers: the words of SPEC §4.1, §4.4 and §6 as Python types.

Everything here is pure. Parsers take raw text from Slack, undo Slack's HTML escaping, accept
the curly quotes Slack clients produce, check ids against the one id grammar, and raise
`UsageError` saying exactly what was wrong. A button value is data, not permission: it goes
through the same parser as typed text. Alert bodies are parsed in `bot.alerts.formats` into the
`Alert` defined here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Final

from bot.errors import UsageError

ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,128}")
"""Run ids (and pipeline ids): undocumented strings, in practice 24 hex characters (§1)."""

OBJECT_ID_PATTERN = re.compile(r"[0-9a-fA-F]{24}")
"""What a VectorShift pipeline id looks like in practice."""

SLACK_CHANNEL_PATTERN = re.compile(r"[CGD][A-Z0-9]{2,30}")
SLACK_TS_PATTERN = re.compile(r"\d{1,12}\.\d{1,9}")

MAX_COMMAND_CHARS = 3000
"""Longer text is refused before parsing; Slack itself caps command text near 4,000."""
MAX_NAME_CHARS = 200
MAX_REASON_CHARS = 1000
MAX_ALERT_TEXT_CHARS = 2000

RESERVED_WORDS = frozenset(
    {"help", "status", "history", "can-i", "pause", "resume", "terminate", "approvals"}
)
"""Words with a meaning of their own in the first position; no alias may take one (§4.1)."""

OPEN_QUOTES = {'"': '"', "“": "”", "”": "”", "„": "“"}
_CLOSE_QUOTES = frozenset({'"', "”", "“"})
CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\u200b-\u200f\u2028-\u202e\ufeff]")


class Action(StrEnum):
    """What an attempt does to a run (SPEC §4.5), valued with the audit's strings."""

    TERMINATE = "terminate"
    PAUSE = "pause"
    RESUME = "resume"


@dataclass(frozen=True)
class Actor:
    """Who is asking, as Slack identifies them."""

    user_id: str
    team_id: str | None = None
    enterprise_id: str | None = None
    user_name: str | None = None


@dataclass(frozen=True)
class ActorFacts:
    """What the directory knows about an actor; fetched outside the pure policy.

    Attributes:
        groups: user-group ids (S…) the actor belongs to, as far as known.
        groups_known: False when membership could not be established recently enough; then
            nothing is granted through groups.
        is_guest: a single- or multi-channel guest (`is_restricted`/`is_ultra_restricted`).
        is_foreign: the user belongs to another workspace or org than the app's.
    """

    groups: frozenset[str] = frozenset()
    groups_known: bool = True
    is_guest: bool = False
    is_foreign: bool = False


@dataclass(frozen=True)
class Where:
    """Where a request came from: a channel id, and whether it is a DM or group DM."""

    channel_id: str
    is_dm: bool = False


# ---------------------------------------------------------------------------------------------
# VectorShift's value types (what `bot.vectorshift` returns)

ACTIVE_STATUSES: Final = frozenset({"in_progress", "running", "queued", "pending", "paused"})
"""Run statuses meaning the run may still be stopped (SPEC §1), compared case-insensitively."""

FINISHED_STATUSES: Final = frozenset(
    {"completed", "succeeded", "failed", "cancelled", "terminated", "stopped"}
)
"""Run statuses meaning the run is over (SPEC §1), compared case-insensitively."""

PAUSED_STATUS: Final = "paused"
"""The status of a paused run (SPEC §1); a paused run is still ACTIVE."""


class RunState(StrEnum):
    """What a run status means for acting on it (SPEC §1's vocabulary)."""

    ACTIVE = "active"
    FINISHED = "finished"
    UNKNOWN = "unknown"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True)
class RunStatus:
    """A run's status as VectorShift reported it.

    Attributes:
        state: what the status means (§1 vocabulary).
        status: the status value exactly as the API sent it (control characters removed), or
            None when there was none.
        error: the API's error text, cleaned, when it gave one.
        http_status: the HTTP status of the answer.
    """

    state: RunState
    status: str | None
    error: str | None = None
    http_status: int | None = None

    @property
    def is_paused(self) -> bool:
        """Whether the run is paused: ACTIVE with status `paused` (what a pause waits for)."""
        return self.state is RunState.ACTIVE and _is_paused(self.status)

    @property
    def is_active_unpaused(self) -> bool:
        """Whether the run is ACTIVE and not paused (what a resume waits for)."""
        return self.state is RunState.ACTIVE and not _is_paused(self.status)


def _is_paused(status: str | None) -> bool:
    return status is not None and status.strip().lower() == PAUSED_STATUS


@dataclass(frozen=True)
class Pipeline:
    """A resolved pipeline: its id and, when the API sent it, its name."""

    id: str
    name: str | None


@dataclass(frozen=True)
class ActionResult:
    """A run action (terminate, pause or resume) VectorShift confirmed.

    Attributes:
        action: which action it was.
        http_status: the HTTP status of the successful answer.
        api_status: the body's `status` (always "success" here).
        attempts: how many times the POST was tried, including connect failures.
    """

    action: Action
    http_status: int
    api_status: str
    attempts: int


# ---------------------------------------------------------------------------------------------
# Slash command grammar (§4.1)


@dataclass(frozen=True)
class PipelineRef:
    """A pipeline as the user wrote it: an id, an alias or a name (resolved later)."""

    text: str
    quoted: bool = False

    @property
    def could_be_id(self) -> bool:
        """Whether the text is shaped like an id (and so also like an alias)."""
        return not self.quoted and ID_PATTERN.fullmatch(self.text) is not None


@dataclass(frozen=True)
class HelpCommand:
    """`/vs-terminate` or `/vs-terminate help`."""


@dataclass(frozen=True)
class ActionCommand:
    """`/vs-terminate <pipeline> <run> [reason…]` (also a button's value): act on one run."""

    pipeline: PipelineRef
    run_id: str
    reason: str = ""
    action: Action = Action.TERMINATE


@dataclass(frozen=True)
class StatusCommand:
    """`/vs-terminate status <pipeline> <run>`."""

    pipeline: PipelineRef
    run_id: str


@dataclass(frozen=True)
class HistoryCommand:
    """`/vs-terminate history [<pipeline> [<run>]]`."""

    pipeline: PipelineRef | None = None
    run_id: str | None = None


@dataclass(frozen=True)
class CanICommand:
    """`/vs-terminate can-i <pipeline>`."""

    pipeline: PipelineRef


@dataclass(frozen=True)
class ApprovalsCommand:
    """`/vs-terminate approvals`: the requests waiting on the caller (§4.6)."""


Command = (
    HelpCommand | ActionCommand | StatusCommand | HistoryCommand | CanICommand | ApprovalsCommand
)


def unescape_slack(text: str) -> str:
    """Undo Slack's escaping of `&`, `<` and `>` (and nothing else; `&amp;` goes last)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


@dataclass
class _Token:
    text: str
    quoted: bool
    end: int  # index just past the token in the source text


def _tokens(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        if text[i].isspace():
            i += 1
            continue
        if text[i] in OPEN_QUOTES:
            j = i + 1
            while j < n and text[j] not in _CLOSE_QUOTES:
                j += 1
            if j >= n:
                raise UsageError(f"a quote opened at character {i + 1} is never closed")
            tokens.append(_Token(text[i + 1 : j].strip(), quoted=True, end=j + 1))
            i = j + 1
            continue
        j = i
        while j < n and not text[j].isspace():
            j += 1
        tokens.append(_Token(text[i:j], quoted=False, end=j))
        i = j
    return tokens


def _pipeline(token: _Token) -> PipelineRef:
    text = token.text
    if not text:
        raise UsageError("the pipeline name is empty")
    if len(text) > MAX_NAME_CHARS:
        raise UsageError(f"the pipeline name is longer than {MAX_NAME_CHARS} characters")
    if not token.quoted and text[0] in "<@#!":
        raise UsageError(f"`{_clip(text)}` is not a pipeline id, alias or name")
    return PipelineRef(text=text, quoted=token.quoted)


def _run_id(token: _Token) -> str:
    if token.quoted or not ID_PATTERN.fullmatch(token.text):
        raise UsageError(
            f"`{_clip(token.text)}` is not a valid run id (1–128 letters, digits, `-` or `_`)"
        )
    return token.text


def _clip(text: str, limit: int = 40) -> str:
    text = CONTROL_CHARS.sub("", text).replace("`", "'")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def parse_command(text: str) -> Command:
    """Parse the text of a `/vs-terminate` command.

    Args:
        text: the `text` field of the slash command payload, still HTML-escaped by Slack.

    Returns:
        One of the `Command` types.

    Raises:
        UsageError: with a message saying exactly what was wrong.
    """
    if len(text) > MAX_COMMAND_CHARS:
        raise UsageError(f"the command text is longer than {MAX_COMMAND_CHARS} characters")
    text = unescape_slack(text).strip()
    if CONTROL_CHARS.search(text):
        raise UsageError("the command contains control or invisible characters")
    tokens = _tokens(text)
    if not tokens:
        return HelpCommand()
    head = tokens[0].text.lower() if not tokens[0].quoted else ""
    rest = tokens[1:]
    if head == "help":
        return HelpCommand()
    if head == "status":
        if len(rest) != 2:
            raise UsageError("`status` takes a pipeline and a run id")
        return StatusCommand(pipeline=_pipeline(rest[0]), run_id=_run_id(rest[1]))
    if head == "history":
        if len(rest) > 2:
            raise UsageError("`history` takes at most a pipeline and a run id")
        return HistoryCommand(
            pipeline=_pipeline(rest[0]) if rest else None,
            run_id=_run_id(rest[1]) if len(rest) > 1 else None,
        )
    if head == "can-i":
        if len(rest) != 1:
            raise UsageError("`can-i` takes exactly one pipeline")
        return CanICommand(pipeline=_pipeline(rest[0]))
    if head == "approvals":
        if rest:
            raise UsageError("`approvals` takes nothing after it")
        return ApprovalsCommand()
    action = Action.TERMINATE
    if head in {a.value for a in Action}:
        # `pause …`, `resume …` (and an explicit `terminate …`): the verb, then the same grammar.
        action, tokens = Action(head), rest
        if len(tokens) < 2:
            raise UsageError(f"`{head}` takes a pipeline and a run id")
    if len(tokens) < 2:
        raise UsageError("a pipeline and a run id are both needed")
    reason = text[tokens[1].end :].strip()
    if len(reason) > MAX_REASON_CHARS:
        raise UsageError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    return ActionCommand(
        pipeline=_pipeline(tokens[0]), run_id=_run_id(tokens[1]), reason=reason, action=action
    )


def parse_button_value(value: object, action: Action = Action.TERMINATE) -> ActionCommand:
    """Parse an action button's value (`"<pipeline> <run>"`) exactly like typed text.

    The action comes from the button (its action id), never from the value.

    Raises:
        UsageError: if the value is not a string of the terminate form, or carries a reason.
    """
    if not isinstance(value, str):
        raise UsageError("the button carries no pipeline and run")
    command = parse_command(value)
    if (
        not isinstance(command, ActionCommand)
        or command.reason
        or command.action is not Action.TERMINATE  # a verb in the value is not ours to take
    ):
        raise UsageError("the button's value is not `<pipeline> <run>`")
    return replace(command, action=action)


def clean_reason(text: object) -> str:
    """Validate a reason typed into the modal; returns it stripped.

    Raises:
        UsageError: if it is too long or carries control characters.
    """
    reason = text.strip() if isinstance(text, str) else ""
    if len(reason) > MAX_REASON_CHARS:
        raise UsageError(f"the reason is longer than {MAX_REASON_CHARS} characters")
    if CONTROL_CHARS.search(reason.replace("\n", " ")):
        raise UsageError("the reason contains control or invisible characters")
    return reason


# ---------------------------------------------------------------------------------------------
# Alerts (§4.4, §4.7); their parsers live in `bot.alerts.formats`


@dataclass(frozen=True)
class Alert:
    """One alert to show in Slack, whichever tool sent it.

    Attributes:
        channel: where it goes (a channel id).
        pipeline: the pipeline as the alerting tool named it (id, alias or name).
        run_id: the run it is about.
        text: the main line: the native body's `text`, else the `summary` (or `description`).
        title: `alertname` (Grafana: its title when there is none); None for native alerts.
        severity: the `severity` label, if any.
        details: the `description` when the summary is the main line.
        link: the one link back to the source (`generatorURL`, else Grafana's `panelURL`).
        resolved: the tool says the alert is over.
        ended_at: when it ended, as the tool said (None while firing or when not given).
        thread_ts: post in this thread (native alerts only).
    """

    channel: str
    pipeline: PipelineRef
    run_id: str
    text: str
    title: str | None = None
    severity: str | None = None
    details: str | None = None
    link: str | None = None
    resolved: bool = False
    ended_at: datetime | None = None
    thread_ts: str | None = None

    @property
    def key(self) -> AlertKey:
        """What makes two alerts the same message: (channel, pipeline as written, run)."""
        return AlertKey(channel=self.channel, pipeline=self.pipeline.text, run_id=self.run_id)

    @property
    def button_value(self) -> str:
        """The buttons' value, in the command grammar."""
        pipeline = f'"{self.pipeline.text}"' if self.pipeline.quoted else self.pipeline.text
        return f"{pipeline} {self.run_id}"


@dataclass(frozen=True)
class AlertKey:
    """One alert message per (channel, pipeline as the tool wrote it, run) (§4.4)."""

    channel: str
    pipeline: str
    run_id: str


def pipeline_ref(text: str) -> PipelineRef:
    """A pipeline named by an alerting tool: quoted (a name) unless it is shaped like an id."""
    return PipelineRef(text=text, quoted=not ID_PATTERN.fullmatch(text))
