"""Composition root: builds the runtime from `Settings` and tears it down (STYLE §4 "app").

`open_runtime()` is the only place that constructs clients, the database, the Bolt app and the
service, wires them together and starts the periodic jobs; tests and the benchmark pass seams
(clock, sleep, verification delays) instead of patching. The Slack client is given a shared
aiohttp session and a rate-limit retry handler once, because Bolt copies both into the
per-request clients it builds. `auth.test` is called once here; Bolt's `authorize` returns that
cached result, so no request waits on it.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler
from slack_sdk.web.async_client import AsyncWebClient

from bot.audit.db import Database
from bot.audit.repository import AuditRepository
from bot.config import Settings
from bot.errors import BotError
from bot.metrics import Metrics
from bot.policy_store import PolicyStore
from bot.slack import register
from bot.slack.delivery import Delivery
from bot.slack.deps import Deps, Gate
from bot.slack.directory import Directory
from bot.tasks import TaskSupervisor
from bot.terminate import Execution, TerminateService
from bot.transport import VectorShiftTransport
from bot.vectorshift import VectorShiftClient, default_timeout
from bot.web import AlertsEndpoint, Router, TokenBucket

logger = logging.getLogger(__name__)

BACKGROUND_LIMIT = 512
"""Post-ack flows in flight at once; past this the app sheds new work with a "busy" answer."""
OPENING_LIMIT = 64
"""Modals acked but not yet open. A healthy bot has a handful; at the ~40 opens/s measured on
2 cores, a queue of 64 is ~1.6 s, so later ones could miss Slack's 3-second trigger window and
are answered "busy" instead."""
SLACK_TIMEOUT_S = 10
VERIFY_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 15.0)
"""Pauses before each verification poll after a terminate (SPEC §4.3)."""


class StartupError(BotError):
    """The runtime could not start (Slack unreachable, bad token, …)."""


@dataclass
class Runtime:
    """Everything a running bot is made of; `asgi` is what uvicorn serves."""

    settings: Settings
    app: AsyncApp
    asgi: Router
    deps: Deps
    database: Database
    repository: AuditRepository
    policy: PolicyStore
    tasks: TaskSupervisor
    metrics: Metrics


def _vectorshift_hooks(metrics: Metrics) -> dict[str, list[Callable[..., Awaitable[None]]]]:
    """httpx event hooks that time every VectorShift call and count its status."""

    async def on_request(request: httpx.Request) -> None:
        request.extensions["vs_started"] = time.perf_counter()

    async def on_response(response: httpx.Response) -> None:
        started = response.request.extensions.get("vs_started")
        operation = _operation(response.request)
        metrics.vectorshift_requests_total.labels(
            operation=operation, status=str(response.status_code)
        ).inc()
        if isinstance(started, float):
            metrics.vectorshift_latency_seconds.labels(operation=operation).observe(
                time.perf_counter() - started
            )

    return {"request": [on_request], "response": [on_response]}


def _operation(request: httpx.Request) -> str:
    path = request.url.path
    if path.endswith("/terminate"):
        return "terminate"
    if "/run/status/" in path:
        return "run_status"
    return "pipeline_lookup"


async def _auth_test(client: AsyncWebClient) -> dict[str, Any]:
    try:
        response = await client.auth_test()
    except Exception as exc:
        raise StartupError(
            f"Slack auth.test failed ({type(exc).__name__}); "
            "check SLACK_BOT_TOKEN and SLACK_API_URL"
        ) from None
    return dict(response.data) if isinstance(response.data, dict) else {}


@asynccontextmanager
async def open_runtime(
    settings: Settings,
    *,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    verify_delays_s: Sequence[float] | None = None,
    deadline_s: float = 10.0,
    background_limit: int = BACKGROUND_LIMIT,
    opening_limit: int = OPENING_LIMIT,
    periodic: bool = True,
    socket_mode: bool = False,
) -> AsyncIterator[Runtime]:
    """Build the runtime, start its periodic jobs, and tear everything down on exit.

    Args:
        settings: the validated configuration.
        clock: wall-clock time (UTC), replaced in tests.
        sleep: sleep used between verification polls.
        verify_delays_s: pauses before each verification poll; SPEC's 1, 2, 4, 8, 15 s by default.
        deadline_s: overall deadline for the terminate call.
        background_limit: post-ack flows in flight before new ones are shed.
        opening_limit: confirmation modals acked but not yet open before new ones get "busy".
        periodic: False to skip the periodic jobs (tests that drive them by hand).
        socket_mode: Slack traffic arrives over the WebSocket; `/slack/events` is not served.

    Raises:
        StartupError: Slack's `auth.test` failed.
        PolicyFileError: the policy file exists but is invalid.
    """
    signing_secret = settings.slack_signing_secret
    if not socket_mode and signing_secret is None:
        # HTTP mode never runs unverified: anyone reaching the port could act as any user.
        raise StartupError("HTTP mode needs SLACK_SIGNING_SECRET to verify Slack's requests")
    async with AsyncExitStack() as stack:
        metrics = Metrics()
        database = Database.open(settings.database_url)
        stack.push_async_callback(database.close)
        policy = PolicyStore(settings.policy_file)
        policy.load_initial()

        session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT_S))
        stack.push_async_callback(session.close)
        client = AsyncWebClient(
            token=settings.slack_bot_token.get(),
            base_url=settings.slack_api_url,
            session=session,
            timeout=SLACK_TIMEOUT_S,
            retry_handlers=[AsyncRateLimitErrorRetryHandler(max_retry_count=2)],
        )
        http = httpx.AsyncClient(
            transport=VectorShiftTransport(),
            timeout=default_timeout(),
            event_hooks=_vectorshift_hooks(metrics),
        )
        stack.push_async_callback(http.aclose)

        auth = await _auth_test(client)
        authorization = AuthorizeResult.from_auth_test_response(
            auth_test_response=auth,
            bot_token=settings.slack_bot_token.get(),
            user_token=None,
        )

        async def authorize() -> AuthorizeResult:
            return authorization

        app = AsyncApp(
            client=client,
            signing_secret=signing_secret.get() if signing_secret else None,
            authorize=authorize,
            process_before_response=True,
            # Bolt skips verification for Socket Mode envelopes by itself; in HTTP mode it
            # always verifies (the router serves no Slack route in Socket Mode at all).
            request_verification_enabled=not socket_mode,
        )

        repository = AuditRepository(
            database,
            hmac_key=settings.audit_hmac_key.get().encode() if settings.audit_hmac_key else None,
            clock=clock,
        )
        tasks = TaskSupervisor(limit=background_limit, metrics=metrics)
        directory = Directory(
            client,
            team_id=auth.get("team_id"),
            enterprise_id=auth.get("enterprise_id") or None,
            policy=lambda: policy.current,
        )
        service = TerminateService(
            vectorshift=VectorShiftClient(
                http,
                base_url=settings.vectorshift_base_url,
                api_key=settings.vectorshift_api_key.get(),
            ),
            audit=repository,
            directory=directory,
            policy=lambda: policy.current,
            base_url=settings.vectorshift_base_url,
            instance_id=f"{uuid.uuid4().hex[:12]}",
            clock=clock,
            sleep=sleep,
            deadline_s=deadline_s,
            verify_delays_s=verify_delays_s or VERIFY_DELAYS_S,
        )
        delivery = Delivery(
            client,
            session=session,
            audit_channel=settings.audit_channel,
            metrics=metrics,
            alerts=repository,
        )
        deps = Deps(
            service=service,
            delivery=delivery,
            directory=directory,
            client=client,
            tasks=tasks,
            metrics=metrics,
            alerts=repository,
            opening=Gate(opening_limit),
        )
        register(app, deps)
        alerts = None
        if settings.alerts_tokens:
            alerts = AlertsEndpoint(
                tokens=tuple(t.get() for t in settings.alerts_tokens),
                delivery=delivery,
                store=repository,
                bucket=TokenBucket(rate_per_s=2, burst=30),
            )
        router = Router(
            slack=None if socket_mode else app,
            health=database.ping,
            metrics=metrics,
            alerts=alerts,
        )

        async def announce_all(executions: list[Execution]) -> None:
            for execution in executions:
                await delivery.announce(execution)

        async def reconcile() -> None:
            await announce_all(await service.reconcile())

        async def sweep() -> None:
            await service.sweep_abandoned()

        async def checkpoint() -> None:
            count, head = await repository.chain_head()
            await delivery.post_checkpoint(count, head)

        async def reload_policy() -> None:
            # stat() and, on change, a file read: kept off the event loop.
            await asyncio.to_thread(policy.reload_if_changed)

        if periodic:
            tasks.spawn(directory.refresh_all(), name="membership_warmup")
            tasks.spawn(reconcile(), name="reconcile_at_start")
            tasks.every(2.0, reload_policy, name="policy_reload")
            tasks.every(120.0, directory.refresh_all, name="membership_refresh")
            tasks.every(60.0, sweep, name="abandon_sweep")
            tasks.every(60.0, reconcile, name="reconcile")
            tasks.every(3600.0, checkpoint, name="chain_checkpoint")
        try:
            yield Runtime(
                settings=settings,
                app=app,
                asgi=router,
                deps=deps,
                database=database,
                repository=repository,
                policy=policy,
                tasks=tasks,
                metrics=metrics,
            )
        finally:
            await tasks.drain(timeout_s=15)
