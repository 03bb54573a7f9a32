"""What tests read back from the fakes: views, texts, the n-th post or modal, a confirm step."""

from __future__ import annotations

import json
from typing import Any, Final

from devkit.fakes import FakeSlack, SlackCall
from devkit.payloads import SlackClient


def view_of(call: SlackCall) -> dict[str, Any]:
    """The view a `views.*` call carried."""
    view = call.args.get("view")
    return json.loads(view) if isinstance(view, str) else dict(view or {})


def texts(value: object) -> str:
    """Every `text` string inside a Block Kit structure, joined by newlines."""
    found: list[str] = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            for key, item in node.items():
                if key == "text" and isinstance(item, str):
                    found.append(item)
                else:
                    walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return "\n".join(found)


async def modal(
    slack: FakeSlack, callback_id: str, *, count: int = 1, timeout_s: float = 15
) -> dict[str, Any]:
    """The n-th view with this callback id the bot opened or updated a modal to.

    A confirmation whose details came quickly opens complete (`views.open`); a slow one opens
    with "Checking…" and is updated (`views.update`).
    """
    call = await slack.async_wait_for(
        "views.open|views.update",
        lambda c: view_of(c).get("callback_id") == callback_id and not _placeholder(c),
        timeout=timeout_s,
        count=count,
    )
    return view_of(call)


async def result_modal(slack: FakeSlack, *, count: int = 1) -> dict[str, Any]:
    """The n-th modal update that shows a final result (after Terminating…/Verifying…)."""
    call = await slack.async_wait_for(
        "views.update",
        lambda c: (
            view_of(c).get("callback_id") == "vs_terminate_result"
            and "Verifying" not in texts(view_of(c))
            and "Checking" not in texts(view_of(c))
        ),
        timeout=20,
        count=count,
    )
    return view_of(call)


async def posted(
    slack: FakeSlack, channel: str, *, count: int = 1, timeout_s: float = 20
) -> SlackCall:
    """The n-th `chat.postMessage` to a channel."""
    return await slack.async_wait_for(
        "chat.postMessage",
        lambda c: c.args.get("channel") == channel,
        timeout=timeout_s,
        count=count,
    )


async def modal_saying(slack: FakeSlack, words: str, *, timeout_s: float = 20) -> dict[str, Any]:
    """The first modal opened or updated to text containing `words`."""
    call = await slack.async_wait_for(
        "views.open|views.update", lambda c: words in texts(view_of(c)), timeout=timeout_s
    )
    return view_of(call)


def _placeholder(call: SlackCall) -> bool:
    """The "Checking…" modal a slow confirmation opens with, before its details."""
    return "Checking…" in texts(view_of(call))


async def terminate_via_modal(
    client: SlackClient,
    slack: FakeSlack,
    text: str,
    *,
    user: str,
    channel: str,
    reason: str,
    count: int = 1,
) -> SlackCall:
    """Type the command, wait for the n-th confirmation, submit it; returns the channel result."""
    await client.command(text, user=user, channel=channel)
    await modal(slack, "vs_terminate_confirm", count=count)
    await client.submit(user=user, reason=reason)
    return await posted(slack, channel, count=count)


def mrkdwn_strings(payload: object) -> list[str]:
    """Every string Slack would render as mrkdwn in a message, reply or view.

    That is the text of every `mrkdwn` text object and a message's top-level `text` (its
    fallback, shown in notifications and where blocks cannot be). `plain_text` objects and
    `rich_text` text elements are shown verbatim, so they are left out.
    """
    found: list[str] = []

    def walk(node: object, top: bool) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
                found.append(node["text"])
            if top and isinstance(node.get("text"), str) and "type" not in node:
                found.append(node["text"])
            for key, item in node.items():
                if key != "text" or not isinstance(item, str):
                    walk(item, top=False)
        elif isinstance(node, list):
            for item in node:
                walk(item, top=False)

    walk(payload, top=True)
    return found


HOSTILE: Final = ("*bold*", "_it_", "~gone~", "`code`", "<!channel>", "<https://evil.example|x>")
"""What typed or external text must never become in mrkdwn: formatting, mentions, links."""


def live_markup(payload: object) -> list[str]:
    """The `HOSTILE` strings that appear as live mrkdwn anywhere in `payload`."""
    return [h for text in mrkdwn_strings(payload) for h in HOSTILE if h in text]
