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
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp
import httpx
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.alerts.board import AlertBoard, ShownAs
from bot.alerts.endpoint import REFUSED, AlertsEndpoint, TokenBucket
from bot.alerts.formats import FORMATS
from bot.attempts import upkeep
from bot.attempts.context import VERIFY_DELAYS_S, AttemptContext
from bot.attempts.execute import Execution
from bot.attempts.lifecycle import Outcome
from bot.audit.db import Database
from bot.audit.repository import AuditRepository
from bot.config import Settings
from bot.domain import Action
from bot.errors import BotError, ConfigError
from bot.metrics import Metrics
from bot.policy_store import PolicyStore
from bot.slack import flows, register
from bot.slack.delivery import CHANNEL_INTERVAL_S, Delivery, retry_handlers
from bot.slack.deps import Deps, Gate
from bot.slack.directory import Directory
from bot.slack.entry import GuardedSocketModeHandler
from bot.slack.error_handler import report
from bot.tasks import TaskSupervisor
from bot.transport import VectorShiftTransport
from bot.vectorshift import VectorShiftClient, default_timeout
from bot.web import Router

logger = logging.getLogger(__name__)

BACKGROUND_LIMIT = 512
"""Post-ack flows in flight at once; past this the app sheds new work with a "busy" answer."""
OPENING_LIMIT = 128
"""Modals acked but not yet open. Each now waits up to 0.6 s for its details so that it opens
complete (about 0.2 s with VectorShift healthy): at 160 modals/s some 35 wait at once, mostly on
VectorShift rather than the CPU. 128 leaves room for bursts while a real backlog (over 1 s of
work on 2 cores at the ~160 opens/s measured) is still answered "busy" rather than left to
miss Slack's 3-second trigger window."""
SLACK_TIMEOUT_S = 10
OUTBOUND_CONNECTIONS = 256
"""Connections open at once to Slack and to VectorShift, each. With aiohttp's default of 100,
flows past the 100th in flight queue for a free connection at every call; half of
BACKGROUND_LIMIT lets a burst's calls go out together, since most flows spend their time
waiting on VectorShift rather than holding a connection."""
DRAIN_S = 25.0
"""How long in-flight actions may take to finish at shutdown; Heroku allows 30 s after SIGTERM,
and what cannot finish is left pending for another instance's reconciliation (SPEC §6, §7)."""
REFUSED_TOKEN_ERRORS = frozenset(
    {
        "invalid_auth",
        "not_authed",
        "not_allowed_token_type",
        "account_inactive",
        "token_revoked",
        "token_expired",
    }
)
"""`apps.connections.open` errors that mean the app token itself is refused."""
APP_TOKEN_CHECK_S = 3.0
"""The startup check waits this long; a slow Slack delays neither `/healthz` nor the start."""
EXPIRY_SWEEP_S = 5.0
"""How often undecided approval requests past their timeout are expired (one indexed query)."""
ALERTS_PER_S = 2.0
ALERTS_BURST = 30
"""The alert endpoints' shared rate limit: a request (one alert, or one Alertmanager group) is
one token; 30 at once covers a restart's backlog of groups, 2/s a flood of a leaked token."""


class StartupError(BotError):
    """The runtime could not start (Slack unreachable, bad token, …)."""


@dataclass
class Runtime:
    """Everything a running bot is made of; `asgi` is what uvicorn serves."""

    settings: Settings
    app: AsyncApp
    asgi: Router
    socket: GuardedSocketModeHandler | None
    deps: Deps
    database: Database
    repository: AuditRepository
    attempts: AttemptContext
    policy: PolicyStore
    tasks: TaskSupervisor
    metrics: Metrics


def start_counters_at_zero(metrics: Metrics) -> None:
    """Every attempt and alert series exists from the start, so `rate()` works from event one."""
    metrics.start_at_zero(
        metrics.attempts_total, action=[a.value for a in Action], outcome=[o.value for o in Outcome]
    )
    metrics.start_at_zero(
        metrics.alerts_total,
        source=list(FORMATS),
        result=[*(r.value for r in ShownAs), REFUSED],
    )


