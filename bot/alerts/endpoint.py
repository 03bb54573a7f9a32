"""The alert endpoints: token, rate limit, body, parser, and the answer (SPEC §4.4, §4.7).

One `AlertsEndpoint` per `Format`, all sharing the tokens, the rate limit and the board:

    401  no or wrong Bearer token (compared in constant time, either token during rotation)
    429  the shared rate limit is spent
    413  a webhook body past 1 MiB (native: 400 past 16 KiB, as §4.4 has always answered)
    400  not JSON, or not the route's format at all (naming the field)
    200  native: `{"ok": true, "channel", "ts"}`;
         webhooks: `{"ok": true, "results": [{"fingerprint", "ok", "ts" | "error"}]}`, one per
         alert, skipped ones included: one bad alert never fails its group
    503  webhooks only: Slack or the database could not be reached, so the tool should retry
         (Alertmanager retries 5xx at once with backoff; every alert is keyed, so a retried
         group updates what already went through). Never for bad data.

Answer bodies stay short and plain: Alertmanager writes them into its log.
"""

from __future__ import annotations

import hmac
import json
import logging
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
from slack_sdk.errors import SlackApiError

from bot.alerts.board import AlertBoard, Shown, ShownAs
from bot.alerts.formats import Batch, Format, Notice
from bot.asgi import BodyTooLargeError, Receive, Scope, Send, headers_of, read_body, respond_json
from bot.errors import BotError, InvalidFieldError
from bot.metrics import Metrics

__all__ = ["REFUSED", "AlertsEndpoint", "TokenBucket"]

logger = logging.getLogger(__name__)

SLACK_TRANSIENT_ERRORS: Final = frozenset(
    {"ratelimited", "internal_error", "fatal_error", "service_unavailable", "request_timeout"}
)
"""Slack's answers that mean "later", not "never": the tool should send the group again."""
REFUSED: Final = "refused"
"""The `result` label for a request refused as a whole (401, 429, 413, 400)."""


Answer = tuple[int, dict[str, Any]]
"""An HTTP status and its JSON body."""


class TokenBucket:
    """The alert endpoints' rate limit (per process, shared by every format)."""

    def __init__(self, rate_per_s: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self._rate, self._burst, self._clock = rate_per_s, float(burst), clock
        self._tokens, self._at = float(burst), clock()

    def take(self) -> bool:
        """Spend one token if there is one."""
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._at) * self._rate)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class _TryAgainError(Exception):
    """Slack or the store could not be reached for one alert: the rest would fail the same."""


