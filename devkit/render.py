"""Block Kit and the fake Slack's recorded calls as readable text: what each person would see.

Pure functions, no I/O: the sandbox (and any test that wants a readable transcript) passes in
the calls, views and ack bodies it has and an `Audience` that names the people, channels and
user groups involved, and gets back `Shown` items: who sees something (`[modal for @alice]`,
`[#incidents]`, `[#incidents thread]`, `[ephemeral to @bob in #incidents]`, `[DM to @alice]`)
and the lines they read.

Slack's mrkdwn is flattened to plain text: mentions become `@handle`, `#channel` and
`@group`, links become `label (url)`, the three HTML entities are unescaped, `*bold*` and
`` `code` `` lose their markers, and the few emoji the bot uses become symbols.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from bot.slack.ids import CONFIRM_CALLBACK, RETRY_ACTION, TERMINATE_ACTION
from devkit.fakes.slack_api import RESPONSE_URL_METHOD, SlackCall

__all__ = [
    "CONFIRM_CALLBACK",
    "RETRY_ACTION",
    "TERMINATE_ACTION",
    "Audience",
    "Button",
    "Shown",
    "ack_shown",
    "block_lines",
    "buttons",
    "call_shown",
    "flatten",
    "shown_calls",
    "view_lines",
    "view_text",
]

VISIBLE_METHODS: Final = frozenset(
    {
        "views.open",
        "views.update",
        "views.push",
        "chat.postMessage",
        "chat.update",
        "chat.postEphemeral",
        RESPONSE_URL_METHOD,
    }
)
"""Calls whose effect a person sees; lookups (`users.info`, `auth.test`, …) are not shown."""

EMOJI: Final = {
    "white_check_mark": "✅",
    "x": "❌",
    "warning": "⚠️",
    "no_entry": "⛔",
    "information_source": "ℹ️",
    "hourglass": "⏳",
    "hourglass_flowing_sand": "⏳",
    "heavy_minus_sign": "➖",
    "link": "🔗",
    "double_vertical_bar": "⏸️",
    "arrow_forward": "▶️",
    "raised_hand": "✋",
    "no_entry_sign": "🚫",
}

_USER_MENTION: Final = re.compile(r"<@([UW][A-Z0-9]+)(?:\|([^>]*))?>")
_CHANNEL_MENTION: Final = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
_GROUP_MENTION: Final = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>")
_SPECIAL_MENTION: Final = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
_LINK: Final = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]*))?>")
_BOLD: Final = re.compile(r"(?<![\w*])\*(\S(?:[^*\n]*\S)?)\*(?![\w*])")
_CODE: Final = re.compile(r"`([^`\n]+)`")
_EMOJI: Final = re.compile(r":([a-z0-9_+-]+):")


@dataclass(frozen=True)
class Audience:
    """Who and where, so ids can be shown as names and each call attributed to a person.

    The mappings may be mutable and filled in as a session goes on (the sandbox learns which
    response_url, trigger and view belongs to whom as people act).

    Attributes:
        users: User id → handle (without `@`).
        channels: Channel id → name (without `#`).
        groups: User-group id → handle (without `@`).
        response_urls: response_url id → (user id, channel id) it was minted for.
        triggers: Trigger id → the user whose interaction minted it.
        view_owners: View id → the user the modal was opened for.
    """

    users: Mapping[str, str] = field(default_factory=dict)
    channels: Mapping[str, str] = field(default_factory=dict)
    groups: Mapping[str, str] = field(default_factory=dict)
    response_urls: Mapping[str, tuple[str | None, str | None]] = field(default_factory=dict)
    triggers: Mapping[str, str] = field(default_factory=dict)
    view_owners: Mapping[str, str] = field(default_factory=dict)

    def user(self, user_id: str | None) -> str:
        """`@handle` for a user id; the id itself when unknown."""
        if not user_id:
            return "@someone"
        return f"@{self.users.get(user_id, user_id)}"

    def channel(self, channel_id: str | None) -> str:
        """`#name` for a channel id; DMs and unknown channels by id."""
        if not channel_id:
            return "#?"
        if channel_id in self.channels:
            return f"#{self.channels[channel_id]}"
        return channel_id if channel_id.startswith("D") else f"#{channel_id}"

    def group(self, group_id: str) -> str:
        """`@handle` for a user group id; the id itself when unknown."""
        return f"@{self.groups.get(group_id, group_id)}"


@dataclass(frozen=True)
class Shown:
    """Something a person sees: where (`[#incidents thread]`), what happened, and the text.

    Attributes:
        where: The audience label, e.g. `[modal for @alice]`, `[#incidents]`.
        what: What happened there, e.g. `opened`, `updated`, `message edited`; may be empty.
        lines: The readable content.
        method: The Web API method (or `ack`, `response_url`) it came from.
    """

    where: str
    what: str
    lines: tuple[str, ...]
    method: str

    @property
    def text(self) -> str:
        """The content as one string (lines joined with newlines)."""
        return "\n".join(self.lines)

    def render(self, indent: str = "  ") -> list[str]:
        """The heading line, then the content indented under it.

        Args:
            indent: Prefix of each content line.

        Returns:
            Printable lines.
        """
        heading = f"{self.where} {self.what}".rstrip()
        return [heading, *(f"{indent}{line}" for line in self.lines)]


@dataclass(frozen=True)
class Button:
    """A button found in blocks.

    Attributes:
        action_id: Its action id (`vs_terminate`, `vs_terminate_retry`).
        label: Its label.
        value: Its value.
        block_id: The actions block holding it.
    """

    action_id: str
    label: str
    value: str
    block_id: str


# -- mrkdwn and text objects -------------------------------------------------------------------


def flatten(text: str, audience: Audience) -> str:
    """Slack mrkdwn (or a text fallback) as plain, readable text.

    Args:
        text: The mrkdwn.
        audience: Names for the mentioned users, channels and groups.

    Returns:
        The text with mentions named, links spelled out, entities unescaped and markers removed.
    """
    text = _USER_MENTION.sub(lambda m: f"@{m[2]}" if m[2] else audience.user(m[1]), text)
    text = _CHANNEL_MENTION.sub(lambda m: f"#{m[2]}" if m[2] else audience.channel(m[1]), text)
    text = _GROUP_MENTION.sub(lambda m: f"@{m[2]}" if m[2] else audience.group(m[1]), text)
    text = _SPECIAL_MENTION.sub(lambda m: f"@{m[1]}", text)
    text = _LINK.sub(lambda m: f"{m[2]} ({m[1]})" if m[2] else m[1], text)
    text = _BOLD.sub(r"\1", text)
    text = _CODE.sub(r"\1", text)
    text = _EMOJI.sub(lambda m: EMOJI.get(m[1], m[0]), text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _text_object(obj: object, audience: Audience) -> str | None:
    if not isinstance(obj, Mapping) or not isinstance(obj.get("text"), str):
        return None
    text = str(obj["text"])
    if obj.get("type") == "mrkdwn":
        return flatten(text, audience)
    # plain_text is shown verbatim by Slack: no mentions, no entities, no markers; only its
    # emoji codes are drawn when it asks for them.
    if obj.get("emoji"):
        return _EMOJI.sub(lambda m: EMOJI.get(m[1], m[0]), text)
    return text


def _lines(text: str) -> list[str]:
    return [line.rstrip() for line in text.splitlines()] or [""]


# -- blocks ------------------------------------------------------------------------------------


def buttons(blocks: object) -> list[Button]:
    """The buttons in a list of blocks (actions blocks and section accessories), in order.

    Args:
        blocks: A message's or view's `blocks` (anything; non-lists give no buttons).

    Returns:
        The buttons found.
    """
    found: list[Button] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, Mapping):
            continue
        elements = list(block.get("elements") or []) if block.get("type") == "actions" else []
        if isinstance(block.get("accessory"), Mapping):
            elements.append(block["accessory"])
        for element in elements:
            if isinstance(element, Mapping) and element.get("type") == "button":
                label = element.get("text")
                found.append(
                    Button(
                        action_id=str(element.get("action_id", "")),
                        label=str(label.get("text", "")) if isinstance(label, Mapping) else "",
                        value=str(element.get("value", "")),
                        block_id=str(block.get("block_id", "")),
                    )
                )
    return found


def _button_row(found: Iterable[Button]) -> str:
    return "  ".join(f"[ {button.label} ]" for button in found)


def block_lines(blocks: object, audience: Audience) -> list[str]:
    """Block Kit blocks as readable lines, the way Slack lays them out from top to bottom.

    Args:
        blocks: The blocks (anything; unknown shapes are skipped).
        audience: Names for mentions.

    Returns:
        The lines: section text and fields, context lines (prefixed `·`), inputs as
        `Label: [ value ]`, buttons as `[ Label ]`, dividers as a rule.
    """
    lines: list[str] = []
    for block in blocks if isinstance(blocks, list) else []:
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind in {"section", "header"}:
            if (text := _text_object(block.get("text"), audience)) is not None:
                lines.extend(_lines(text))
            for item in block.get("fields") or []:
                if (text := _text_object(item, audience)) is not None:
                    lines.extend(_lines(text))
            if isinstance(block.get("accessory"), Mapping):
                lines.append(_button_row(buttons([block])))
        elif kind == "context":
            parts = [_text_object(element, audience) for element in block.get("elements") or []]
            lines.append("· " + " · ".join(p for p in parts if p))
        elif kind == "rich_text":
            lines.extend(_lines(_rich_text(block, audience)))
        elif kind == "input":
            lines.append(_input_line(block, audience))
        elif kind == "actions":
            if row := _button_row(buttons([block])):
                lines.append(row)
        elif kind == "divider":
            lines.append("─" * 20)
    return lines


def _rich_text(block: Mapping[str, Any], audience: Audience) -> str:
    """A `rich_text` block as a reader sees it: text verbatim, mentions named, lists bulleted."""

    def element(item: object) -> str:
        if not isinstance(item, Mapping):
            return ""
        kind = item.get("type")
        if kind == "text":
            return str(item.get("text", ""))
        if kind == "user":
            return audience.user(str(item.get("user_id", "")))
        if kind == "channel":
            return audience.channel(str(item.get("channel_id", "")))
        if kind == "usergroup":
            return audience.group(str(item.get("usergroup_id", "")))
        if kind == "emoji":
            name = str(item.get("name", ""))
            return EMOJI.get(name, f":{name}:")
        if kind == "link":
            url = str(item.get("url", ""))
            return f"{item['text']} ({url})" if item.get("text") else url
        return ""

    def section(node: object, bullet: str = "") -> str:
        items = node.get("elements") if isinstance(node, Mapping) else None
        return bullet + "".join(element(i) for i in items or [])

    parts: list[str] = []
    for node in block.get("elements") or []:
        if isinstance(node, Mapping) and node.get("type") == "rich_text_list":
            parts.extend(section(item, "• ") for item in node.get("elements") or [])
        else:
            parts.append(section(node))
    return "\n".join(parts)


def _input_line(block: Mapping[str, Any], audience: Audience) -> str:
    label = _text_object(block.get("label"), audience) or "Input"
    element = block.get("element")
    if not isinstance(element, Mapping):
        element = {}
    value = element.get("initial_value")
    if isinstance(value, str) and value:
        shown = value
    else:
        shown = f"({_text_object(element.get('placeholder'), audience) or 'empty'})"
    required = "" if block.get("optional") else " *required"
    return f"{label}: [ {shown} ]{required}"


def view_lines(view: Mapping[str, Any], audience: Audience) -> list[str]:
    """A modal as a small box: title, blocks, then its Close and Submit buttons.

    Args:
        view: The view definition (as sent to `views.open`/`views.update` or stored).
        audience: Names for mentions.

    Returns:
        The box's lines.
    """
    title = _text_object(view.get("title"), audience) or "Modal"
    footer = [
        f"[ {label} ]"
        for key in ("close", "submit")
        if (label := _text_object(view.get(key), audience))
    ]
    top = f"┌─ {title} "
    bottom = f"└─ {'  '.join(footer)} " if footer else "└"
    width = max(48, len(top) + 4, len(bottom) + 4)
    body = [f"│ {line}".rstrip() for line in block_lines(view.get("blocks"), audience)]
    return [top.ljust(width, "─"), *body, bottom.ljust(width, "─")]


def view_text(view: Mapping[str, Any], audience: Audience | None = None) -> str:
    """The readable text of a modal's blocks (no box), for matching in checks.

    Args:
        view: The view.
        audience: Names for mentions; ids are kept when None.

    Returns:
        The blocks' lines joined with newlines.
    """
    return "\n".join(block_lines(view.get("blocks"), audience or Audience()))


def _message_lines(args: Mapping[str, Any], audience: Audience) -> list[str]:
    """A message as people read it: its blocks when it has any, else its text fallback."""
    lines = block_lines(args.get("blocks"), audience)
    if lines:
        return lines
    return _lines(flatten(str(args.get("text") or ""), audience))


# -- calls and acks ----------------------------------------------------------------------------


def call_shown(call: SlackCall, audience: Audience) -> Shown | None:
    """What a recorded Web API call or response_url post showed, and to whom.

    Args:
        call: A call the fake Slack recorded.
        audience: Names, and who owns which trigger, view and response_url.

    Returns:
        The shown item, or None for calls nobody sees (lookups, failed calls).
    """
    if call.error is not None or call.method not in VISIBLE_METHODS:
        return None
    args = call.args
    if call.method == RESPONSE_URL_METHOD:
        return _response_url_shown(args, audience)
    if call.method.startswith("views."):
        if call.method == "views.update":
            owner = audience.view_owners.get(str(args.get("view_id", "")))
        else:
            owner = audience.triggers.get(str(args.get("trigger_id", "")))
        view = args.get("view")
        lines = view_lines(view if isinstance(view, Mapping) else {}, audience)
        what = "updated" if call.method == "views.update" else "opened"
        return Shown(f"[modal for {audience.user(owner)}]", what, tuple(lines), call.method)
    channel = str(args.get("channel", ""))
    lines = _message_lines(args, audience)
    if call.method == "chat.postEphemeral":
        where = f"[ephemeral to {audience.user(args.get('user'))} in {audience.channel(channel)}]"
        return Shown(where, "", tuple(lines), call.method)
    if call.method == "chat.update":
        return Shown(_where(channel, None, audience), "message edited", tuple(lines), call.method)
    return Shown(_where(channel, args.get("thread_ts"), audience), "", tuple(lines), call.method)


def _where(channel: str, thread_ts: object, audience: Audience) -> str:
    if channel.startswith("D"):
        user = channel[1:] if channel[1:2] in {"U", "W"} else None
        return f"[DM to {audience.user(user)}]" if user else f"[DM {channel}]"
    thread = " thread" if thread_ts else ""
    return f"[{audience.channel(channel)}{thread}]"


def _response_url_shown(args: Mapping[str, Any], audience: Audience) -> Shown:
    user, channel = audience.response_urls.get(str(args.get("response_url_id", "")), (None, None))
    lines = tuple(_message_lines(args, audience))
    if args.get("delete_original") in (True, "true"):
        return Shown(f"[{audience.channel(channel)}]", "message deleted", (), RESPONSE_URL_METHOD)
    if args.get("replace_original") in (True, "true"):
        return Shown(
            f"[{audience.channel(channel)}]", "message replaced", lines, RESPONSE_URL_METHOD
        )
    if args.get("response_type") == "in_channel":
        return Shown(
            _where(channel or "", args.get("thread_ts"), audience), "", lines, RESPONSE_URL_METHOD
        )
    where = f"[ephemeral to {audience.user(user)} in {audience.channel(channel)}]"
    return Shown(where, "", lines, RESPONSE_URL_METHOD)


def ack_shown(body: object, *, user: str, channel: str | None, audience: Audience) -> Shown | None:
    """What the bot's answer to a request (the ack) showed the person who made it.

    A slash command's ack may carry an ephemeral reply; a submission's ack may update the
    modal (`response_action: update`), show field errors, or close it.

    Args:
        body: The parsed JSON of the ack; None or an empty body for a bare ack.
        user: Who made the request.
        channel: Where (for ephemeral replies).
        audience: Names.

    Returns:
        The shown item, or None when the ack showed nothing.
    """
    who = audience.user(user)
    if not isinstance(body, Mapping) or not body:
        return None
    action = body.get("response_action")
    if action == "update" and isinstance(body.get("view"), Mapping):
        return Shown(
            f"[modal for {who}]", "updated", tuple(view_lines(body["view"], audience)), "ack"
        )
    if action == "errors" and isinstance(body.get("errors"), Mapping):
        errors = tuple(f"{block}: {message}" for block, message in body["errors"].items())
        return Shown(f"[modal for {who}]", "shows an error", errors, "ack")
    if action == "clear":
        return Shown(f"[modal for {who}]", "closed", (), "ack")
    if "text" in body or "blocks" in body:
        where = f"[ephemeral to {who} in {audience.channel(channel)}]"
        return Shown(where, "", tuple(_message_lines(body, audience)), "ack")
    return None


def shown_calls(calls: Sequence[SlackCall], audience: Audience) -> list[Shown]:
    """`call_shown` over many calls, skipping the invisible ones.

    Args:
        calls: Recorded calls, in order.
        audience: Names and owners.

    Returns:
        The shown items, in order.
    """
    return [shown for call in calls if (shown := call_shown(call, audience)) is not None]
