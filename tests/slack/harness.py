"""The in-process level: the real runtime in the test's own event loop, driven by signed requests.

As in bolt-python's `tests/scenario_tests_async/`: the composition root (`open_runtime`) builds
the real app, router, audit store and supervisor; requests signed with the bot's secret go
through the ASGI application (`httpx.ASGITransport`, no socket); the stub Slack and the fake
VectorShift serve on 127.0.0.1 in the same loop. Tests await `bot.idle()` (the supervisor's
`wait_idle()`) instead of sleeping, then assert on what the stub Slack recorded.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.app import Runtime, open_runtime
from bot.config import Secret, Settings
from devkit.fakes import FakeSlack, FakeVectorShift, RunScript
from devkit.payloads import SlackClient
from devkit.scenario import AUDIT, INCIDENTS, PIPELINE_ID, POLICY, make_fakes

SIGNING_SECRET = "in-process-signing-secret"
BOT_TOKEN = "xoxb-in-process-0000"
ALERTS_TOKEN = "in-process-alerts-token-0123"
HMAC_KEY = "in-process-hmac-key"
BASE_URL = "http://bot.test"


async def no_sleep(_seconds: float) -> None:
    """Verification pauses cost nothing in-process; the polls themselves still happen."""


@dataclass
class InProcessBot:
    """A running runtime and the fakes it talks to."""

    runtime: Runtime
    slack: FakeSlack
    vectorshift: FakeVectorShift
    workdir: Path

    def client(self) -> SlackClient:
        """A signed-request client whose requests go straight into the ASGI app."""
        return SlackClient(
            BASE_URL,
            SIGNING_SECRET,
            self.slack,
            transport=httpx.ASGITransport(app=self.runtime.asgi),
        )

    def http(self) -> httpx.AsyncClient:
        """A plain HTTP client on the ASGI app (healthz, metrics, alerts)."""
        return httpx.AsyncClient(
            base_url=BASE_URL, transport=httpx.ASGITransport(app=self.runtime.asgi)
        )

    def add_run(
        self, run_id: str, script: RunScript = RunScript.SUCCEEDS, pipeline_id: str = PIPELINE_ID
    ) -> str:
        """Script a run on the fake VectorShift; returns its id."""
        self.vectorshift.add_run(pipeline_id, run_id, script)
        return run_id

    async def idle(self, timeout_s: float = 20) -> None:
        """Wait until every post-ack task the requests started has finished."""
        await self.runtime.tasks.wait_idle(timeout_s)

    async def healthz(self) -> int:
        """The status of `GET /healthz`."""
        async with self.http() as http:
            return (await http.get("/healthz")).status_code

    async def audit_records(self, **filters: Any) -> list[dict[str, object]]:
        """What `audit export` would print, as dicts."""
        return await self.runtime.repository.export(**filters)

    async def post_alert(
        self,
        body: Mapping[str, object] | str,
        *,
        token: str = ALERTS_TOKEN,
        path: str = "/api/alerts",
    ) -> tuple[int, dict[str, Any]]:
        """`POST /api/alerts` as an alerting tool would; returns status and JSON body."""
        data = body if isinstance(body, str) else json.dumps(body)
        async with self.http() as http:
            response = await http.post(
                path,
                content=data.encode(),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
        return response.status_code, response.json() if response.content else {}


def settings_for(
    slack: FakeSlack,
    vectorshift: FakeVectorShift,
    *,
    database_url: str,
    policy_file: Path,
    audit_channel: str | None = AUDIT,
    socket_mode: bool = False,
) -> Settings:
    """Settings pointing every outbound call at the fakes."""
    return Settings(
        slack_bot_token=Secret(BOT_TOKEN),
        vectorshift_api_key=Secret(vectorshift.api_key),
        slack_signing_secret=None if socket_mode else Secret(SIGNING_SECRET),
        slack_app_token=Secret("xapp-1-in-process") if socket_mode else None,
        slack_api_url=slack.api_url,
        vectorshift_base_url=vectorshift.base_url,
        database_url=database_url,
        policy_file=policy_file,
        audit_channel=audit_channel,
        audit_hmac_key=Secret(HMAC_KEY),
        alerts_tokens=(Secret(ALERTS_TOKEN),),
        alerts_default_channel=INCIDENTS,
        host="127.0.0.1",
    )


@asynccontextmanager
async def running_bot(
    workdir: Path,
    database_url: str,
    *,
    policy: str = POLICY,
    fakes: tuple[FakeSlack, FakeVectorShift] | None = None,
    audit_channel: str | None = AUDIT,
    verify_delays_s: Sequence[float] = (0.0, 0.0, 0.0),
    socket_mode: bool = False,
    **options: Any,
) -> AsyncIterator[InProcessBot]:
    """Serve the fakes in this loop and open the real runtime against them."""
    slack, vectorshift = fakes or make_fakes()
    policy_file = workdir / "policy.toml"
    policy_file.write_text(policy, encoding="utf-8")
    async with AsyncExitStack() as stack:
        await stack.enter_async_context(slack.serve())
        await stack.enter_async_context(vectorshift.serve())
        settings = settings_for(
            slack,
            vectorshift,
            database_url=database_url,
            policy_file=policy_file,
            audit_channel=audit_channel,
            socket_mode=socket_mode,
        )
        options.setdefault("sleep", no_sleep)
        options.setdefault("channel_interval_s", 0.0)
        options.setdefault("periodic", False)
        runtime = await stack.enter_async_context(
            open_runtime(
                settings, verify_delays_s=verify_delays_s, socket_mode=socket_mode, **options
            )
        )
        # What the real process does first at startup (its periodic jobs are off here).
        await runtime.deps.directory.refresh_all()
        yield InProcessBot(runtime, slack, vectorshift, workdir)
