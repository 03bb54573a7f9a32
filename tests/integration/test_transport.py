"""The aiohttp-backed transport keeps "not sent" and "sent, outcome unknown" apart (terminate safety)."""

from __future__ import annotations

import socket

import httpx
import pytest
from aiohttp import web

from bot.transport import VectorShiftTransport
from bot.vectorshift import DeadlineExceededError, NotSentError, VectorShiftClient
from devkit.fakes.runner import serve_in_loop

PIPELINE = "65f1c0ffee0123456789abcd"


def make_app(received: list[str]) -> web.Application:
    async def terminate(request: web.Request) -> web.StreamResponse:
        received.append(await request.text())
        if request.match_info["pipeline"] == "drop":
            assert request.transport is not None
            request.transport.close()  # the request arrived; the answer never will
            return web.Response()
        return web.json_response({"status": "success"})

    app = web.Application()
    app.router.add_post("/v1/pipeline/{pipeline}/terminate", terminate)
    return app


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def fast_sleep(_: float) -> None:
    return None


async def test_a_connection_dropped_after_sending_is_an_unknown_outcome_and_never_retried() -> None:
    received: list[str] = []
    async with (
        serve_in_loop(make_app(received)) as base,
        httpx.AsyncClient(transport=VectorShiftTransport()) as http,
    ):
        client = VectorShiftClient(http, base_url=f"{base}/v1", api_key="k", sleep=fast_sleep)
        with pytest.raises(DeadlineExceededError) as caught:
            await client.terminate_run(pipeline_id="drop", run_id="r1", deadline_s=5)
    assert caught.value.outcome_known is False
    assert received == ['{"run_id":"r1"}']


async def test_a_refused_connection_is_provably_not_sent() -> None:
    async with httpx.AsyncClient(transport=VectorShiftTransport()) as http:
        client = VectorShiftClient(
            http, base_url=f"http://127.0.0.1:{closed_port()}/v1", api_key="k", sleep=fast_sleep
        )
        with pytest.raises(NotSentError) as caught:
            await client.terminate_run(pipeline_id=PIPELINE, run_id="r1", deadline_s=5)
    assert caught.value.outcome_known is True


async def test_answers_pass_through_unchanged() -> None:
    received: list[str] = []
    async with (
        serve_in_loop(make_app(received)) as base,
        httpx.AsyncClient(transport=VectorShiftTransport()) as http,
    ):
        client = VectorShiftClient(http, base_url=f"{base}/v1", api_key="k")
        result = await client.terminate_run(pipeline_id=PIPELINE, run_id="r2", deadline_s=5)
    assert (result.http_status, result.api_status, result.attempts) == (200, "success", 1)
    assert received == ['{"run_id":"r2"}']
