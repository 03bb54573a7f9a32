"""The VectorShift client against respx: every SPEC §1 status, retries, encoding, secrecy."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import httpx
import pytest
import respx

from bot.domain import Action, ActionResult, Pipeline, RunState, RunStatus
from bot.vectorshift import (
    KEY_CHECK_NAME,
    MAX_BODY_BYTES,
    USER_AGENT,
    APIError,
    AuthError,
    BadRequestError,
    ConnectionLostError,
    DeadlineExceededError,
    NotFoundError,
    NotSentError,
    OperationFailedError,
    RateLimitError,
    ServerError,
    VectorShiftClient,
    VectorShiftError,
    default_timeout,
)

BASE = "http://127.0.0.1:8765/v1"
KEY = "vs-key-7f3a9c1e5b2d4f60a8e1"
PIPELINE = "65f1c0ffee0123456789abcd"
RUN = "66aa00bb11cc22dd33ee44ff"
STATUS_PATH = f"/pipeline/{PIPELINE}/run/status/{RUN}"
FAILED_BODY = {"status": "failed", "error": "Run is not running"}
TLS = ssl.create_default_context()
"""Built once: loading CA certificates for every client would dominate these tests' runtime."""


@dataclass
class FakeTime:
    """A clock that only moves when the client sleeps; records every delay asked for."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


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


ACTIONS = list(Action)
DID_WHAT = {Action.TERMINATE: "stopped", Action.PAUSE: "paused", Action.RESUME: "resumed"}
"""How an unclear 2xx is described: "the answer did not say whether the run <did what>"."""


@pytest.fixture(params=ACTIONS, ids=str)
def action(request: pytest.FixtureRequest) -> Action:
    """Each run action in turn: they share one request path, so they share these tests."""
    value: Action = request.param
    return value


def action_path(action: Action, pipeline_id: str = PIPELINE) -> str:
    return f"/pipeline/{pipeline_id}/{action}"


def action_body(action: Action, run_id: str = RUN) -> dict[str, object]:
    """The body SPEC §1 gives each action: resume alone takes an array of run ids."""
    return {"run_ids": [run_id]} if action is Action.RESUME else {"run_id": run_id}


async def act(
    client: VectorShiftClient,
    action: Action,
    deadline_s: float = 10.0,
    *,
    pipeline_id: str = PIPELINE,
    run_id: str = RUN,
) -> ActionResult:
    method = {
        Action.TERMINATE: client.terminate_run,
        Action.PAUSE: client.pause_run,
        Action.RESUME: client.resume_run,
    }[action]
    return await method(pipeline_id=pipeline_id, run_id=run_id, deadline_s=deadline_s)


async def terminate(client: VectorShiftClient, deadline_s: float = 10.0) -> ActionResult:
    return await act(client, Action.TERMINATE, deadline_s)


# --- run actions: terminate, pause, resume -------------------------------------------------------


async def test_success_sends_one_authenticated_post_with_the_actions_body(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(200, json={"status": "success"})

    result = await act(client, action)

    assert result == ActionResult(action, http_status=200, api_status="success", attempts=1)
    request = route.calls.last.request
    assert route.call_count == 1
    assert json.loads(request.content) == action_body(action)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["accept"] == "application/json"
    assert request.headers["user-agent"] == USER_AGENT
    assert request.headers["content-type"] == "application/json"


async def test_resume_sends_the_run_id_inside_an_array(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    route = api.post(f"/pipeline/{PIPELINE}/resume", name="resume").respond(
        200, json={"status": "success"}
    )

    await client.resume_run(pipeline_id=PIPELINE, run_id=RUN, deadline_s=5.0)

    assert route.calls.last.request.content == b'{"run_ids":["' + RUN.encode() + b'"]}'


async def test_200_with_failed_status_raises_operation_failed_with_known_outcome(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    api.post(action_path(action), name=str(action)).respond(200, json=FAILED_BODY)

    with pytest.raises(OperationFailedError) as caught:
        await act(client, action)

    assert caught.value.status_code == 200
    assert caught.value.api_status == "failed"
    assert caught.value.message == "Run is not running"
    assert caught.value.outcome_known is True


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="<html>OK</html>"),
        httpx.Response(200, json=["success"]),
        httpx.Response(200, json={"result": "ok"}),
        httpx.Response(204),
    ],
    ids=["non-json", "json-list", "no-status", "204-empty"],
)
async def test_a_2xx_that_does_not_say_success_is_a_failure_of_unknown_outcome(
    api: respx.MockRouter,
    client: VectorShiftClient,
    fake_time: FakeTime,
    action: Action,
    response: httpx.Response,
) -> None:
    route = api.post(action_path(action), name=str(action)).mock(return_value=response)

    with pytest.raises(OperationFailedError) as caught:
        await act(client, action)

    assert route.call_count == 1
    assert fake_time.sleeps == []
    assert caught.value.status_code == response.status_code
    assert caught.value.api_status is None
    assert caught.value.message == f"the answer did not say whether the run {DID_WHAT[action]}"
    assert caught.value.outcome_known is False


async def test_400_raises_bad_request_carrying_the_api_error(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(
        400, json={"status": "failed", "error": "run_id is required"}
    )

    with pytest.raises(BadRequestError) as caught:
        await act(client, action)

    assert str(caught.value) == "HTTP 400: run_id is required"
    assert caught.value.api_status == "failed"
    assert caught.value.outcome_known is True
    assert route.call_count == 1


async def test_500_is_not_retried_and_carries_the_api_error(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(
        500, json={"status": "failed", "error": "internal error"}
    )

    with pytest.raises(ServerError) as caught:
        await act(client, action)

    assert route.call_count == 1
    assert fake_time.sleeps == []
    assert caught.value.status_code == 500
    assert caught.value.message == "internal error"
    assert caught.value.api_status == "failed"
    assert caught.value.outcome_known is True


@pytest.mark.parametrize("status", [502, 504])
async def test_gateway_errors_are_not_retried_and_leave_the_outcome_unknown(
    api: respx.MockRouter,
    client: VectorShiftClient,
    fake_time: FakeTime,
    action: Action,
    status: int,
) -> None:
    message = {502: "Bad Gateway", 504: "Gateway Timeout"}[status]
    route = api.post(action_path(action), name=str(action)).respond(
        status, html="<html><body><h1>" + message + "</h1></body></html>"
    )

    with pytest.raises(ServerError) as caught:
        await act(client, action)

    assert route.call_count == 1
    assert fake_time.sleeps == []
    assert caught.value.message == message
    assert caught.value.outcome_known is False


async def test_401_raises_auth_error_with_the_api_message(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    api.post(action_path(action), name=str(action)).respond(401, json={"error": "Invalid API key"})

    with pytest.raises(AuthError) as caught:
        await act(client, action)

    assert str(caught.value) == "HTTP 401: Invalid API key"
    assert caught.value.api_status is None
    assert caught.value.outcome_known is True


async def test_403_with_html_page_raises_auth_error(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    api.post(action_path(action), name=str(action)).respond(403, html="<h1>Forbidden</h1>")

    with pytest.raises(AuthError) as caught:
        await act(client, action)

    assert str(caught.value) == "HTTP 403: Forbidden"


async def test_404_raises_not_found(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    api.post(action_path(action), name=str(action)).respond(
        404, json={"error": "Pipeline not found"}
    )

    with pytest.raises(NotFoundError) as caught:
        await act(client, action)

    assert str(caught.value) == "HTTP 404: Pipeline not found"
    assert caught.value.outcome_known is True


async def test_unlisted_4xx_raises_bad_request(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    api.post(action_path(action), name=str(action)).respond(409, text="conflict: run is stopping")

    with pytest.raises(BadRequestError) as caught:
        await act(client, action)

    assert str(caught.value) == "HTTP 409: conflict: run is stopping"


@pytest.mark.parametrize("backoff", [(0.0, 0.25), (0.5, 0.5), (0.9, 0.7)], ids=str)
async def test_429_then_success_retries_after_a_jittered_backoff(
    api: respx.MockRouter,
    http: httpx.AsyncClient,
    fake_time: FakeTime,
    action: Action,
    backoff: tuple[float, float],
) -> None:
    jitter, expected_delay = backoff
    client = VectorShiftClient(
        http,
        base_url=BASE,
        api_key=KEY,
        sleep=fake_time.sleep,
        jitter=lambda: jitter,
        clock=fake_time.clock,
    )
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=[httpx.Response(429), httpx.Response(200, json={"status": "success"})]
    )

    result = await act(client, action)

    assert result == ActionResult(action, http_status=200, api_status="success", attempts=2)
    assert route.call_count == 2
    assert fake_time.sleeps == [pytest.approx(expected_delay)]


async def test_429_three_times_raises_rate_limit_after_three_sends(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(
        429, json={"error": "Rate limit exceeded"}
    )

    with pytest.raises(RateLimitError) as caught:
        await act(client, action)

    assert route.call_count == 3
    assert fake_time.sleeps == [0.5, 1.0]
    assert caught.value.message == "Rate limit exceeded"
    assert caught.value.retry_after is None
    assert caught.value.outcome_known is True


async def test_429_waits_at_least_the_servers_retry_after(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    api.post(action_path(action), name=str(action)).mock(
        side_effect=[
            httpx.Response(429, headers={"Retry-After": "2"}),
            httpx.Response(200, json={"status": "success"}),
        ]
    )

    result = await act(client, action)

    assert result.attempts == 2
    assert fake_time.sleeps == [2.0]


async def test_429_whose_retry_after_exceeds_the_deadline_is_raised_at_once(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(
        429, headers={"Retry-After": "30"}
    )

    with pytest.raises(RateLimitError) as caught:
        await act(client, action, deadline_s=10.0)

    assert route.call_count == 1
    assert fake_time.sleeps == []
    assert caught.value.retry_after == 30.0


async def test_503_then_success_is_retried(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    api.post(action_path(action), name=str(action)).mock(
        side_effect=[
            httpx.Response(503, text="Service Unavailable"),
            httpx.Response(200, json={"status": "success"}),
        ]
    )

    result = await act(client, action)

    assert result == ActionResult(action, http_status=200, api_status="success", attempts=2)
    assert fake_time.sleeps == [0.5]


async def test_503_three_times_raises_server_error_after_three_sends(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(503, text="Service Unavailable")

    with pytest.raises(ServerError) as caught:
        await act(client, action)

    assert route.call_count == 3
    assert fake_time.sleeps == [0.5, 1.0]
    assert str(caught.value) == "HTTP 503: Service Unavailable"
    assert caught.value.outcome_known is True


async def test_connect_error_is_retried_then_succeeds(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=[
            httpx.ConnectError("connection refused"),
            httpx.ConnectTimeout("connect timed out"),
            httpx.Response(200, json={"status": "success"}),
        ]
    )

    result = await act(client, action)

    assert result == ActionResult(action, http_status=200, api_status="success", attempts=3)
    assert route.call_count == 3
    assert fake_time.sleeps == [0.5, 1.0]


async def test_an_action_that_never_connects_raises_not_sent_with_known_outcome(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=httpx.ConnectError("connection refused")
    )

    with pytest.raises(NotSentError) as caught:
        await act(client, action)

    assert route.call_count == 3
    assert caught.value.outcome_known is True
    assert (
        str(caught.value) == "could not connect to VectorShift (ConnectError: connection refused)"
    )


async def test_read_timeout_is_not_retried_and_leaves_the_outcome_unknown(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=httpx.ReadTimeout("timed out")
    )

    with pytest.raises(DeadlineExceededError) as caught:
        await act(client, action)

    assert route.call_count == 1
    assert fake_time.sleeps == []
    assert caught.value.outcome_known is False
    assert caught.value.waited_s == 0.0
    assert str(caught.value) == "VectorShift did not answer within 0 s (ReadTimeout: timed out)"


async def test_connection_dropped_mid_request_is_not_retried(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=httpx.RemoteProtocolError("Server disconnected without sending a response.")
    )

    with pytest.raises(ConnectionLostError) as caught:
        await act(client, action)

    assert route.call_count == 1
    assert isinstance(caught.value, DeadlineExceededError)
    assert caught.value.outcome_known is False
    assert caught.value.waited_s == 0.0
    assert str(caught.value) == (
        "the connection to VectorShift broke mid-request "
        "(RemoteProtocolError: Server disconnected without sending a response.)"
    )


async def test_retrying_stops_when_the_deadline_cannot_fit_the_backoff(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).respond(503)

    with pytest.raises(ServerError) as caught:
        await act(client, action, deadline_s=0.6)

    assert route.call_count == 1
    assert fake_time.sleeps == []
    assert caught.value.status_code == 503


async def test_retries_only_as_often_as_the_deadline_allows(
    api: respx.MockRouter, client: VectorShiftClient, fake_time: FakeTime, action: Action
) -> None:
    route = api.post(action_path(action), name=str(action)).mock(
        side_effect=httpx.ConnectError("connection refused")
    )

    with pytest.raises(NotSentError):
        await act(client, action, deadline_s=1.0)

    assert route.call_count == 2
    assert fake_time.sleeps == [0.5]


@pytest.mark.parametrize("deadline_s", [0.0, -1.0, float("nan"), float("inf")])
async def test_a_deadline_that_is_not_a_positive_number_is_refused(
    api: respx.MockRouter, client: VectorShiftClient, action: Action, deadline_s: float
) -> None:
    with pytest.raises(ValueError, match="deadline_s must be a positive number"):
        await act(client, action, deadline_s=deadline_s)

    assert api.calls.call_count == 0


@pytest.mark.parametrize(
    ("pipeline_id", "raw_segment"),
    [
        ("a/b", b"a%2Fb"),
        ("a?b=c#d", b"a%3Fb%3Dc%23d"),
        ("..", b"%2E%2E"),
        (".", b"%2E"),
        ("../../admin", b"..%2F..%2Fadmin"),
        ("Nightly ETL", b"Nightly%20ETL"),
        ("100%", b"100%25"),
    ],
)
async def test_the_pipeline_id_is_encoded_as_one_path_segment(
    api: respx.MockRouter,
    client: VectorShiftClient,
    action: Action,
    pipeline_id: str,
    raw_segment: bytes,
) -> None:
    route = api.route(method="POST", name="any_post").respond(200, json={"status": "success"})

    await act(client, action, 5.0, pipeline_id=pipeline_id)

    expected = b"/v1/pipeline/" + raw_segment + b"/" + action.value.encode()
    assert route.calls.last.request.url.raw_path == expected


async def test_a_hostile_run_id_travels_only_in_the_json_body(
    api: respx.MockRouter, client: VectorShiftClient, action: Action
) -> None:
    run_id = '../r 2"}?x#'
    route = api.route(method="POST", name="any_post").respond(200, json={"status": "success"})

    await act(client, action, 5.0, run_id=run_id)

    request = route.calls.last.request
    assert request.url.raw_path == f"/v1/pipeline/{PIPELINE}/{action}".encode()
    assert json.loads(request.content) == action_body(action, run_id)


@pytest.mark.parametrize(("pipeline_id", "run_id"), [("", RUN), (PIPELINE, "")])
async def test_an_empty_id_is_refused_without_calling_the_api(
    api: respx.MockRouter,
    client: VectorShiftClient,
    action: Action,
    pipeline_id: str,
    run_id: str,
) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        await act(client, action, 5.0, pipeline_id=pipeline_id, run_id=run_id)

    assert api.calls.call_count == 0


async def test_an_undecodable_body_raises_no_httpx_exception(action: Action) -> None:
    # respx decodes mocked bodies itself, so a bad gzip body needs httpx's own MockTransport.
    def bad_gzip(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            200,
            headers={"Content-Encoding": "gzip"},
            stream=httpx.ByteStream(b"definitely not gzip"),
        )

    async with httpx.AsyncClient(transport=httpx.MockTransport(bad_gzip)) as http:
        client = VectorShiftClient(http, base_url=BASE, api_key=KEY)

        with pytest.raises(OperationFailedError) as caught:
            await act(client, action)

    assert caught.value.status_code == 200
    assert caught.value.outcome_known is False


# --- run status ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("in_progress", RunState.ACTIVE),
        ("running", RunState.ACTIVE),
        ("queued", RunState.ACTIVE),
        ("pending", RunState.ACTIVE),
        ("paused", RunState.ACTIVE),
        ("RUNNING", RunState.ACTIVE),
        ("In_Progress", RunState.ACTIVE),
        ("completed", RunState.FINISHED),
        ("succeeded", RunState.FINISHED),
        ("failed", RunState.FINISHED),
        ("cancelled", RunState.FINISHED),
        ("terminated", RunState.FINISHED),
        ("stopped", RunState.FINISHED),
        ("Completed", RunState.FINISHED),
        ("exploding", RunState.UNKNOWN),
        ("Paused-ish", RunState.UNKNOWN),
    ],
)
async def test_run_status_maps_each_value_and_keeps_it_verbatim(
    api: respx.MockRouter, client: VectorShiftClient, status: str, state: RunState
) -> None:
    api.get(STATUS_PATH, name="status").respond(200, json={"task_id": RUN, "status": status})

    result = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert result == RunStatus(state=state, status=status, error=None, http_status=200)


@pytest.mark.parametrize(
    ("status", "paused", "active_unpaused"),
    [
        ("paused", True, False),
        ("PAUSED", True, False),
        ("running", False, True),
        ("in_progress", False, True),
        ("queued", False, True),
        ("completed", False, False),
        ("cancelled", False, False),
        ("paused-ish", False, False),
    ],
)
async def test_run_status_tells_paused_from_active_and_unpaused(
    api: respx.MockRouter,
    client: VectorShiftClient,
    status: str,
    paused: bool,
    active_unpaused: bool,
) -> None:
    api.get(STATUS_PATH, name="status").respond(200, json={"task_id": RUN, "status": status})

    result = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert (result.is_paused, result.is_active_unpaused) == (paused, active_unpaused)


@pytest.mark.parametrize(
    "state", [RunState.UNKNOWN, RunState.NOT_FOUND, RunState.UNAVAILABLE, RunState.FINISHED]
)
def test_only_an_active_run_can_be_paused_or_active(state: RunState) -> None:
    status = RunStatus(state, "paused")

    assert (status.is_paused, status.is_active_unpaused) == (False, False)


async def test_run_status_keeps_the_runs_error_text(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.get(STATUS_PATH, name="status").respond(
        200, json={"task_id": RUN, "status": "failed", "error": "node 3 raised", "extra": 1}
    )

    result = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert result == RunStatus(RunState.FINISHED, "failed", "node 3 raised", 200)


async def test_run_status_404_naming_an_error_means_run_not_found(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.get(STATUS_PATH, name="status").respond(
        404, json={"status": "failed", "error": "Run not found"}
    )

    result = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert result == RunStatus(RunState.NOT_FOUND, None, "Run not found", 404)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(404),
        httpx.Response(404, json={"detail": "Not Found"}),
        httpx.Response(404, html="<h1>Not Found</h1>"),
    ],
    ids=["empty", "framework-detail", "html"],
)
async def test_run_status_404_without_an_error_body_means_status_unavailable(
    api: respx.MockRouter, client: VectorShiftClient, response: httpx.Response
) -> None:
    api.get(STATUS_PATH, name="status").mock(return_value=response)

    result = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert result == RunStatus(RunState.UNAVAILABLE, None, None, 404)


@pytest.mark.parametrize("status", [405, 501])
async def test_run_status_405_and_501_mean_status_unavailable(
    api: respx.MockRouter, client: VectorShiftClient, status: int
) -> None:
    api.get(STATUS_PATH, name="status").respond(status)

    result = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert result == RunStatus(RunState.UNAVAILABLE, None, None, status)


async def test_run_status_500_raises_server_error(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    route = api.get(STATUS_PATH, name="status").respond(
        500, json={"status": "failed", "error": "database down"}
    )

    with pytest.raises(ServerError) as caught:
        await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert str(caught.value) == "HTTP 500: database down"
    assert route.call_count == 1


async def test_run_status_401_raises_auth_error(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.get(STATUS_PATH, name="status").respond(401, json={"error": "Invalid API key"})

    with pytest.raises(AuthError):
        await client.run_status(pipeline_id=PIPELINE, run_id=RUN)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, content=b"\x00\xff garbage {"),
        httpx.Response(200, json=[1, 2, 3]),
        httpx.Response(200, json={"task_id": RUN}),
        httpx.Response(200, json={"status": {"nested": True}}),
        httpx.Response(200, content=b"[" * 100_000),
    ],
    ids=["binary", "list", "no-status", "non-scalar-status", "deep-nesting"],
)
async def test_run_status_with_an_unreadable_body_is_unknown(
    api: respx.MockRouter, client: VectorShiftClient, response: httpx.Response
) -> None:
    api.get(STATUS_PATH, name="status").mock(return_value=response)

    result = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert result.state is RunState.UNKNOWN
    assert result.status is None
    assert result.http_status == 200


async def test_run_status_strips_control_characters_from_the_status(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.get(STATUS_PATH, name="status").respond(200, json={"status": "run\u202eing\x1b[0m"})

    result = await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert result == RunStatus(RunState.UNKNOWN, "runing[0m", None, 200)


async def test_run_status_encodes_both_path_segments(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    route = api.route(method="GET", name="any_get").respond(200, json={"status": "running"})

    await client.run_status(pipeline_id="p/1", run_id="../r 2")

    assert route.calls.last.request.url.raw_path == b"/v1/pipeline/p%2F1/run/status/..%2Fr%202"


async def test_run_status_connect_error_raises_not_sent_once(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    route = api.get(STATUS_PATH, name="status").mock(side_effect=httpx.ConnectError("refused"))

    with pytest.raises(NotSentError):
        await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert route.call_count == 1


# --- resolve pipeline ---------------------------------------------------------------------------


@pytest.mark.parametrize("raw_id", [PIPELINE, {"$oid": PIPELINE}], ids=["string", "oid"])
async def test_resolve_pipeline_by_name_reads_either_id_shape(
    api: respx.MockRouter, client: VectorShiftClient, raw_id: object
) -> None:
    route = api.get("/pipeline", params={"name": "Nightly ETL"}, name="by_name").respond(
        200, json={"status": "success", "object": {"_id": raw_id, "name": "Nightly ETL", "x": 1}}
    )

    pipeline = await client.resolve_pipeline(name="Nightly ETL")

    assert pipeline == Pipeline(id=PIPELINE, name="Nightly ETL")
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


async def test_resolve_pipeline_by_id_sends_the_id_as_a_query_parameter(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    route = api.get("/pipeline", params={"id": PIPELINE}, name="by_id").respond(
        200, json={"status": "success", "object": {"_id": {"$oid": PIPELINE}}}
    )

    pipeline = await client.resolve_pipeline(pipeline_id=PIPELINE)

    assert pipeline == Pipeline(id=PIPELINE, name=None)
    assert route.calls.last.request.url.query == f"id={PIPELINE}".encode()


async def test_resolve_pipeline_encodes_a_hostile_name_as_one_query_parameter(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    name = 'ETL "prod" & id=1/../x?y#z'
    route = api.route(method="GET", name="any_get").respond(
        200, json={"status": "success", "object": {"_id": PIPELINE, "name": name}}
    )

    await client.resolve_pipeline(name=name)

    url = route.calls.last.request.url
    assert url.raw_path == b"/v1/pipeline?name=ETL+%22prod%22+%26+id%3D1%2F..%2Fx%3Fy%23z"
    assert dict(url.params) == {"name": name}


async def test_resolve_pipeline_404_raises_not_found(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.get("/pipeline", name="by_name").respond(
        404, json={"status": "failed", "error": "Pipeline not found"}
    )

    with pytest.raises(NotFoundError) as caught:
        await client.resolve_pipeline(name="nope")

    assert str(caught.value) == "HTTP 404: Pipeline not found"


@pytest.mark.parametrize(
    "body",
    [
        {"status": "success", "object": {"name": "no id"}},
        {"status": "success", "object": {"_id": {"$oid": 42}}},
        {"status": "success", "object": {"_id": ""}},
        {"status": "success"},
    ],
    ids=["missing", "oid-not-string", "empty", "no-object"],
)
async def test_resolve_pipeline_answer_without_an_id_raises_operation_failed(
    api: respx.MockRouter, client: VectorShiftClient, body: dict[str, object]
) -> None:
    api.get("/pipeline", name="by_name").respond(200, json=body)

    with pytest.raises(OperationFailedError) as caught:
        await client.resolve_pipeline(name="x")

    assert caught.value.message == "the pipeline lookup answer carried no pipeline id"


async def test_resolve_pipeline_200_with_failed_status_raises_operation_failed(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.get("/pipeline", name="by_name").respond(
        200, json={"status": "failed", "error": "no access"}
    )

    with pytest.raises(OperationFailedError) as caught:
        await client.resolve_pipeline(name="x")

    assert str(caught.value) == "HTTP 200: no access"


@pytest.mark.parametrize(
    "kwargs", [{}, {"name": "a", "pipeline_id": PIPELINE}], ids=["neither", "both"]
)
async def test_resolve_pipeline_needs_exactly_one_of_name_and_id(
    client: VectorShiftClient, kwargs: dict[str, str]
) -> None:
    with pytest.raises(ValueError, match="exactly one of name or pipeline_id"):
        await client.resolve_pipeline(**kwargs)


@pytest.mark.parametrize("name", ["", "   "])
async def test_resolve_pipeline_refuses_a_blank_name_without_calling_the_api(
    api: respx.MockRouter, client: VectorShiftClient, name: str
) -> None:
    with pytest.raises(ValueError, match="must not be blank"):
        await client.resolve_pipeline(name=name)

    assert api.calls.call_count == 0


async def test_an_empty_run_id_never_becomes_an_empty_status_path_segment(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    with pytest.raises(ValueError, match="must not be empty"):
        await client.run_status(pipeline_id=PIPELINE, run_id="")

    assert api.calls.call_count == 0


# --- key check ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 404])
async def test_check_key_accepts_success_and_not_found(
    api: respx.MockRouter, client: VectorShiftClient, status: int
) -> None:
    route = api.get("/pipeline", params={"name": KEY_CHECK_NAME}, name="check").respond(
        status, json={"status": "failed", "error": "Pipeline not found"}
    )

    await client.check_key()

    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.parametrize("status", [401, 403])
async def test_check_key_raises_auth_error_when_the_key_is_refused(
    api: respx.MockRouter, client: VectorShiftClient, status: int
) -> None:
    api.get("/pipeline", name="check").respond(status, json={"error": "Invalid API key"})

    with pytest.raises(AuthError) as caught:
        await client.check_key()

    assert caught.value.status_code == status


# --- secrecy and tolerance ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "effect",
    [
        httpx.Response(401, json={"error": f"Invalid API key {KEY}"}),
        httpx.Response(400, text=f"bad header Bearer {KEY}"),
        httpx.Response(500, json={"status": "failed", "error": {"message": KEY}}),
        httpx.Response(200, json={"status": "failed", "error": f"key={KEY}"}),
        httpx.Response(429, json={"error": f"slow down\x00{KEY}"}),
        httpx.ConnectError(f"cannot connect with {KEY}"),
        httpx.ReadTimeout(f"read timed out {KEY}"),
        httpx.RemoteProtocolError(f"Illegal header value b'Bearer {KEY}'"),
    ],
    ids=["401", "400-text", "500-nested", "200-failed", "429-nul", "connect", "read", "protocol"],
)
async def test_the_api_key_never_appears_in_an_error(
    api: respx.MockRouter,
    client: VectorShiftClient,
    effect: httpx.Response | Exception,
) -> None:
    api.post(action_path(Action.TERMINATE), name="terminate").mock(side_effect=[effect] * 3)

    with pytest.raises(VectorShiftError) as caught:
        await terminate(client)

    error = caught.value
    for text in (str(error), repr(error), error.message, str(error.args)):
        assert KEY not in text
    assert error.__cause__ is None
    assert error.__context__ is None or error.__suppress_context__
    assert "***" in error.message


def test_the_client_repr_does_not_show_the_key(http: httpx.AsyncClient) -> None:
    client = VectorShiftClient(http, base_url=BASE + "/", api_key=KEY)

    assert repr(client) == f"VectorShiftClient(base_url={BASE!r})"


@pytest.mark.parametrize("bad_key", ["", f"{KEY}\n", "two words"])
def test_a_key_that_cannot_go_in_a_header_is_refused_without_echoing_it(
    http: httpx.AsyncClient, bad_key: str
) -> None:
    with pytest.raises(ValueError) as caught:
        VectorShiftClient(http, base_url=BASE, api_key=bad_key)

    assert str(caught.value) == "api_key is empty or has characters an HTTP header cannot carry"


async def test_error_text_from_a_body_is_cleaned_and_truncated(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.post(action_path(Action.TERMINATE), name="terminate").respond(
        400, json={"status": "failed", "error": "\x1b[31mboom\r\n\u202e" + "x" * 5000}
    )

    with pytest.raises(BadRequestError) as caught:
        await terminate(client)

    message = caught.value.message
    assert len(message) == 200
    assert message.startswith("[31mboom xxx")
    assert message.endswith("x…")


async def test_rate_limit_reads_an_http_date_retry_after(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.get(STATUS_PATH, name="status").respond(
        429, headers={"Retry-After": "Wed, 21 Oct 2015 07:28:00 GMT"}
    )

    with pytest.raises(RateLimitError) as caught:
        await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert caught.value.retry_after == 0.0
    assert str(caught.value) == "HTTP 429: Too Many Requests"


async def test_an_unexpected_redirect_raises_a_plain_api_error(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.get(STATUS_PATH, name="status").respond(302, headers={"Location": "http://elsewhere/"})

    with pytest.raises(APIError) as caught:
        await client.run_status(pipeline_id=PIPELINE, run_id=RUN)

    assert type(caught.value) is APIError
    assert str(caught.value) == "HTTP 302: Found"


async def test_a_huge_html_error_page_becomes_a_one_line_message(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    api.post(action_path(Action.TERMINATE), name="terminate").respond(
        502, html="<p>" + "x" * 3_000_000
    )

    with pytest.raises(ServerError) as caught:
        await terminate(client)

    assert str(caught.value) == "HTTP 502: Bad Gateway"


async def test_a_body_beyond_the_size_cap_is_cut_off_not_read_whole(
    api: respx.MockRouter, client: VectorShiftClient
) -> None:
    padded = '{"status": "success", "pad": "' + "x" * MAX_BODY_BYTES + '"}'
    api.post(action_path(Action.TERMINATE), name="terminate").respond(200, text=padded)

    with pytest.raises(OperationFailedError) as caught:
        await terminate(client)

    assert caught.value.outcome_known is False


def test_default_timeout_sets_every_phase_explicitly() -> None:
    timeout = default_timeout()

    assert (timeout.connect, timeout.read, timeout.write, timeout.pool) == (3.0, 8.0, 5.0, 2.0)
