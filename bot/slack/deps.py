"""What the listeners and post-ack flows are given: the services, built once in `bot.app`."""

from __future__ import annotations

from dataclasses import dataclass

from slack_sdk.web.async_client import AsyncWebClient

from bot.attempts.context import AttemptContext
from bot.metrics import Metrics
from bot.slack.delivery import Delivery
from bot.slack.directory import Directory
from bot.tasks import TaskSupervisor

__all__ = ["Deps", "Gate"]


class Gate:
    """Counts work of one kind in flight and refuses more than `limit` (overload shedding)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.inside = 0

    def try_enter(self) -> bool:
        """Take a place if there is one."""
        if self.inside >= self.limit:
            return False
        self.inside += 1
        return True

    def leave(self) -> None:
        """Give a place back."""
        self.inside -= 1


@dataclass(frozen=True)
class Deps:
    """The runtime's collaborators, as the Slack layer sees them."""

    attempts: AttemptContext
    delivery: Delivery
    directory: Directory
    client: AsyncWebClient
    tasks: TaskSupervisor
    metrics: Metrics
    opening: Gate
    """Confirmations acked whose modal is not open yet: past the limit, new ones get "busy"."""
