"""Reading Slack payloads into domain values: who, where, and the interaction's handles.

Payload shapes differ between slash commands, `block_actions` and `view_*` requests; this
module is the one place that knows them, and it never trusts a field's type.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from bot.domain import Action, Actor, Where
from bot.slack import ids


def as_str(value: object) -> str | None:
    """`value` if it is a non-empty string, else None."""
    return value if isinstance(value, str) and value else None


def as_dict(value: object) -> dict[str, Any]:
    """`value` if it is a dict, else an empty one: payload fields are never trusted."""
    return value if isinstance(value, dict) else {}


def command_actor(body: dict[str, Any]) -> Actor:
    """The user of a slash command."""
    return Actor(
        user_id=as_str(body.get("user_id")) or "",
        team_id=as_str(body.get("team_id")),
        enterprise_id=as_str(body.get("enterprise_id")),
        user_name=as_str(body.get("user_name")),
    )


def command_where(body: dict[str, Any]) -> Where:
    """The channel of a slash command, and whether it is a DM or group DM."""
    channel_id = as_str(body.get("channel_id")) or ""
    name = as_str(body.get("channel_name")) or ""
    return Where(
        channel_id=channel_id,
        is_dm=channel_id.startswith("D") or name == "directmessage" or name.startswith("mpdm-"),
    )


def interaction_actor(body: dict[str, Any]) -> Actor:
    """The user of a `block_actions` or `view_*` payload."""
    user = as_dict(body.get("user"))
    return Actor(
        user_id=as_str(user.get("id")) or "",
        team_id=as_str(user.get("team_id")) or as_str(as_dict(body.get("team")).get("id")),
        enterprise_id=as_str(as_dict(body.get("enterprise")).get("id")),
        user_name=as_str(user.get("username")) or as_str(user.get("name")),
    )


def interaction_where(body: dict[str, Any]) -> Where:
    """The channel a button was clicked in."""
    channel = as_dict(body.get("channel"))
    channel_id = as_str(channel.get("id")) or as_str(
        as_dict(body.get("container")).get("channel_id")
    )
    name = as_str(channel.get("name")) or ""
    channel_id = channel_id or ""
    return Where(
        channel_id=channel_id,
        is_dm=channel_id.startswith("D") or name == "directmessage" or name.startswith("mpdm-"),
    )


def clicked_message(body: dict[str, Any]) -> tuple[str | None, str | None, str | None]:
    """The clicked message's channel, ts, and the thread to answer in."""
    message = as_dict(body.get("message"))
    container = as_dict(body.get("container"))
    channel = as_str(container.get("channel_id")) or as_str(as_dict(body.get("channel")).get("id"))
    ts = as_str(message.get("ts")) or as_str(container.get("message_ts"))
    thread = as_str(message.get("thread_ts")) or ts
    return channel, ts, thread


def first_action(body: dict[str, Any]) -> dict[str, Any]:
    """The clicked element of a `block_actions` payload."""
    actions = body.get("actions")
    return as_dict(actions[0]) if isinstance(actions, list) and actions else {}


def action_choice(view: dict[str, Any]) -> Action | None:
    """The action chosen with the confirmation's radio buttons, or None (none, or not ours)."""
    values = as_dict(as_dict(view.get("state")).get("values"))
    choice = as_dict(as_dict(values.get(ids.ACTION_CHOICE_BLOCK)).get(ids.ACTION_CHOICE))
    value = as_dict(choice.get("selected_option")).get("value")
    return Action(value) if value in {"terminate", "pause"} else None


def reason_value(view: dict[str, Any]) -> object:
    """The reason input's raw value from a submitted view."""
    return text_value(view, ids.REASON_BLOCK, ids.REASON_ACTION)


def text_value(view: dict[str, Any], block_id: str, action_id: str) -> object:
    """One input's raw value from a submitted view (None when absent)."""
    values = as_dict(as_dict(view.get("state")).get("values"))
    return as_dict(as_dict(values.get(block_id)).get(action_id)).get("value")


@dataclass(slots=True)
class Interaction:
    """One Slack request's who, where and handles, read once from its payload.

    Listeners receive it ready-made; flows carry it, and the task supervisor hands it to the
    error reporter when a flow fails, so the user is told where they asked. `view_id` is set
    once a modal for the request is open, so a later failure shows up in that modal too;
    `settled` once the action is over.
    """

    actor: Actor
    where: Where
    request_id: str
    received_at: float
    response_url: str | None = None
    trigger_id: str = ""
    message_channel: str | None = None
    message_ts: str | None = None
    thread_ts: str | None = None
    view_id: str | None = None
    settled: str | None = None
    """The attempt's final outcome once its action is over: a later failure must not be told
    as "nothing happened"."""


def read_interaction(body: dict[str, Any], request_id: str) -> Interaction:
    """The interaction a slash command, `block_actions` or `view_*` payload describes."""
    received_at = time.monotonic()
    if as_str(body.get("command")) is not None:
        return Interaction(
            actor=command_actor(body),
            where=command_where(body),
            request_id=request_id,
            received_at=received_at,
            response_url=as_str(body.get("response_url")),
            trigger_id=as_str(body.get("trigger_id")) or "",
        )
    channel, ts, thread = clicked_message(body)
    return Interaction(
        actor=interaction_actor(body),
        where=interaction_where(body),
        request_id=request_id,
        received_at=received_at,
        response_url=as_str(body.get("response_url")),
        trigger_id=as_str(body.get("trigger_id")) or "",
        message_channel=channel,
        message_ts=ts,
        thread_ts=thread,
        view_id=as_str(as_dict(body.get("view")).get("id")),
    )
