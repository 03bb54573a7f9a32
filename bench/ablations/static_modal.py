"""Ablation `static_modal`: the confirmation shows the baseline's static modal (see README.md)."""

from typing import Any

from bot.slack import blocks
from bot.slack.ids import CONFIRM_CALLBACK

STATIC: dict[str, Any] = {
    "type": "modal",
    "callback_id": CONFIRM_CALLBACK,
    "title": {"type": "plain_text", "text": "Terminate run"},
    "close": {"type": "plain_text", "text": "Cancel"},
    "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "About to terminate."}}],
}
"""About the size of `bench/baseline.py`'s modal (~270 bytes of JSON against ~1.9 kB)."""


def confirm_modal(*_args: Any, **_kwargs: Any) -> dict[str, Any]:
    """Stand-in for `blocks.confirm_modal`."""
    return STATIC


blocks.confirm_modal = confirm_modal
