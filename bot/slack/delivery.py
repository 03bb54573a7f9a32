"""Getting results to people: posting, fallbacks, pacing and the audit-channel mirror (§4.3–4.4).

A result goes to the channel (or the alert's thread) with `chat.postMessage`; when the bot
cannot post there (a private channel it is not in, an archived one) it falls back to the
interaction's `response_url` in channel, then ephemeral, then a DM to the user (without
buttons). Posting is paced to about one message per second per channel, and Slack's 429s are
honoured by the client's `AsyncRateLimitErrorRetryHandler`. Every outcome and denial is
mirrored to `VS_AUDIT_CHANNEL` as one compact line with a link to the original message.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
from cachetools import LRUCache, TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.async_handler import AsyncRetryHandler
from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.webhook.async_client import AsyncWebhookClient

from bot.attempts.execute import Execution
from bot.attempts.lifecycle import Attempt, Outcome, Source
from bot.domain import AlertKey
from bot.errors import BotError
from bot.metrics import Metrics
from bot.policy import Approval
from bot.slack import blocks

logger = logging.getLogger(__name__)

SLACK_OUTAGE_ERRORS = frozenset(
    {"internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
"""Slack's own words for "try again later"; retried with backoff like an HTTP 5xx (SPEC §7)."""
RETRIES = 2
CHANNEL_INTERVAL_S = 1.0
DENIAL_MIRROR_INTERVAL_S = 300.0
"""At most one audit-channel line per user per this many seconds for repeated denials."""
MESSAGE_CACHE_BYTES = 16 * 1024 * 1024
"""Memory for clicked messages kept to re-render with their outcome; a large alert is ~150 kB,
so about a hundred of the largest, thousands of ordinary ones."""
KEYS_KEPT = 10_000
"""Channels (pacing) and users (denial thinning) remembered; both forget within minutes."""
_ENTRY_OVERHEAD = 256


class SlackOutageRetryHandler(AsyncRetryHandler):
    """Retries Slack server trouble: HTTP 5xx, or `ok: false` with an outage error code.

    slack_sdk's `AsyncServerErrorRetryHandler` only looks at 500 and 503; Slack also answers
    `internal_error` or `fatal_error` with HTTP 200, and gateways answer 502 and 504.
    """

    async def _can_retry_async(
        self,
        *,
        state: RetryState,  # noqa: ARG002 - the interface's signature
        request: HttpRequest,  # noqa: ARG002
        response: HttpResponse | None = None,
        error: Exception | None = None,  # noqa: ARG002
    ) -> bool:
        if response is None:
            return False
        if response.status_code >= 500:
            return True
        body = response.body if isinstance(response.body, dict) else {}
        return body.get("ok") is False and body.get("error") in SLACK_OUTAGE_ERRORS


def retry_handlers() -> list[AsyncRetryHandler]:
    """What every Web API and response_url call retries: rate limits, outages, lost connections.

    A rate limit waits for `Retry-After`; outages and dropped connections back off (0.5 s, then
    1 s). After that the caller falls back along SPEC §4.3's chain.
    """
    return [
        AsyncRateLimitErrorRetryHandler(max_retry_count=RETRIES),
        SlackOutageRetryHandler(max_retry_count=RETRIES),
        AsyncConnectionErrorRetryHandler(
            max_retry_count=RETRIES,
            error_types=[aiohttp.ClientConnectionError, asyncio.TimeoutError],
        ),
    ]


class AlertsPort(Protocol):
    """Remembers which message an alert was posted as (implemented by the audit store)."""

    async def alert_ts(self, key: AlertKey) -> str | None: ...


@dataclass(frozen=True)
class Posted:
    """Where a message ended up: a channel message (with ts) or only a response_url/DM."""

    route: str
    channel: str | None = None
    ts: str | None = None


