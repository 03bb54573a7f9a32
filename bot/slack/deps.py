"""What the listeners and post-ack flows are given: the services, built once in `bot.app`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from slack_sdk.web.async_client import AsyncWebClient

from bot.metrics import Metrics
from bot.slack.delivery import Delivery
from bot.slack.directory import Directory
from bot.tasks import TaskSupervisor
from bot.terminate import TerminateService


class AlertsPort(Protocol):
    """Remembers which message an alert was posted as (implemented by the audit store)."""

    async def alert_ts(self, *, channel: str, pipeline: str, run_id: str) -> str | None: ...

    async def save_alert(self, *, channel: str, pipeline: str, run_id: str, ts: str) -> None: ...


@dataclass(frozen=True)
class Deps:
    """The runtime's collaborators, as the Slack layer sees them."""

    service: TerminateService
    delivery: Delivery
    directory: Directory
    client: AsyncWebClient
    tasks: TaskSupervisor
    metrics: Metrics
    alerts: AlertsPort
