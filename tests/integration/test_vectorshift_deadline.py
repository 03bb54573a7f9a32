"""One deadline bounds a run action: no per-phase read timeout cuts it short, and the wait is told.

A respx route cannot time out by itself (timeouts are the transport's job), so the routes here
behave like a transport would: they read the timeouts httpx put on the request and either answer
after the scripted delay or raise `ReadTimeout` when the read timeout is shorter, moving an
injected clock instead of sleeping. One test uses a real short deadline, and one a real loopback
server behind the production transport, to show the same without simulation.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import respx
from aiohttp import web

from bot.domain import Action, ActionResult
from bot.transport import VectorShiftTransport
from bot.vectorshift import DeadlineExceededError, VectorShiftClient, default_timeout
from devkit.fakes.runner import serve_in_loop

BASE = "http://127.0.0.1:8765/v1"
KEY = "vs-key-7f3a9c1e5b2d4f60a8e1"
PIPELINE = "65f1c0ffee0123456789abcd"
RUN = "66aa00bb11cc22dd33ee44ff"
SUCCESS = {"status": "success"}
TLS = ssl.create_default_context()


@dataclass
class FakeTime:
    """A clock that moves only when told to or when the client sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def answers_after(fake_time: FakeTime, delay_s: float) -> Callable[[httpx.Request], httpx.Response]:
    """A side effect answering success after `delay_s`, unless the read timeout ends first."""

    def respond(request: httpx.Request) -> httpx.Response:
        read_timeout = request.extensions["timeout"]["read"]
        if read_timeout is not None and read_timeout < delay_s:
            fake_time.now += read_timeout
            raise httpx.ReadTimeout("timed out", request=request)
        fake_time.now += delay_s
        return httpx.Response(200, json=SUCCESS)

    return respond


@pytest.fixture(params=list(Action), ids=str)
def action(request: pytest.FixtureRequest) -> Action:
    """Each run action in turn: they share one retry loop, so they share one deadline."""
    value: Action = request.param
    return value


def action_path(action: Action) -> str:
    return f"/pipeline/{PIPELINE}/{action}"


async def act(client: VectorShiftClient, action: Action, deadline_s: float) -> ActionResult:
    method = {
        Action.TERMINATE: client.terminate_run,
        Action.PAUSE: client.pause_run,
        Action.RESUME: client.resume_run,
    }[action]
    return await method(pipeline_id=PIPELINE, run_id=RUN, deadline_s=deadline_s)


@pytest.fixture
def api() -> Iterator[respx.MockRouter]:
    with respx.mock(base_url=BASE, assert_all_called=True) as router:
        yield router


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=default_timeout(), verify=TLS) as client:
        yield client


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def client(http: httpx.AsyncClient, fake_time: FakeTime) -> VectorShiftClient:
    return VectorShiftClient(
        http,
        base_url=BASE,
        api_key=KEY,
        sleep=fake_time.sleep,
        jitter=lambda: 0.5,
        clock=fake_time.clock,
    )


def stated_seconds(error: DeadlineExceededError) -> float:
    found = re.search(r"did not answer within ([0-9.]+) s", str(error))
    assert found is not None, str(error)
    return float(found.group(1))


async def test_a_slow_answer_inside_the_deadline_is_not_cut_by_the_default_read_timeout(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=answers_after(fake_time, 9.0)
    )

    result = await act(client, action, 10.0)

    assert result == ActionResult(action, 200, "success", attempts=1)
    assert route.call_count == 1
    assert fake_time.now == 1009.0


async def test_a_hung_action_waits_the_whole_deadline_and_says_how_long_it_waited(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=answers_after(fake_time, 30.0)
    )

    with pytest.raises(DeadlineExceededError) as caught:
        await act(client, action, 10.0)

    assert route.call_count == 1
    assert caught.value.waited_s == 10.0
    assert caught.value.outcome_known is False
    assert str(caught.value) == "VectorShift did not answer within 10 s (ReadTimeout: timed out)"


async def test_an_action_gives_read_and_write_the_deadline_and_keeps_connect_and_pool_caps(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(200, json=SUCCESS)

    await act(client, action, 20.0)

    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 3.0, "read": 20.0, "write": 20.0, "pool": 2.0}


async def test_a_deadline_shorter_than_the_connect_timeout_caps_every_phase(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(200, json=SUCCESS)

    await act(client, action, 1.5)

    timeout = route.calls.last.request.extensions["timeout"]
    assert timeout == {"connect": 1.5, "read": 1.5, "write": 1.5, "pool": 1.5}


async def test_after_a_retry_the_wait_counts_from_the_first_send(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    hang = answers_after(fake_time, 30.0)
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=[httpx.ConnectError("connection refused"), hang]
    )

    with pytest.raises(DeadlineExceededError) as caught:
        await act(client, action, 10.0)

    assert route.call_count == 2
    assert fake_time.sleeps == [0.5]
    assert route.calls.last.request.extensions["timeout"]["read"] == 9.5
    assert caught.value.waited_s == 10.0
    assert stated_seconds(caught.value) == 10


async def test_status_reads_keep_the_default_per_phase_timeouts(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime
) -> None:
    route = api.get(f"/pipeline/{PIPELINE}/run/status/{RUN}", name="status").mock(
        side_effect=answers_after(fake_time, 30.0)
    )

    with pytest.raises(DeadlineExceededError) as caught:
        await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert route.calls.last.request.extensions["timeout"] == {
        "connect": 3.0,
        "read": 8.0,
        "write": 5.0,
        "pool": 2.0,
    }
    assert caught.value.waited_s == 8.0
    assert str(caught.value) == "VectorShift did not answer within 8 s (ReadTimeout: timed out)"


async def test_a_server_that_never_answers_is_given_up_on_at_a_real_short_deadline(
    http: httpx.AsyncClient, action: Action
) -> None:
    never = asyncio.Event()
    received: list[httpx.Request] = []

    async def hang(request: httpx.Request) -> httpx.Response:
        received.append(request)
        await never.wait()
        return httpx.Response(200, json=SUCCESS)

    client = VectorShiftClient(http, base_url=BASE, api_key=KEY)
    # respx counts a call only once its side effect returns, and this one never does.
    with respx.mock(base_url=BASE, assert_all_called=False) as router:
        router.post(action_path(action), name=str(action)).mock(side_effect=hang)

        with pytest.raises(DeadlineExceededError) as caught:
            await act(client, action, 0.3)

    assert len(received) == 1
    assert caught.value.waited_s == pytest.approx(0.3, abs=0.1)
    assert caught.value.waited_s >= 0.29
    assert stated_seconds(caught.value) == pytest.approx(caught.value.waited_s, abs=0.01)
    assert caught.value.outcome_known is False


async def test_the_production_transport_waits_past_a_short_read_timeout_for_the_deadline() -> None:
    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(0.3)
        return web.json_response(SUCCESS)

    def make_app() -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/pipeline/{pipeline}/terminate", slow)
        return app

    impatient = httpx.Timeout(connect=1.0, read=0.1, write=1.0, pool=1.0)
    async with (
        serve_in_loop(make_app) as base,
        httpx.AsyncClient(transport=VectorShiftTransport()) as http,
    ):
        client = VectorShiftClient(http, base_url=f"{base}/v1", api_key=KEY, timeout=impatient)
        result = await client.terminate_run(pipeline_id=PIPELINE, run_id=RUN, deadline_s=2.0)

    assert (result.http_status, result.attempts) == (200, 1)