class Delivery:
    """Posts results, alerts and notices through the fallback chain.

    Args:
        client: the bot's Web API client (with rate-limit retries).
        session: the shared aiohttp session, also used for `response_url` posts.
        audit_channel: `VS_AUDIT_CHANNEL`, or None.
        metrics: where Slack API errors are counted.
        alerts: where alerts posted through `/api/alerts` are remembered.
        clock: monotonic seconds, replaced in tests.
        channel_interval_s: the least time between two posts to one channel.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        session: aiohttp.ClientSession | None,
        audit_channel: str | None,
        metrics: Metrics,
        alerts: AlertsPort | None = None,
        clock: Callable[[], float] = time.monotonic,
        channel_interval_s: float = CHANNEL_INTERVAL_S,
    ) -> None:
        self._client = client
        self._alerts = alerts
        self._session = session
        self._audit_channel = audit_channel
        self._metrics = metrics
        self._clock = clock
        self._interval_s = channel_interval_s
        # A slot in the past is the same as no slot; ten minutes outlasts any queue of posts.
        self._next_slot: TTLCache[str, float] = TTLCache(maxsize=KEYS_KEPT, ttl=600, timer=clock)
        self._last_denial_mirror: TTLCache[str, float] = TTLCache(
            maxsize=KEYS_KEPT, ttl=DENIAL_MIRROR_INTERVAL_S, timer=clock
        )
        self._messages: LRUCache[str, tuple[str, list[dict[str, Any]]]] = LRUCache(
            maxsize=MESSAGE_CACHE_BYTES, getsizeof=_message_size
        )

    # -- building blocks --------------------------------------------------------------------

    async def _pace(self, channel: str) -> None:
        now = self._clock()
        slot = max(now, self._next_slot.get(channel, now))
        self._next_slot[channel] = slot + self._interval_s
        if slot > now:
            await asyncio.sleep(slot - now)

    def _count(self, method: str, exc: SlackApiError) -> str:
        error = str(exc.response.get("error", "unknown"))
        self._metrics.slack_api_errors_total.labels(method=method, error=error).inc()
        return error

    async def post(
        self,
        channel: str,
        text: str,
        message_blocks: list[dict[str, Any]] | None = None,
        *,
        thread_ts: str | None = None,
    ) -> str:
        """`chat.postMessage`, paced per channel; returns the message ts.

        Raises:
            SlackApiError: Slack refused; the error was counted.
        """
        await self._pace(channel)
        try:
            response = await self._client.chat_postMessage(
                channel=channel,
                text=text,
                blocks=message_blocks,
                thread_ts=thread_ts,
                unfurl_links=False,
                unfurl_media=False,
            )
        except SlackApiError as exc:
            self._count("chat.postMessage", exc)
            raise
        return str(response.get("ts"))

    async def respond(self, response_url: str, payload: dict[str, Any]) -> bool:
        """Post to an interaction's `response_url`; True if Slack took it."""
        webhook = AsyncWebhookClient(
            response_url, session=self._session, timeout=10, retry_handlers=retry_handlers()
        )
        try:
            response = await webhook.send_dict(payload)
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("response_url post failed: %s", type(exc).__name__)
            return False
        if response.status_code != 200:
            logger.warning("response_url post refused: HTTP %s", response.status_code)
            return False
        return True

    async def direct_message(
        self, user_id: str, text: str, message_blocks: list[dict[str, Any]] | None = None
    ) -> bool:
        """A DM from the bot; True if it was sent."""
        try:
            opened = await self._client.conversations_open(users=user_id)
            channel = str((opened.get("channel") or {}).get("id"))
            await self.post(channel, text, message_blocks)
        except SlackApiError as exc:
            self._count("chat.postMessage", exc)
            logger.warning("could not DM %s: %s", user_id, exc.response.get("error"))
            return False
        except (aiohttp.ClientError, TimeoutError) as exc:
            logger.warning("could not reach Slack to DM %s: %r", user_id, exc)
            return False
        return True

    async def tell(
        self, *, user_id: str | None, response_url: str | None, channel: str | None, text: str
    ) -> None:
        """Tell one user something privately: response_url, else an ephemeral, else a DM."""
        if response_url and await self.respond(response_url, blocks.ephemeral(text)):
            return
        if user_id and channel:
            try:
                await self._client.chat_postEphemeral(channel=channel, user=user_id, text=text)
                return
            except SlackApiError as exc:
                self._count("chat.postEphemeral", exc)
        if user_id:
            await self.direct_message(user_id, text)

    # -- results ----------------------------------------------------------------------------

    def remember_message(self, ts: str, text: str, message_blocks: list[dict[str, Any]]) -> None:
        """Keep a clicked message's content so it can be re-rendered with the outcome.

        The buttons are dropped at once (they are replaced by the outcome), and a message larger
        than the whole cache is not kept: the outcome is then shown on a short stand-in.
        """
        kept = [b for b in message_blocks if isinstance(b, dict) and b.get("type") != "actions"]
        with contextlib.suppress(ValueError):  # larger than the cache itself
            self._messages[ts] = (text[:4000], kept)

    async def announce(self, execution: Execution) -> Posted:
        """Post an attempt's result where everybody involved sees it, then mirror it."""
        attempt = execution.attempt
        text, message_blocks = blocks.result_message(execution)
        channel = attempt.message_channel or attempt.channel_id
        thread_ts = _thread_of(attempt)
        posted = await self._deliver(
            attempt=attempt,
            channel=channel,
            thread_ts=thread_ts,
            text=text,
            message_blocks=message_blocks,
            execution=execution,
        )
        # The result is out; what follows only tidies up, and must not turn it into an error.
        try:
            await self._update_source(attempt)
            await self.mirror(attempt, posted)
        except (SlackApiError, aiohttp.ClientError, TimeoutError, BotError) as exc:
            logger.warning("after posting attempt %s: %r", attempt.id, exc)
        return posted

    async def _deliver(
        self,
        *,
        attempt: Attempt,
        channel: str | None,
        thread_ts: str | None,
        text: str,
        message_blocks: list[dict[str, Any]],
        execution: Execution,
    ) -> Posted:
        if channel and not attempt.channel_is_dm:
            # Whatever stops the post (a private channel, an outage that outlasted the retries,
            # a lost connection), the result must still reach the people involved.
            try:
                ts = await self.post(channel, text, message_blocks, thread_ts=thread_ts)
                return Posted("channel", channel, ts)
            except SlackApiError as exc:
                logger.info(
                    "cannot post in %s (%s); falling back", channel, exc.response.get("error")
                )
            except (aiohttp.ClientError, TimeoutError) as exc:
                logger.warning("cannot reach Slack to post in %s (%r); falling back", channel, exc)
        if attempt.response_url:
            for response_type in ("in_channel", "ephemeral"):
                payload = {
                    "response_type": response_type,
                    "replace_original": False,
                    "text": text,
                    "blocks": message_blocks,
                }
                if await self.respond(attempt.response_url, payload):
                    return Posted(f"response_url:{response_type}")
        dm_text, dm_blocks = blocks.result_message(execution, buttons=False)
        if await self.direct_message(attempt.user_id, dm_text, dm_blocks):
            return Posted("dm")
        logger.error("the result of attempt %s could not be delivered anywhere", attempt.id)
        return Posted("undelivered")

    async def _update_source(self, attempt: Attempt) -> None:
        """Replace the clicked message's buttons with the outcome so nobody clicks it again."""
        if attempt.source is Source.SLASH_COMMAND:
            await self._update_alert_of(attempt)
            return
        if attempt.message_channel is None or attempt.message_ts is None:
            return
        text, original = self._messages.get(
            attempt.message_ts,
            (blocks.stand_in_text(attempt), []),
        )
        build = blocks.retried_message if attempt.source is Source.RETRY else blocks.finished_alert
        if (
            attempt.outcome in {Outcome.FAILED, Outcome.UNCONFIRMED}
            and attempt.source is Source.BUTTON
        ):
            return  # the alert keeps its Terminate button: the failure message offers Retry
        new_text, new_blocks = build(original, text, attempt)
        try:
            await self._client.chat_update(
                channel=attempt.message_channel,
                ts=attempt.message_ts,
                text=new_text,
                blocks=new_blocks,
            )
        except SlackApiError as exc:
            self._count("chat.update", exc)
            logger.warning(
                "could not update message %s: %s", attempt.message_ts, exc.response.get("error")
            )

    async def _update_alert_of(self, attempt: Attempt) -> None:
        """A run stopped by command: retire an alert about it posted in the same channel.

        Alerts are remembered by (channel, pipeline as the alert named it, run), so the
        command must name the pipeline the same way (alias, id or name) to find it.
        """
        if self._alerts is None or attempt.outcome is not Outcome.SUCCEEDED:
            return
        if not (attempt.channel_id and attempt.pipeline_ref and attempt.run_id):
            return
        ts = await self._alerts.alert_ts(
            AlertKey(
                channel=attempt.channel_id, pipeline=attempt.pipeline_ref, run_id=attempt.run_id
            )
        )
        if ts is None:
            return
        text, original = self._messages.get(ts, (blocks.stand_in_text(attempt), []))
        new_text, new_blocks = blocks.finished_alert(original, text, attempt)
        try:
            await self._client.chat_update(
                channel=attempt.channel_id, ts=ts, text=new_text, blocks=new_blocks
            )
        except SlackApiError as exc:
            self._count("chat.update", exc)

    async def mirror(self, attempt: Attempt, posted: Posted | None = None) -> None:
        """One compact line in the audit channel; repeated denials of one user are thinned."""
        if self._audit_channel is None:
            return
        if attempt.outcome is Outcome.DENIED:
            if attempt.user_id in self._last_denial_mirror:
                return
            self._last_denial_mirror[attempt.user_id] = self._clock()
        permalink = None
        if posted is not None and posted.channel and posted.ts:
            try:
                link = await self._client.chat_getPermalink(
                    channel=posted.channel, message_ts=posted.ts
                )
                permalink = str(link.get("permalink")) or None
            except SlackApiError as exc:
                self._count("chat.getPermalink", exc)
        try:
            text, message_blocks = blocks.audit_message(attempt, permalink)
            await self.post(self._audit_channel, text, message_blocks)
        except SlackApiError as exc:
            logger.warning("audit channel mirror failed: %s", exc.response.get("error"))

    async def post_checkpoint(self, count: int, head: str | None) -> None:
        """Post the audit chain's head so deleting the newest events would be noticed."""
        if self._audit_channel is None:
            return
        try:
            await self.post(self._audit_channel, blocks.chain_head_line(count, head))
        except SlackApiError as exc:
            logger.warning("chain checkpoint post failed: %s", exc.response.get("error"))

    # -- approval requests (§4.6) -------------------------------------------------------------

    async def post_request(self, attempt: Attempt, approval: Approval | None) -> str | None:
        """Post an approval request where the incident is (the alert's thread for buttons).

        Returns:
            The request message's ts, or None when it could not be posted; then the requester
            is told why, and approvers still find it with `/vs-terminate approvals`.
        """
        text, message_blocks = blocks.approval_request_message(attempt, approval)
        channel = attempt.message_channel or attempt.channel_id
        if channel and not attempt.channel_is_dm:
            try:
                thread = attempt.thread_ts or attempt.message_ts
                return await self.post(channel, text, message_blocks, thread_ts=thread)
            except SlackApiError as exc:
                logger.info("cannot post the approval request in %s: %s", channel, exc)
            except (aiohttp.ClientError, TimeoutError) as exc:
                logger.warning("cannot reach Slack to post an approval request: %r", exc)
        await self.tell(
            user_id=attempt.user_id,
            response_url=attempt.response_url,
            channel=channel,
            text=blocks.request_not_posted_text(attempt),
        )
        return None

    async def update_request(
        self, attempt: Attempt, approval: Approval | None, note: str | None = None
    ) -> None:
        """Show a request's approvals so far, or how it was decided (buttons gone)."""
        channel = attempt.message_channel or attempt.channel_id
        if attempt.request_ts is None or channel is None:
            return
        text, message_blocks = blocks.approval_request_message(attempt, approval, note=note)
        try:
            await self._client.chat_update(
                channel=channel, ts=attempt.request_ts, text=text, blocks=message_blocks
            )
        except SlackApiError as exc:
            self._count("chat.update", exc)
            logger.warning("could not update approval request %s: %s", attempt.id, exc)

    async def tell_requester(self, attempt: Attempt, note: str) -> None:
        """Tell the requester, in the request's thread, how their request was decided."""
        channel = attempt.message_channel or attempt.channel_id
        text = blocks.requester_told(attempt, note)
        if channel and attempt.request_ts is not None:
            try:
                await self.post(channel, text, thread_ts=_thread_of(attempt))
                return
            except SlackApiError as exc:
                logger.info("cannot tell the requester in %s: %s", channel, exc)
            except (aiohttp.ClientError, TimeoutError) as exc:
                logger.warning("cannot reach Slack to tell the requester: %r", exc)
        await self.direct_message(attempt.user_id, text)

    # -- alerts -----------------------------------------------------------------------------

    async def put(
        self,
        channel: str,
        ts: str | None,
        text: str,
        message_blocks: list[dict[str, Any]],
        *,
        thread_ts: str | None = None,
    ) -> str:
        """Update the message at `ts`, or post it when there is none (or it was deleted).

        The message is remembered, so an action taken from it later re-renders it whole.

        Returns:
            The message's ts: `ts`, or the new one.

        Raises:
            SlackApiError: Slack refused the post (counted).
            aiohttp.ClientError, TimeoutError: Slack could not be reached, even after retries.
        """
        if ts is not None:
            try:
                await self._client.chat_update(
                    channel=channel, ts=ts, text=text, blocks=message_blocks
                )
                self.remember_message(ts, text, message_blocks)
                return ts
            except SlackApiError as exc:
                self._count("chat.update", exc)
                if exc.response.get("error") not in {"message_not_found", "cant_update_message"}:
                    raise
        ts = await self.post(channel, text, message_blocks, thread_ts=thread_ts)
        self.remember_message(ts, text, message_blocks)
        return ts


def _thread_of(attempt: Attempt) -> str | None:
    """Where an attempt's messages go: the thread it came from (a clicked message may itself be
    a reply: its thread, not under the reply), else the thread of its approval request."""
    return attempt.thread_ts or attempt.message_ts or attempt.request_ts


def _message_size(entry: tuple[str, list[dict[str, Any]]]) -> int:
    text, message_blocks = entry
    return _ENTRY_OVERHEAD + len(text) + len(json.dumps(message_blocks))
