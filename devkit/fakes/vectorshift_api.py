"""The fake VectorShift API: pipeline lookup, run status, terminate, pause and resume.

`FakeVectorShift` serves the endpoints SPEC §1 describes under `/v1`, shaped like the real
ones: `GET /v1/pipeline?name=…|id=…`, `GET /v1/pipeline/{id}/run/status/{run_id}`, and the
run actions `POST /v1/pipeline/{id}/terminate` and `…/pause` with JSON `{"run_id": …}` and
`…/resume` with JSON `{"run_ids": [...]}` (an array; anything else is a 400, as the real API
validates it), each behind `Authorization: Bearer <api_key>` (401 `{"error": "Invalid API
key"}` otherwise).

A pause makes an active run report `paused` (still active in SPEC §1's vocabulary); a resume
gives it back the status it had before (`running` by default); terminate stops a paused run
like any other. Pausing a paused run or resuming one that is not paused is a 400, and so is
any action on a finished run.

Each run follows a `RunScript` — for terminate: succeeds, fails, fails once then succeeds,
answers 200 with `status: failed`, hangs, is already finished, keeps running, or is not found;
for pause: answers 200 with `status: failed`, hangs, or the run finishes on its own instead —
and `inject()` forces any other answer (429, 503, 405, a non-JSON body) for a few requests.
`finish()` ends a run on its own, e.g. while it is paused. `latency_s` adds latency to every
answer (the benchmark's 200 ms), `status_delay_s` to status answers only.

Every lookup, status poll and action call is recorded (including unauthorised and malformed
ones, so "no terminate call was made" means none reached the server); `terminate_calls`,
`pause_calls`, `resume_calls` and `action_calls()` list them, `wait_for_terminate`,
`wait_for_action` and their `async_` twins wait for one.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Final, Literal, NamedTuple

from aiohttp import web

from devkit.fakes.runner import FakeApp, Journal

__all__ = [
    "API_KEY",
    "ActionCall",
    "ActionName",
    "Endpoint",
    "FakeVectorShift",
    "Lookup",
    "RunScript",
    "StatusCall",
    "TerminateCall",
]

API_KEY: Final = "vs-test-key"
"""The key the fake accepts unless told otherwise."""

ACTIVE_STATUSES: Final = frozenset({"in_progress", "running", "queued", "pending", "paused"})
FINISHED_STATUSES: Final = frozenset(
    {"completed", "succeeded", "failed", "cancelled", "terminated", "stopped"}
)
STOPPED_STATUS: Final = "cancelled"
"""What a run reports once a terminate took effect."""
PAUSED_STATUS: Final = "paused"
"""What a run reports once a pause took effect."""
RESUMED_STATUS: Final = "running"
"""What a resumed run reports when its status before the pause is unknown."""
FINISHED_ON_ITS_OWN: Final = "completed"

ActionName = Literal["terminate", "pause", "resume"]
Endpoint = Literal["lookup", "status", "terminate", "pause", "resume"]


class RunScript(StrEnum):
    """How a run answers action and status calls.

    The terminate scripts affect terminate alone: pause and resume on such a run behave as on a
    SUCCEEDS run. The PAUSE_ scripts and FINISHES_ON_PAUSE affect pause alone. KEEPS_RUNNING
    affects every action.
    """

    SUCCEEDS = "succeeds"
    """Terminate 200 `success`; the next status poll reports `cancelled`."""
    FAILS = "fails"
    """Terminate 500 `{"status": "failed", "error": "internal error"}`; keeps running."""
    FAILS_THEN_SUCCEEDS = "fails_then_succeeds"
    """The first terminate fails like FAILS, later ones succeed like SUCCEEDS (for Retry)."""
    FAILED_200 = "failed_200"
    """Terminate 200 `{"status": "failed", "error": "run could not be stopped"}`; keeps running."""
    TIMES_OUT = "times_out"
    """Terminate answers 200 `success` only after `hang_s`; the run stops only then."""
    ALREADY_FINISHED = "already_finished"
    """Status `completed` from the start; terminate 400 `run is not active`."""
    KEEPS_RUNNING = "keeps_running"
    """Terminate, pause and resume answer 200 `success`, but the status never changes."""
    NOT_FOUND_ON_TERMINATE = "not_found_on_terminate"
    """Terminate 404 `Run not found` (status still answers)."""
    PAUSE_FAILED_200 = "pause_failed_200"
    """Pause 200 `{"status": "failed", "error": "run could not be paused"}`; keeps running."""
    PAUSE_TIMES_OUT = "pause_times_out"
    """Pause answers 200 `success` only after `hang_s`; the run pauses only then."""
    FINISHES_ON_PAUSE = "finishes_on_pause"
    """Pause 200 `success`, but the run finishes on its own first: status `completed`."""


class ActionCall(NamedTuple):
    """A terminate, pause or resume request that reached the fake.

    A resume naming several runs is recorded once per run; a request whose body names no run
    (malformed JSON, a missing or mistyped field) is recorded once with `run_id` "".
    """

    action: ActionName
    pipeline_id: str
    run_id: str
    at: float
    """`time.monotonic()` on arrival."""


TerminateCall = ActionCall
"""The record of a terminate request: an `ActionCall` whose `action` is "terminate"."""


class StatusCall(NamedTuple):
    """A run status request that reached the fake."""

    pipeline_id: str
    run_id: str
    at: float


class Lookup(NamedTuple):
    """A pipeline lookup that reached the fake."""

    by: Literal["name", "id"]
    value: str
    at: float


@dataclass(slots=True)
class _Pipeline:
    id: str
    name: str
    oid: bool


@dataclass(slots=True)
class _Run:
    script: RunScript
    status: str
    terminates: int = 0
    before_pause: str | None = None


@dataclass(slots=True)
class _Injection:
    endpoint: Endpoint
    status: int
    body: dict[str, Any] | str | None
    times: int | None


class _Answer(Exception):
    """An HTTP answer raised from deep inside a handler; never leaves the module."""

    def __init__(self, status: int, body: dict[str, Any] | str | None) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _failed(status: int, error: str) -> _Answer:
    return _Answer(status, {"status": "failed", "error": error})


class FakeVectorShift(FakeApp):
    """A fake VectorShift API with scripted runs and recorded calls.

    Args:
        api_key: The only key accepted as `Authorization: Bearer <key>`.
        latency_s: Extra latency on every answer.
        status_delay_s: Extra latency on run status answers.
        hang_s: How long a TIMES_OUT terminate hangs.
    """

    def __init__(
        self,
        *,
        api_key: str = API_KEY,
        latency_s: float = 0.0,
        status_delay_s: float = 0.0,
        hang_s: float = 30.0,
    ) -> None:
        super().__init__()
        self.latency_s = latency_s
        self.status_delay_s = status_delay_s
        self.hang_s = hang_s
        self._api_key = api_key
        self._lock = threading.Lock()
        self._pipelines: dict[str, _Pipeline] = {}
        self._runs: dict[tuple[str, str], _Run] = {}
        self._injections: list[_Injection] = []
        self._actions: Journal[ActionCall] = Journal()
        self._statuses: Journal[StatusCall] = Journal()
        self._lookups: Journal[Lookup] = Journal()

    def __repr__(self) -> str:
        return f"FakeVectorShift(pipelines={len(self._pipelines)}, runs={len(self._runs)})"

    # -- running -------------------------------------------------------------------------------

    def make_app(self) -> web.Application:
        """Builds the aiohttp application serving the `/v1` endpoints.

        Returns:
            The application.
        """
        app = web.Application()
        app.router.add_get("/v1/pipeline", self._handle_lookup)
        app.router.add_get("/v1/pipeline/{pipeline_id}/run/status/{run_id}", self._handle_status)
        for action in ("terminate", "pause", "resume"):
            app.router.add_post(f"/v1/pipeline/{{pipeline_id}}/{action}", self._handler(action))
        return app

    @property
    def api_key(self) -> str:
        """The key the fake accepts as `Authorization: Bearer <key>`."""
        return self._api_key

    @property
    def base_url(self) -> str:
        """The API base to give the bot as `VECTORSHIFT_BASE_URL`; ends with `/v1`."""
        return f"{self.root_url}/v1"

    # -- scripting -----------------------------------------------------------------------------

    def add_pipeline(self, pipeline_id: str, name: str, *, oid: bool = True) -> None:
        """Makes a pipeline known to lookups, status and the run actions.

        Args:
            pipeline_id: Its id.
            name: Its name.
            oid: Report `_id` as `{"$oid": id}` (True) or as a plain string.
        """
        with self._lock:
            self._pipelines[pipeline_id] = _Pipeline(pipeline_id, name, oid)

    def add_run(
        self,
        pipeline_id: str,
        run_id: str,
        script: RunScript = RunScript.SUCCEEDS,
        *,
        status: str | None = None,
    ) -> None:
        """Adds a run following `script`.

        Args:
            pipeline_id: A pipeline added with `add_pipeline`.
            run_id: Its id.
            script: How it answers action and status calls.
            status: Its status until an action changes it; defaults to `running` (`completed`
                for ALREADY_FINISHED).

        Raises:
            KeyError: The pipeline was not added.
        """
        default = "completed" if script is RunScript.ALREADY_FINISHED else "running"
        with self._lock:
            if pipeline_id not in self._pipelines:
                raise KeyError(f"add_pipeline({pipeline_id!r}, …) first")
            self._runs[(pipeline_id, run_id)] = _Run(script, status or default)

    def set_status(self, pipeline_id: str, run_id: str, status: str) -> None:
        """Changes a run's status, e.g. to have it finish between the modal and the submit.

        Raises:
            KeyError: The run was not added.
        """
        with self._lock:
            self._runs[(pipeline_id, run_id)].status = status

    def finish(self, pipeline_id: str, run_id: str, status: str = FINISHED_ON_ITS_OWN) -> None:
        """Ends a run on its own, as a run does that completes while paused or being paused.

        Args:
            pipeline_id: Its pipeline.
            run_id: The run.
            status: A finished status (SPEC §1), `completed` by default.

        Raises:
            KeyError: The run was not added.
            ValueError: `status` is not a finished status.
        """
        if status not in FINISHED_STATUSES:
            raise ValueError(f"{status!r} is not a finished status")
        with self._lock:
            run = self._runs[(pipeline_id, run_id)]
            run.status = status
            run.before_pause = None

    def run_status(self, pipeline_id: str, run_id: str) -> str:
        """Returns the status a poll would now report.

        Raises:
            KeyError: The run was not added.
        """
        with self._lock:
            return self._runs[(pipeline_id, run_id)].status

    def inject(
        self,
        endpoint: Endpoint,
        status: int,
        body: dict[str, Any] | str | None = None,
        *,
        times: int | None = 1,
    ) -> None:
        """Forces the next answers of an endpoint (after the key check), whatever the script.

        Args:
            endpoint: `lookup`, `status`, `terminate`, `pause` or `resume`.
            status: HTTP status, e.g. 429, 503, 502, 405.
            body: A JSON object, a non-JSON text body, or None for an empty body.
            times: How many requests it applies to; None means until `clear_injections()`.
        """
        with self._lock:
            self._injections.append(_Injection(endpoint, status, body, times))

    def clear_injections(self) -> None:
        """Drops every `inject()`."""
        with self._lock:
            self._injections.clear()

    # -- queries -------------------------------------------------------------------------------

    @property
    def terminate_calls(self) -> list[ActionCall]:
        """Terminate requests so far, in arrival order (a copy)."""
        return self.action_calls("terminate")

    @property
    def pause_calls(self) -> list[ActionCall]:
        """Pause requests so far, in arrival order (a copy)."""
        return self.action_calls("pause")

    @property
    def resume_calls(self) -> list[ActionCall]:
        """Resume requests so far, one per run named, in arrival order (a copy)."""
        return self.action_calls("resume")

    def action_calls(self, action: ActionName | None = None) -> list[ActionCall]:
        """Run action requests so far, in arrival order (a copy).

        Args:
            action: Only this action; every action when None.

        Returns:
            The recorded calls.
        """
        if action is None:
            return self._actions.snapshot()
        return self._actions.snapshot(lambda call: call.action == action)

    @property
    def status_calls(self) -> list[StatusCall]:
        """Run status requests so far, in arrival order (a copy)."""
        return self._statuses.snapshot()

    @property
    def lookups(self) -> list[Lookup]:
        """Pipeline lookups so far, in arrival order (a copy)."""
        return self._lookups.snapshot()

    def clear(self) -> None:
        """Forgets the recorded calls (pipelines, runs and injections stay)."""
        self._actions.clear()
        self._statuses.clear()
        self._lookups.clear()

    def wait_for_terminate(
        self,
        pipeline_id: str | None = None,
        run_id: str | None = None,
        timeout: float = 10.0,
        *,
        count: int = 1,
    ) -> ActionCall:
        """Blocks until a terminate request for the run has arrived (earlier ones count).

        Args:
            pipeline_id: Only this pipeline; any when None.
            run_id: Only this run; any when None.
            timeout: Seconds to wait at most.
            count: Wait for this many matching requests and return the last of them.

        Returns:
            The `count`-th matching request.

        Raises:
            TimeoutError: None arrived in time.
        """
        return self.wait_for_action("terminate", pipeline_id, run_id, timeout, count=count)

    async def async_wait_for_terminate(
        self,
        pipeline_id: str | None = None,
        run_id: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors wait_for_terminate
        *,
        count: int = 1,
    ) -> ActionCall:
        """Waits without blocking the loop until a terminate request for the run has arrived.

        Args:
            pipeline_id: Only this pipeline; any when None.
            run_id: Only this run; any when None.
            timeout: Seconds to wait at most.
            count: Wait for this many matching requests and return the last of them.

        Returns:
            The `count`-th matching request.

        Raises:
            TimeoutError: None arrived in time.
        """
        return await self.async_wait_for_action(
            "terminate", pipeline_id, run_id, timeout, count=count
        )

    def wait_for_action(
        self,
        action: ActionName,
        pipeline_id: str | None = None,
        run_id: str | None = None,
        timeout: float = 10.0,
        *,
        count: int = 1,
    ) -> ActionCall:
        """Blocks until a request of `action` for the run has arrived (earlier ones count).

        Args:
            action: `terminate`, `pause` or `resume`.
            pipeline_id: Only this pipeline; any when None.
            run_id: Only this run; any when None.
            timeout: Seconds to wait at most.
            count: Wait for this many matching requests and return the last of them.

        Returns:
            The `count`-th matching request.

        Raises:
            TimeoutError: None arrived in time.
        """
        return self._actions.wait(
            _action_matcher(action, pipeline_id, run_id), timeout=timeout, count=count
        )

    async def async_wait_for_action(
        self,
        action: ActionName,
        pipeline_id: str | None = None,
        run_id: str | None = None,
        timeout: float = 10.0,  # noqa: ASYNC109 - mirrors wait_for_action
        *,
        count: int = 1,
    ) -> ActionCall:
        """Waits without blocking the loop until a request of `action` for the run has arrived.

        Args:
            action: `terminate`, `pause` or `resume`.
            pipeline_id: Only this pipeline; any when None.
            run_id: Only this run; any when None.
            timeout: Seconds to wait at most.
            count: Wait for this many matching requests and return the last of them.

        Returns:
            The `count`-th matching request.

        Raises:
            TimeoutError: None arrived in time.
        """
        return await self._actions.async_wait(
            _action_matcher(action, pipeline_id, run_id), timeout=timeout, count=count
        )

    # -- HTTP ----------------------------------------------------------------------------------

    async def _handle_lookup(self, request: web.Request) -> web.Response:
        name, pipeline_id = request.query.get("name"), request.query.get("id")
        if pipeline_id is not None:
            self._lookups.append(Lookup("id", pipeline_id, time.monotonic()))
        elif name is not None:
            self._lookups.append(Lookup("name", name, time.monotonic()))
        try:
            await self._pace(request, "lookup")
            with self._lock:
                if pipeline_id is not None:
                    found = self._pipelines.get(pipeline_id)
                elif name is not None:
                    found = next((p for p in self._pipelines.values() if p.name == name), None)
                else:
                    raise _failed(400, "name or id is required")
                if found is None:
                    raise _failed(404, "Pipeline not found")
                _id: object = {"$oid": found.id} if found.oid else found.id
                obj = {"_id": _id, "name": found.name, "description": "", "nodes": {}}
            return _answer(200, {"status": "success", "object": obj})
        except _Answer as answer:
            return _answer(answer.status, answer.body)

    async def _handle_status(self, request: web.Request) -> web.Response:
        pipeline_id, run_id = request.match_info["pipeline_id"], request.match_info["run_id"]
        self._statuses.append(StatusCall(pipeline_id, run_id, time.monotonic()))
        try:
            await self._pace(request, "status")
            if self.status_delay_s:
                await asyncio.sleep(self.status_delay_s)
            with self._lock:
                run = self._find_run(pipeline_id, run_id)
                return _answer(200, {"task_id": run_id, "status": run.status})
        except _Answer as answer:
            return _answer(answer.status, answer.body)

    def _handler(self, action: ActionName) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self._handle_action(action, request)

        return handle

    async def _handle_action(self, action: ActionName, request: web.Request) -> web.Response:
        pipeline_id = request.match_info["pipeline_id"]
        run_ids = _run_ids(action, await request.text())
        arrived = time.monotonic()
        for run_id in run_ids or [""]:
            self._actions.append(ActionCall(action, pipeline_id, run_id, arrived))
        try:
            await self._pace(request, action)
            if not run_ids:
                raise _failed(400, _BODY_ERRORS[action])
            hanging: list[_Run] = []
            with self._lock:
                # One run at a time, stopping at the first refusal (earlier runs stay changed).
                for run_id in run_ids:
                    run = self._find_run(pipeline_id, run_id)
                    if _act_now(action, run):
                        hanging.append(run)
            if hanging:
                await asyncio.sleep(self.hang_s)
                with self._lock:
                    for run in hanging:
                        _apply_late(action, run)
            return _answer(200, {"status": "success"})
        except _Answer as answer:
            return _answer(answer.status, answer.body)

    async def _pace(self, request: web.Request, endpoint: Endpoint) -> None:
        """Adds latency, checks the key, applies an injection; raises the answer to give."""
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        authorization = request.headers.get("Authorization", "")
        if authorization != f"Bearer {self._api_key}":
            raise _Answer(401, {"error": "Invalid API key"})
        with self._lock:
            for injection in self._injections:
                if injection.endpoint != endpoint:
                    continue
                if injection.times is not None:
                    injection.times -= 1
                    if injection.times <= 0:
                        self._injections.remove(injection)
                raise _Answer(injection.status, injection.body)

    def _find_run(self, pipeline_id: str, run_id: str) -> _Run:
        if pipeline_id not in self._pipelines:
            raise _failed(404, "Pipeline not found")
        run = self._runs.get((pipeline_id, run_id))
        if run is None:
            raise _failed(404, "Run not found")
        return run


def _act_now(action: ActionName, run: _Run) -> bool:
    """Applies an action to a run (lock held); raises any answer other than success.

    Returns:
        True when the answer must hang for `hang_s` first (the action takes effect then).
    """
    if action == "terminate":
        run.terminates += 1
    if run.status in FINISHED_STATUSES:
        raise _failed(400, "run is not active")
    if action == "terminate":
        return _terminate_now(run)
    if run.script is RunScript.KEEPS_RUNNING:
        return False
    if action == "pause":
        return _pause_now(run)
    if run.status != PAUSED_STATUS:
        raise _failed(400, "run is not paused")
    run.status, run.before_pause = run.before_pause or RESUMED_STATUS, None
    return False


def _terminate_now(run: _Run) -> bool:
    """Applies a terminate to an active run (lock held); True when it hangs first."""
    match run.script:
        case RunScript.FAILS:
            raise _failed(500, "internal error")
        case RunScript.FAILS_THEN_SUCCEEDS if run.terminates == 1:
            raise _failed(500, "internal error")
        case RunScript.FAILED_200:
            raise _failed(200, "run could not be stopped")
        case RunScript.NOT_FOUND_ON_TERMINATE:
            raise _failed(404, "Run not found")
        case RunScript.TIMES_OUT:
            return True
        case RunScript.KEEPS_RUNNING | RunScript.ALREADY_FINISHED:
            return False  # accepted, and never takes effect
        case _:
            run.status, run.before_pause = STOPPED_STATUS, None
            return False


def _pause_now(run: _Run) -> bool:
    """Applies a pause (lock held); True when it takes effect only after the hang."""
    if run.status == PAUSED_STATUS:
        raise _failed(400, "run is already paused")
    match run.script:
        case RunScript.PAUSE_FAILED_200:
            raise _failed(200, "run could not be paused")
        case RunScript.PAUSE_TIMES_OUT:
            return True
        case RunScript.FINISHES_ON_PAUSE:
            run.status = FINISHED_ON_ITS_OWN
        case _:
            run.status, run.before_pause = PAUSED_STATUS, run.status
    return False


def _apply_late(action: ActionName, run: _Run) -> None:
    """What a hanging action does once its hang is over (lock held), unless the run ended."""
    if run.status in FINISHED_STATUSES:
        return
    if action == "terminate":
        run.status, run.before_pause = STOPPED_STATUS, None
    elif action == "pause" and run.status != PAUSED_STATUS:
        run.status, run.before_pause = PAUSED_STATUS, run.status


_BODY_ERRORS: Final[dict[ActionName, str]] = {
    "terminate": "run_id is required",
    "pause": "run_id is required",
    "resume": "run_ids must be a non-empty array of run ids",
}


def _run_ids(action: ActionName, text: str) -> list[str]:
    """The runs a request body names: `run_id`, or `run_ids` (an array) for resume; [] if bad."""
    try:
        body = json.loads(text)
    except ValueError:
        return []
    if not isinstance(body, dict):
        return []
    if action != "resume":
        run_id = body.get("run_id")
        return [run_id] if isinstance(run_id, str) and run_id else []
    run_ids = body.get("run_ids")
    if not isinstance(run_ids, list) or not run_ids:
        return []
    if not all(isinstance(run_id, str) and run_id for run_id in run_ids):
        return []
    return [str(run_id) for run_id in run_ids]


def _action_matcher(
    action: ActionName, pipeline_id: str | None, run_id: str | None
) -> Callable[[ActionCall], bool]:
    def matches(call: ActionCall) -> bool:
        return (
            call.action == action
            and (pipeline_id is None or call.pipeline_id == pipeline_id)
            and (run_id is None or call.run_id == run_id)
        )

    return matches


def _answer(status: int, body: dict[str, Any] | str | None) -> web.Response:
    if body is None:
        return web.Response(status=status)
    if isinstance(body, str):
        return web.Response(status=status, text=body, content_type="text/plain")
    return web.json_response(body, status=status)
