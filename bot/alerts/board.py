"""Alert messages in Slack: one per (channel, pipeline, run), posted once and then kept current.

Alertmanager re-sends a firing group every `repeat_interval` with the same body, a group
carries several alerts, and the native endpoint may be called again with new text: every
time, the one message for the alert's (channel, pipeline as written, run) is updated, never
posted twice. The message is rendered from the alert and the run's claim holder, so a repeat
after someone paused or terminated the run still says so, with the buttons that fit. Alerts
for one key are handled one at a time in this process; Alertmanager sends one group at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from bot.attempts.lifecycle import Attempt
from bot.domain import Alert, AlertKey
from bot.slack import blocks
from bot.slack.delivery import Delivery

__all__ = ["AlertBoard", "AlertStore", "Shown", "ShownAs"]


class AlertStore(Protocol):
    """Where alert messages are remembered, and who holds a run (the audit store)."""

    async def alert_ts(self, key: AlertKey) -> str | None: ...

    async def save_alert(self, key: AlertKey, ts: str) -> None: ...

    async def run_holder(self, *, pipeline: str, run_id: str) -> Attempt | None: ...


class ShownAs(StrEnum):
    """What became of one alert (also the `result` label of `vs_terminate_alerts_total`)."""

    POSTED = "posted"
    UPDATED = "updated"
    RESOLVED = "resolved"
    UNKNOWN_RESOLVED = "unknown_resolved"
    """Resolved, but no message was ever posted for it: nothing to do."""
    SKIPPED = "skipped"
    FAILED = "failed"


@dataclass(frozen=True)
class Shown:
    """The message an alert is shown as (None when nothing was posted) and what was done."""

    ts: str | None
    shown_as: ShownAs


class _KeyedLocks:
    """One asyncio lock per key, dropped when nobody holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[Hashable, tuple[asyncio.Lock, int]] = {}

    @asynccontextmanager
    async def hold(self, key: Hashable) -> AsyncIterator[None]:
        lock, users = self._locks.get(key, (asyncio.Lock(), 0))
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


class AlertBoard:
    """Shows alerts in Slack.

    Args:
        store: remembers each alert's message; knows who holds a run.
        delivery: posts and updates messages.
    """

    def __init__(self, store: AlertStore, delivery: Delivery) -> None:
        self._store = store
        self._delivery = delivery
        self._locks = _KeyedLocks()

    async def show(self, alert: Alert) -> Shown:
        """Post the alert, or update its message; a resolved alert nobody saw posts nothing.

        Raises:
            SlackApiError: Slack refused the post or update.
            aiohttp.ClientError, TimeoutError: Slack could not be reached.
            AuditReadError, AuditWriteError: the store could not be used.
        """
        key = alert.key
        async with self._locks.hold(key):
            existing = await self._store.alert_ts(key)
            if alert.resolved and existing is None:
                return Shown(None, ShownAs.UNKNOWN_RESOLVED)
            holder = await self._store.run_holder(pipeline=key.pipeline, run_id=key.run_id)
            text, message_blocks = blocks.alert_message(alert, holder=holder)
            ts = await self._delivery.put(
                alert.channel, existing, text, message_blocks, thread_ts=alert.thread_ts
            )
            if ts != existing:
                await self._store.save_alert(key, ts)
        if alert.resolved:
            return Shown(ts, ShownAs.RESOLVED)
        return Shown(ts, ShownAs.UPDATED if ts == existing else ShownAs.POSTED)