class _MeteredTransport(httpx.AsyncBaseTransport):
    """Times and counts every VectorShift call, by operation and HTTP status or `"error"`.

    In the transport rather than in httpx's event hooks: a timeout, a refused connection or the
    deadline cancelling a call reaches no response hook and would leave no trace in `/metrics`,
    and one wrapper costs each call less than two hook coroutines besides it.
    """

    def __init__(self, inner: httpx.AsyncBaseTransport, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        operation = _operation(request)
        started = time.perf_counter()
        try:
            response = await self._inner.handle_async_request(request)
        except (httpx.TransportError, asyncio.CancelledError):
            self._metrics.vectorshift_requests_total.labels(
                operation=operation, status="error"
            ).inc()
            raise
        self._metrics.vectorshift_requests_total.labels(
            operation=operation, status=str(response.status_code)
        ).inc()
        self._metrics.vectorshift_latency_seconds.labels(operation=operation).observe(
            time.perf_counter() - started
        )
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


def _operation(request: httpx.Request) -> str:
    path = request.url.path
    for action in ("terminate", "pause", "resume"):
        if path.endswith(f"/{action}"):
            return action
    if "/run/status/" in path:
        return "run_status"
    return "pipeline_lookup"


async def _check_app_token(client: AsyncWebClient, app_token: str) -> None:
    """Ask Slack for a Socket Mode URL once, so a refused app token stops the start at once.

    slack_sdk's own connect retries a refused token every few seconds for ever; here it is a
    configuration error (exit 2). Slack being unreachable is not: the connection retries.

    Raises:
        ConfigError: Slack refused the token.
    """
    try:
        async with asyncio.timeout(APP_TOKEN_CHECK_S):
            await client.apps_connections_open(app_token=app_token)
    except SlackApiError as exc:
        error = str(exc.response.get("error", "error"))
        if error in REFUSED_TOKEN_ERRORS:
            raise ConfigError(
                [f"SLACK_APP_TOKEN was refused by Slack ({error}); check the app-level token"]
            ) from None
        logger.warning("could not check SLACK_APP_TOKEN yet (%s); connecting anyway", error)
    except (aiohttp.ClientError, TimeoutError) as exc:
        logger.warning("could not reach Slack to check SLACK_APP_TOKEN (%s)", type(exc).__name__)


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
    channel_interval_s: float = CHANNEL_INTERVAL_S,
    heartbeat_s: float = upkeep.HEARTBEAT_INTERVAL_S,
    heartbeat_lapse_s: float = upkeep.HEARTBEAT_LAPSE_S,
    drain_s: float = DRAIN_S,
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
        channel_interval_s: the least time between two posts to one channel.
        heartbeat_s: how often this instance renews its heartbeat and sweeps for orphans.
        heartbeat_lapse_s: how old another instance's heartbeat must be before its pending
            attempts are reconciled.
        drain_s: how long in-flight work may take to finish when the runtime closes.

    Raises:
        StartupError: Slack's `auth.test` failed, or HTTP mode lacks a signing secret.
        ConfigError: in Socket Mode, Slack refused `SLACK_APP_TOKEN`.
        PolicyFileError: the policy file exists but is invalid.
    """
    signing_secret = settings.slack_signing_secret
    if not socket_mode and signing_secret is None:
        # HTTP mode never runs unverified: anyone reaching the port could act as any user.
        raise StartupError("HTTP mode needs SLACK_SIGNING_SECRET to verify Slack's requests")
    async with AsyncExitStack() as stack:
        metrics = Metrics()
        start_counters_at_zero(metrics)
        database = Database.open(settings.database_url)
        stack.push_async_callback(database.close)
        policy = PolicyStore(settings.policy_file)
        policy.load_initial()

        session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=SLACK_TIMEOUT_S),
            connector=aiohttp.TCPConnector(limit=OUTBOUND_CONNECTIONS),
        )
        stack.push_async_callback(session.close)
        client = AsyncWebClient(
            token=settings.slack_bot_token.get(),
            base_url=settings.slack_api_url,
            session=session,
            timeout=SLACK_TIMEOUT_S,
            retry_handlers=retry_handlers(),
        )
        http = httpx.AsyncClient(
            transport=_MeteredTransport(
                VectorShiftTransport(limits=httpx.Limits(max_connections=OUTBOUND_CONNECTIONS)),
                metrics,
            ),
            timeout=default_timeout(),
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
            # Middleware for what this app never receives runs on every request otherwise:
            # Events API url_verification and self-event filtering (the app subscribes to no
            # events) and function tokens (no workflow functions). SSL checks stay on.
            url_verification_enabled=False,
            ignoring_self_events_enabled=False,
            attaching_function_token_enabled=False,
        )

        repository = AuditRepository(
            database,
            hmac_key=settings.audit_hmac_key.get().encode() if settings.audit_hmac_key else None,
            clock=clock,
        )
        directory = Directory(
            client,
            team_id=auth.get("team_id"),
            enterprise_id=auth.get("enterprise_id") or None,
            policy=lambda: policy.current,
        )
        attempts = AttemptContext(
            vectorshift=VectorShiftClient(
                http,
                base_url=settings.vectorshift_base_url,
                api_key=settings.vectorshift_api_key.get(),
            ),
            audit=repository,
            directory=directory,
            policy=lambda: policy.current,
            base_url=settings.vectorshift_base_url,
            instance_id=uuid.uuid4().hex[:16],
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
            channel_interval_s=channel_interval_s,
        )

        async def tell_user(exc: BaseException, _name: str, about: object) -> None:
            await report(exc, about, delivery, client)

        tasks = TaskSupervisor(on_error=tell_user, limit=background_limit, metrics=metrics)
        deps = Deps(
            attempts=attempts,
            delivery=delivery,
            directory=directory,
            client=client,
            tasks=tasks,
            metrics=metrics,
            opening=Gate(opening_limit),
        )
        register(app, deps)
        alerts: list[AlertsEndpoint] = []
        if settings.alerts_tokens:
            board = AlertBoard(repository, delivery)
            bucket = TokenBucket(rate_per_s=ALERTS_PER_S, burst=ALERTS_BURST)
            alerts = [
                AlertsEndpoint(
                    format=alert_format,
                    tokens=tuple(t.get() for t in settings.alerts_tokens),
                    board=board,
                    bucket=bucket,
                    metrics=metrics,
                    default_channel=settings.alerts_default_channel,
                )
                for alert_format in FORMATS.values()
            ]
        router = Router(
            slack=None if socket_mode else app,
            health=database.ping,
            metrics=metrics,
            alerts=alerts,
        )

        async def announce_all(executions: list[Execution]) -> None:
            for execution in executions:
                await delivery.announce(execution)

        lapse = timedelta(seconds=heartbeat_lapse_s)

        async def keep_alive() -> None:
            # The heartbeat first: an instance must never look dead to itself or others while
            # it sweeps; then whatever dead instances left pending.
            await upkeep.heartbeat(attempts)
            await announce_all(await upkeep.reconcile(attempts, lapse=lapse))

        async def sweep() -> None:
            await upkeep.sweep_abandoned(attempts)

        async def checkpoint() -> None:
            count, head = await repository.chain_head()
            await delivery.post_checkpoint(count, head)

        async def expire() -> None:
            # Any instance may expire a request; the row lock lets exactly one of them do it.
            await flows.expire_overdue(deps)

        async def reload_policy() -> None:
            # stat() and, on change, a file read: kept off the event loop.
            await asyncio.to_thread(policy.reload_if_changed)

        await upkeep.heartbeat(attempts)
        stack.push_async_callback(repository.retire, attempts.instance_id)
        socket = None
        if socket_mode:
            app_token = settings.slack_app_token.get() if settings.slack_app_token else ""
            await _check_app_token(client, app_token)
            socket = GuardedSocketModeHandler(app, app_token=app_token, web_client=client)
            # Pushed last, so it runs first once the drain is over: the WebSocket stays open
            # while in-flight work finishes (its acks still need it), then closes cleanly.
            stack.push_async_callback(socket.close)
            tasks.service(socket.connect(), name="socket_mode")
        if periodic:
            tasks.spawn(directory.refresh_all(), name="membership_warmup")
            tasks.spawn(keep_alive(), name="reconcile_at_start")
            tasks.every(heartbeat_s, keep_alive, name="heartbeat")
            tasks.every(2.0, reload_policy, name="policy_reload")
            tasks.every(120.0, directory.refresh_all, name="membership_refresh")
            tasks.every(60.0, sweep, name="abandon_sweep")
            tasks.every(EXPIRY_SWEEP_S, expire, name="approval_expiry")
            tasks.every(3600.0, checkpoint, name="chain_checkpoint")
        try:
            yield Runtime(
                settings=settings,
                app=app,
                asgi=router,
                socket=socket,
                deps=deps,
                database=database,
                repository=repository,
                attempts=attempts,
                policy=policy,
                tasks=tasks,
                metrics=metrics,
            )
        finally:
            await tasks.drain(timeout_s=drain_s)