@dataclass
class AlertsEndpoint:
    """`POST` one alert format.

    Attributes:
        format: the body format this route takes.
        tokens: the accepted Bearer tokens (`VS_ALERTS_TOKEN`).
        board: shows each alert in Slack.
        bucket: the shared rate limit.
        metrics: counts each alert by format and result.
        default_channel: `VS_ALERTS_DEFAULT_CHANNEL`, for alerts without `slack_channel`.
    """

    format: Format
    tokens: tuple[str, ...]
    board: AlertBoard
    bucket: TokenBucket
    metrics: Metrics
    default_channel: str | None = None

    def authorized(self, header: str | None) -> bool:
        """Bearer token check, constant time against each accepted token (rotation)."""
        scheme, _, presented = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not presented:
            return False
        matches = [hmac.compare_digest(presented.encode(), t.encode()) for t in self.tokens]
        return any(matches)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        status, answer = await self._answer(scope, receive)
        await respond_json(send, status, answer)

    def _refused(self, status: int, error: str, **more: str) -> Answer:
        self.metrics.alerts_total.labels(source=self.format.name, result=REFUSED).inc()
        return status, {"ok": False, "error": error, **more}

    async def _answer(self, scope: Scope, receive: Receive) -> Answer:
        headers = headers_of(scope)
        if not self.authorized(headers.get("authorization")):
            return self._refused(401, "invalid or missing bearer token")
        if not self.bucket.take():
            return self._refused(429, "too many alerts; slow down")
        batch_or_error = await self._read(headers, receive)
        if isinstance(batch_or_error, tuple):
            return batch_or_error
        if not self.format.per_alert:
            return await self._one(batch_or_error.notices[0])
        return await self._each(batch_or_error)

    async def _read(self, headers: dict[str, str], receive: Receive) -> Batch | Answer:
        limit = self.format.max_bytes
        if not self.format.per_alert and not headers.get("content-type", "").startswith(
            "application/json"
        ):
            return self._refused(400, "body: must be application/json")
        try:
            raw = await read_body(receive, limit)
            return self.format.parse(json.loads(raw), self.default_channel)
        except BodyTooLargeError:
            status = 413 if self.format.per_alert else 400
            return self._refused(status, f"body: larger than {limit} bytes")
        except InvalidFieldError as exc:
            return self._refused(400, str(exc), field=exc.field)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return self._refused(400, "body: not valid JSON")

    async def _one(self, notice: Notice) -> Answer:
        """A native alert: §4.4's answer, and 502 naming Slack's error when it refused."""
        assert notice.alert is not None  # noqa: S101 - the native parser raises instead
        try:
            shown = await self.board.show(notice.alert)
        except SlackApiError as exc:
            self._count(ShownAs.FAILED)
            error = str(exc.response.get("error", "error"))
            return 502, {"ok": False, "error": f"slack: {error}"}
        self._count(shown.shown_as)
        return 200, {"ok": True, "channel": notice.alert.channel, "ts": shown.ts}

    async def _each(self, batch: Batch) -> Answer:
        results: list[dict[str, Any]] = []
        tally: Counter[ShownAs] = Counter()
        retry = None
        for notice in batch.notices:
            result: dict[str, Any] = {"fingerprint": notice.fingerprint}
            results.append(result)
            if retry is not None:
                result.update(ok=False, error="not tried: " + retry)
                continue
            if notice.alert is None:
                tally[ShownAs.SKIPPED] += 1
                result.update(ok=False, error=notice.error)
                continue
            try:
                shown = await self._show(notice)
            except _TryAgainError as exc:
                retry = str(exc)
                tally[ShownAs.FAILED] += 1
                result.update(ok=False, error=retry)
                continue
            except SlackApiError as exc:
                tally[ShownAs.FAILED] += 1
                result.update(ok=False, error=f"slack: {exc.response.get('error', 'error')}")
                continue
            tally[shown.shown_as] += 1
            result.update(ok=True, ts=shown.ts)
        for shown_as, count in tally.items():
            self._count(shown_as, count)
        self._log(batch, tally, results)
        if retry is not None:
            return 503, {"ok": False, "error": f"{retry}; send again", "results": results}
        return 200, {"ok": True, "results": results}

    async def _show(self, notice: Notice) -> Shown:
        assert notice.alert is not None  # noqa: S101 - checked by the caller
        try:
            return await self.board.show(notice.alert)
        except SlackApiError as exc:
            error = str(exc.response.get("error", "error"))
            if error in SLACK_TRANSIENT_ERRORS:
                raise _TryAgainError(f"slack: {error}") from exc
            raise
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise _TryAgainError("slack could not be reached") from exc
        except BotError as exc:  # the store's AuditReadError / AuditWriteError
            logger.warning("alert store unavailable: %s", exc)
            raise _TryAgainError("the database could not be reached") from exc

    def _count(self, shown_as: ShownAs, count: int = 1) -> None:
        self.metrics.alerts_total.labels(source=self.format.name, result=shown_as.value).inc(count)

    def _log(self, batch: Batch, tally: Counter[ShownAs], results: list[dict[str, Any]]) -> None:
        counts = ", ".join(f"{n} {shown_as.value}" for shown_as, n in sorted(tally.items()))
        logger.info("%s: %d alerts: %s", self.format.name, len(batch.notices), counts or "none")
        skipped = [r["error"] for r in results if not r.get("ok")]
        if skipped:
            logger.warning("%s: not shown: %s", self.format.name, "; ".join(skipped[:3]))
        if batch.truncated:
            logger.warning(
                "%s: the sender left out %d alerts (max_alerts); they will not be shown",
                self.format.name,
                batch.truncated,
            )
