"""The typed async VectorShift client: requests, tolerant parsing, retries and its own errors.

Self-contained (stdlib and httpx only) so the rest of the bot sees VectorShift through these
types alone. Request building (`_build_*`, pure) is kept apart from tolerant response parsing
(`_parse_*`, pure), as openapi-python-client separates `_get_kwargs` from `_parse_response`;
`VectorShiftClient` only sends, maps transport failures and decides about retries.

The three run actions, `terminate_run`, `pause_run` and `resume_run`, are one POST each that is
not known to be idempotent (SPEC §1). They differ only in their path and body, so they share one
request builder (`_build_action`), one parser (`_parse_action`) and one retry loop (`_act`):
the retry rules and the deadline cannot drift apart between them.

Exceptions (no httpx exception ever escapes a public method)::

    VectorShiftError               .outcome_known: did the request certainly (not) take effect?
    ├── APIError                   VectorShift answered; .status_code, .message, .api_status
    │   ├── BadRequestError        400 and any other 4xx not listed below
    │   ├── AuthError              401, 403: the key was refused
    │   ├── NotFoundError          404
    │   ├── RateLimitError         429; .retry_after (seconds, when the server said)
    │   ├── ServerError            5xx; outcome unknown for 502/504 (and 520/524), known for others
    │   └── OperationFailedError   2xx whose body does not say status "success"
    └── TransportError             no usable answer
        ├── NotSentError           connect error or pool timeout: provably never sent
        └── DeadlineExceededError  sent (perhaps), no answer in time; .waited_s
            └── ConnectionLostError    the connection broke before the answer was read

`outcome_known` is False exactly when the request may have reached VectorShift and done its work
without us learning so (502/504, read timeouts, a broken connection, a 2xx without a clear status):
callers must then read the run status before doing anything else (SPEC §1).

The API key is sent only in the `Authorization` header. Every message taken from a response body
is redacted of the key, stripped of control characters and cut to about 200 characters; no
exception is chained to an httpx exception (those carry the request, headers included).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import random
import time
import unicodedata
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from importlib import metadata
from typing import Final
from urllib.parse import quote

import httpx

from bot.domain import (
    ACTIVE_STATUSES,
    FINISHED_STATUSES,
    Action,
    ActionResult,
    Pipeline,
    RunState,
    RunStatus,
)

logger = logging.getLogger(__name__)


def _package_version() -> str:
    try:
        return metadata.version("vs-terminate")
    except metadata.PackageNotFoundError:
        return "0+unknown"


USER_AGENT: Final = f"vs-terminate/{_package_version()}"

MAX_ACTION_RETRIES: Final = 2
"""Retries after an action's first POST, so at most three sends (SPEC §1)."""

BACKOFF_BASE_S: Final = (0.5, 1.0)
"""Base delay before retry 1 and 2; the actual delay is base × (0.5 + jitter), jitter in [0, 1)."""

MIN_ATTEMPT_BUDGET_S: Final = 0.25
"""A retry is only worth sending if at least this much of the deadline is left after backoff."""

MAX_BODY_BYTES: Final = 1 << 20
"""Bodies are read up to this size; the rest is ignored (error pages can be large)."""

MAX_MESSAGE_CHARS: Final = 200

KEY_CHECK_NAME: Final = "vs-terminate-doctor-key-check"
"""A pipeline name looked up by `check_key`; unknown (404) is the expected, harmless answer."""

_UNKNOWN_OUTCOME_STATUSES: Final = frozenset({502, 504, 520, 524})
"""Gateway answers sent after the request may have reached the origin (520/524: Cloudflare)."""


# --- errors -------------------------------------------------------------------------------------


class VectorShiftError(Exception):
    """Base of every error the client raises.

    Args:
        message: what went wrong, safe to log (never contains the API key).
    """

    outcome_known: bool = True

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class APIError(VectorShiftError):
    """VectorShift answered, and not with success.

    Args:
        status_code: the HTTP status.
        message: the body's error text, or a description of the answer.
        api_status: the body's `status` field, when there was one.
    """

    def __init__(self, status_code: int, message: str, api_status: str | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code
        self.api_status = api_status

    def __str__(self) -> str:
        return f"HTTP {self.status_code}: {self.message}"

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, "
            f"message={self.message!r}, api_status={self.api_status!r})"
        )


class BadRequestError(APIError):
    """400, or another 4xx this client has no better name for."""


class AuthError(APIError):
    """401 or 403: the API key was missing, malformed or refused."""


class NotFoundError(APIError):
    """404: the pipeline (or run) is unknown to this key."""


class RateLimitError(APIError):
    """429: too many calls.

    Args:
        status_code: the HTTP status (429).
        message: the body's error text or a description.
        api_status: the body's `status` field, when there was one.
        retry_after: seconds to wait, when the server sent `Retry-After`.
    """

    def __init__(
        self,
        status_code: int,
        message: str,
        api_status: str | None = None,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(status_code, message, api_status)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx. After 502/504 the request may have been carried out, so the outcome is unknown."""

    def __init__(self, status_code: int, message: str, api_status: str | None = None) -> None:
        super().__init__(status_code, message, api_status)
        self.outcome_known = status_code not in _UNKNOWN_OUTCOME_STATUSES


class OperationFailedError(APIError):
    """A 2xx whose body does not say `"status": "success"`.

    The outcome is known only when the body says `"failed"`; a missing or unexpected status
    (non-JSON body, empty 204, a new word) leaves it unknown.
    """

    def __init__(self, status_code: int, message: str, api_status: str | None = None) -> None:
        super().__init__(status_code, message, api_status)
        self.outcome_known = api_status == "failed"


class TransportError(VectorShiftError):
    """No usable answer arrived."""

    outcome_known = False


class NotSentError(TransportError):
    """The request provably never reached VectorShift (connect failure, pool timeout).

    Args:
        message: what went wrong.
        retryable: False when sending again cannot help (a malformed URL or request).
    """

    outcome_known = True

    def __init__(self, message: str, *, retryable: bool = True) -> None:
        super().__init__(message)
        self.retryable = retryable


class DeadlineExceededError(TransportError):
    """The request may have been sent but no answer came in time.

    Args:
        message: what went wrong; for a timeout it states `waited_s`, not the deadline asked
            for, so a caller quoting it never claims a longer wait than happened.
        waited_s: seconds the call waited before giving up, by the client's clock; for a run
            action, from its first send (backoff included) to giving up.
    """

    def __init__(self, message: str, *, waited_s: float) -> None:
        super().__init__(message)
        self.waited_s = waited_s


class ConnectionLostError(DeadlineExceededError):
    """The connection broke after the request went out and before its answer was read.

    A `DeadlineExceededError` because the consequence is the same (sent, outcome unknown, read
    the status first), but no time ran out: `waited_s` is only how long the call lasted.
    """


# --- request building (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class _Request:
    method: str
    url: str
    params: Mapping[str, str] | None = None
    json: Mapping[str, object] | None = None


def _segment(value: str) -> str:
    """One URL path segment, encoded so it can never change the path's shape."""
    if not value:
        raise ValueError("an id used in a URL path must not be empty")
    encoded = quote(value, safe="")
    # quote() leaves dots alone, and httpx resolves "." and ".." segments: encode them too.
    if encoded in {".", ".."}:
        encoded = encoded.replace(".", "%2E")
    return encoded


def _build_resolve_pipeline(
    base_url: str, *, name: str | None, pipeline_id: str | None
) -> _Request:
    if (name is None) == (pipeline_id is None):
        raise ValueError("give exactly one of name or pipeline_id")
    params = {"name": name} if name is not None else {"id": pipeline_id or ""}
    if not next(iter(params.values())).strip():
        raise ValueError("the pipeline name or id must not be blank")
    return _Request("GET", f"{base_url}/pipeline", params=params)


def _build_run_status(base_url: str, *, pipeline_id: str, run_id: str) -> _Request:
    url = f"{base_url}/pipeline/{_segment(pipeline_id)}/run/status/{_segment(run_id)}"
    return _Request("GET", url)


def _build_action(base_url: str, action: Action, *, pipeline_id: str, run_id: str) -> _Request:
    """`POST /pipeline/{id}/{action}`; resume alone takes an array of run ids (SPEC §1)."""
    if not run_id:
        raise ValueError("the run id must not be empty")
    url = f"{base_url}/pipeline/{_segment(pipeline_id)}/{_segment(action.value)}"
    body: dict[str, object] = (
        {"run_ids": [run_id]} if action is Action.RESUME else {"run_id": run_id}
    )
    return _Request("POST", url, json=body)


def _build_check_key(base_url: str) -> _Request:
    return _Request("GET", f"{base_url}/pipeline", params={"name": KEY_CHECK_NAME})


# --- response parsing (pure) --------------------------------------------------------------------


@dataclass(frozen=True)
class _Reply:
    """What arrived: status, headers and (at most MAX_BODY_BYTES of) the decoded body."""

    status_code: int
    headers: httpx.Headers
    body: bytes
    readable: bool = True

    @property
    def ok(self) -> bool:
        return 200 <= self.status_code < 300

    def json_object(self) -> dict[str, object] | None:
        """The body as a JSON object, or None for anything else (HTML, garbage, a list)."""
        if not self.readable or not self.body:
            return None
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            return None
        return value if isinstance(value, dict) else None


Cleaner = Callable[[str], str]


def _clean_text(text: str, *, secret: str) -> str:
    """Text fit for a message: no control characters, no secret, about 200 characters at most."""
    kept: list[str] = []
    for char in text:
        if unicodedata.category(char) in {"Cc", "Cf", "Zl", "Zp"}:
            kept.append(" " if char.isspace() else "")
        else:
            kept.append(char)
    cleaned = " ".join("".join(kept).split())
    if secret:
        cleaned = cleaned.replace(secret, "***")
    if len(cleaned) > MAX_MESSAGE_CHARS:
        cleaned = cleaned[: MAX_MESSAGE_CHARS - 1].rstrip() + "…"
    return cleaned


def _scalar_text(value: object) -> str | None:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return None


def _api_status(body: dict[str, object] | None, clean: Cleaner) -> str | None:
    if body is None:
        return None
    value = _scalar_text(body.get("status"))
    return clean(value) if value is not None else None


def _body_message(reply: _Reply, clean: Cleaner) -> str | None:
    """The error text a body carries: `error` (VectorShift's shape), `message` or `detail`."""
    body = reply.json_object()
    if body is not None:
        for key in ("error", "message", "detail"):
            value = body.get(key)
            if isinstance(value, dict):
                value = value.get("message")
            if isinstance(value, str) and (text := clean(value)):
                return text
        return None
    if not reply.readable:
        return None
    text = reply.body[:4096].decode("utf-8", errors="replace").strip()
    # An HTML error page says nothing useful in a single line; plain text from a proxy might.
    if not text or text.startswith("<") or text.startswith(("{", "[")):
        return None
    return clean(text) or None


def _describe(reply: _Reply) -> str:
    try:
        phrase = httpx.codes(reply.status_code).get_reason_phrase(reply.status_code)
    except ValueError:
        phrase = ""
    return phrase or "unexpected answer from VectorShift"


def _retry_after_s(value: str | None) -> float | None:
    """`Retry-After` as seconds: delta-seconds or an HTTP date; None when absent or garbled."""
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = (when - datetime.now(UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return max(0.0, seconds)


def _error_for(reply: _Reply, clean: Cleaner) -> APIError:
    """The exception for a non-2xx answer."""
    code = reply.status_code
    message = _body_message(reply, clean) or _describe(reply)
    api_status = _api_status(reply.json_object(), clean)
    if code in {401, 403}:
        return AuthError(code, message, api_status)
    if code == 404:
        return NotFoundError(code, message, api_status)
    if code == 429:
        retry_after = _retry_after_s(reply.headers.get("retry-after"))
        return RateLimitError(code, message, api_status, retry_after=retry_after)
    if 400 <= code < 500:
        return BadRequestError(code, message, api_status)
    if 500 <= code < 600:
        return ServerError(code, message, api_status)
    return APIError(code, message, api_status)


_DID_WHAT: Final = {
    Action.TERMINATE: "stopped",
    Action.PAUSE: "paused",
    Action.RESUME: "resumed",
}


def _parse_action(reply: _Reply, clean: Cleaner, action: Action) -> ActionResult:
    """A run action's answer: success is 2xx and `status == "success"`; anything else raises.

    The returned `attempts` is 1; the client fills in the real count.
    """
    if not reply.ok:
        raise _error_for(reply, clean)
    body = reply.json_object()
    api_status = _api_status(body, clean)
    if api_status == "success":
        return ActionResult(action, reply.status_code, api_status, attempts=1)
    if api_status is None:
        message = (
            _body_message(reply, clean)
            or f"the answer did not say whether the run {_DID_WHAT[action]}"
        )
    else:
        message = _body_message(reply, clean) or f"VectorShift answered status {api_status!r}"
    raise OperationFailedError(reply.status_code, message, api_status)


def _run_state(status: str) -> RunState:
    word = status.strip().lower()
    if word in ACTIVE_STATUSES:
        return RunState.ACTIVE
    if word in FINISHED_STATUSES:
        return RunState.FINISHED
    return RunState.UNKNOWN


def _parse_run_status(reply: _Reply, clean: Cleaner) -> RunStatus:
    """A run-status answer; only errors other than 404/405/501 raise."""
    code = reply.status_code
    if reply.ok:
        body = reply.json_object()
        if body is None:
            return RunStatus(
                RunState.UNKNOWN, None, "the status answer was not a JSON object", code
            )
        raw = _scalar_text(body.get("status"))
        status = clean(raw) if raw is not None else None
        error_value = body.get("error")
        error = (clean(error_value) or None) if isinstance(error_value, str) else None
        state = _run_state(status) if status else RunState.UNKNOWN
        return RunStatus(state, status or None, error, code)
    if code == 404:
        body = reply.json_object()
        error_value = body.get("error") if body is not None else None
        # VectorShift names its errors in "error"; a bare 404 (or a framework's {"detail": ...})
        # means the route itself is missing, i.e. this deployment has no status endpoint.
        if isinstance(error_value, str) and (error := clean(error_value)):
            return RunStatus(RunState.NOT_FOUND, None, error, code)
        return RunStatus(RunState.UNAVAILABLE, None, None, code)
    if code in {405, 501}:
        return RunStatus(RunState.UNAVAILABLE, None, _body_message(reply, clean), code)
    raise _error_for(reply, clean)


def _pipeline_id(value: object) -> str | None:
    if isinstance(value, dict):
        value = value.get("$oid")
    if not isinstance(value, str):
        return None
    value = value.strip()
    if not value or len(value) > 256 or any(not char.isprintable() for char in value):
        return None
    return value


def _parse_pipeline(reply: _Reply, clean: Cleaner) -> Pipeline:
    """A pipeline lookup: `{"status", "object": {"_id": str | {"$oid": str}, "name"}}`."""
    if not reply.ok:
        raise _error_for(reply, clean)
    body = reply.json_object()
    api_status = _api_status(body, clean)
    if api_status is not None and api_status != "success":
        message = _body_message(reply, clean) or f"VectorShift answered status {api_status!r}"
        raise OperationFailedError(reply.status_code, message, api_status)
    found = body.get("object") if body is not None else None
    # Tolerate the object arriving at the top level.
    candidate = found if isinstance(found, dict) else body
    pipeline_id = None
    name = None
    if candidate is not None:
        pipeline_id = _pipeline_id(candidate.get("_id", candidate.get("id")))
        raw_name = candidate.get("name")
        name = (clean(raw_name) or None) if isinstance(raw_name, str) else None
    if pipeline_id is None:
        raise OperationFailedError(
            reply.status_code, "the pipeline lookup answer carried no pipeline id", api_status
        )
    return Pipeline(id=pipeline_id, name=name)


def _parse_check_key(reply: _Reply, clean: Cleaner) -> None:
    """The key check: any 2xx, or 404 for the made-up name, means the key was accepted."""
    if reply.ok or reply.status_code == 404:
        return
    raise _error_for(reply, clean)


# --- the client ---------------------------------------------------------------------------------


def default_timeout() -> httpx.Timeout:
    """Timeouts for every VectorShift call, each phase explicit.

    Returns:
        connect 3 s, read 8 s, write 5 s, pool 2 s. Under a deadline (the run actions), read
        and write last until the deadline instead, and connect and pool are cut to fit it.
    """
    return httpx.Timeout(connect=3.0, read=8.0, write=5.0, pool=2.0)


def _deadline_timeout(timeout: httpx.Timeout, budget_s: float) -> httpx.Timeout:
    """Per-phase timeouts for a send that must end within `budget_s` (what is left).

    Read and write get the whole budget: their defaults suit calls without a deadline, and
    under one they would cut a slow answer short and report a 10 s deadline as missed after
    8 s. Connect and pool keep their own, shorter caps, since failing them proves the request
    was never sent and leaves time to send it again.
    """

    def cap(value: float | None) -> float:
        return budget_s if value is None else min(value, budget_s)

    return httpx.Timeout(
        connect=cap(timeout.connect), read=budget_s, write=budget_s, pool=cap(timeout.pool)
    )


def _seconds_text(seconds: float) -> str:
    """A duration for a message: whole seconds from 10 s up, two significant digits below."""
    return f"{seconds:.0f}" if seconds >= 10 else f"{seconds:.2g}"


class VectorShiftClient:
    """Async client for the few VectorShift calls the bot makes.

    Args:
        http: a shared `httpx.AsyncClient`; its lifetime belongs to the caller.
        base_url: the API base, e.g. `https://api.vectorshift.ai/v1`.
        api_key: the Bearer key; it goes into the Authorization header and nowhere else.
        sleep: awaited between retries (tests inject a recorder).
        jitter: returns a float in [0, 1) that spreads retries.
        clock: monotonic seconds: the run actions' deadline, and `waited_s` on timeouts.
        timeout: per-phase timeouts; `default_timeout()` when None.

    Raises:
        ValueError: the base URL is not http(s) or the key cannot be sent in a header.
    """

    def __init__(
        self,
        http: httpx.AsyncClient,
        *,
        base_url: str,
        api_key: str,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        jitter: Callable[[], float] = random.random,
        clock: Callable[[], float] = time.monotonic,
        timeout: httpx.Timeout | None = None,
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ValueError("base_url must start with http:// or https://")
        # A stray newline (from `echo key > file`) would otherwise surface in h11's error text.
        if not api_key or any(not 0x21 <= ord(char) <= 0x7E for char in api_key):
            raise ValueError("api_key is empty or has characters an HTTP header cannot carry")
        self._http = http
        self._base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._sleep = sleep
        self._jitter = jitter
        self._clock = clock
        self._timeout = timeout or default_timeout()

    def __repr__(self) -> str:
        return f"VectorShiftClient(base_url={self._base_url!r})"

    async def resolve_pipeline(
        self, *, name: str | None = None, pipeline_id: str | None = None
    ) -> Pipeline:
        """Look a pipeline up by name or by id (exactly one).

        Args:
            name: the pipeline's name, sent as an encoded query parameter.
            pipeline_id: the pipeline's id.

        Returns:
            The pipeline's id and name.

        Raises:
            ValueError: neither or both of name and pipeline_id were given, or it is blank.
            NotFoundError: no such pipeline for this key.
            OperationFailedError: a 2xx without a pipeline id or with a failed status.
            VectorShiftError: any other failure (see the module's tree).
        """
        request = _build_resolve_pipeline(self._base_url, name=name, pipeline_id=pipeline_id)
        return _parse_pipeline(await self._send(request), self._clean)

    async def run_status(self, *, pipeline_id: str, run_id: str) -> RunStatus:
        """Read a run's status.

        Args:
            pipeline_id: the resolved pipeline id.
            run_id: the run id.

        Returns:
            The status; NOT_FOUND for a 404 naming an error, UNAVAILABLE for 405, 501 or a
            bare 404, UNKNOWN for a value outside SPEC §1's vocabulary or an unreadable body.

        Raises:
            ValueError: an id is empty.
            AuthError: the key was refused.
            RateLimitError: too many calls.
            ServerError: a 5xx other than 501.
            TransportError: no usable answer (NotSentError or DeadlineExceededError).
            VectorShiftError: any other non-2xx answer.
        """
        request = _build_run_status(self._base_url, pipeline_id=pipeline_id, run_id=run_id)
        return _parse_run_status(await self._send(request), self._clean)

    async def terminate_run(
        self, *, pipeline_id: str, run_id: str, deadline_s: float
    ) -> ActionResult:
        """Ask VectorShift to stop a run, retrying only where that is provably safe.

        The POST is not known to be idempotent, so it is sent again only after a connect
        failure (never sent), a 429 or a 503, at most twice, with jittered backoff, and only
        while the backoff plus a useful attempt fit inside `deadline_s` overall. Nothing else
        limits the wait: no per-phase read timeout ends it before the deadline.

        Args:
            pipeline_id: the resolved pipeline id.
            run_id: the run to stop.
            deadline_s: the overall budget in seconds for every attempt and backoff.

        Returns:
            The successful answer and how many sends it took.

        Raises:
            ValueError: deadline_s is not a positive number, or an id is empty.
            OperationFailedError: a 2xx without `"status": "success"`.
            AuthError, BadRequestError, NotFoundError: the call was refused.
            RateLimitError, ServerError: after retries ran out (429/503) or at once (other 5xx).
            NotSentError: could not connect, even after retries.
            DeadlineExceededError: no answer within `deadline_s` (its `waited_s` says how long
                it waited), or ConnectionLostError; the run may or may not be stopping.
        """
        return await self._act(
            Action.TERMINATE, pipeline_id=pipeline_id, run_id=run_id, deadline_s=deadline_s
        )

    async def pause_run(self, *, pipeline_id: str, run_id: str, deadline_s: float) -> ActionResult:
        """Ask VectorShift to pause a run, under `terminate_run`'s retry and deadline rules.

        A paused run stays ACTIVE with status `paused` (`RunStatus.is_paused`) and can be
        resumed or terminated later. Pause is not known to be idempotent either.

        Args:
            pipeline_id: the resolved pipeline id.
            run_id: the run to pause, sent as `{"run_id": run_id}`.
            deadline_s: the overall budget in seconds for every attempt and backoff.

        Returns:
            The successful answer and how many sends it took.

        Raises:
            ValueError: deadline_s is not a positive number, or an id is empty.
            OperationFailedError: a 2xx without `"status": "success"`.
            AuthError, BadRequestError, NotFoundError: the call was refused.
            RateLimitError, ServerError: after retries ran out (429/503) or at once (other 5xx).
            NotSentError: could not connect, even after retries.
            DeadlineExceededError: no answer within `deadline_s` (its `waited_s` says how long
                it waited), or ConnectionLostError; the run may or may not be pausing.
        """
        return await self._act(
            Action.PAUSE, pipeline_id=pipeline_id, run_id=run_id, deadline_s=deadline_s
        )

    async def resume_run(self, *, pipeline_id: str, run_id: str, deadline_s: float) -> ActionResult:
        """Ask VectorShift to resume a paused run, under `terminate_run`'s retry and deadline rules.

        Args:
            pipeline_id: the resolved pipeline id.
            run_id: the run to resume, sent as `{"run_ids": [run_id]}` (the API takes an array).
            deadline_s: the overall budget in seconds for every attempt and backoff.

        Returns:
            The successful answer and how many sends it took.

        Raises:
            ValueError: deadline_s is not a positive number, or an id is empty.
            OperationFailedError: a 2xx without `"status": "success"`.
            AuthError, BadRequestError, NotFoundError: the call was refused.
            RateLimitError, ServerError: after retries ran out (429/503) or at once (other 5xx).
            NotSentError: could not connect, even after retries.
            DeadlineExceededError: no answer within `deadline_s` (its `waited_s` says how long
                it waited), or ConnectionLostError; the run may or may not be resuming.
        """
        return await self._act(
            Action.RESUME, pipeline_id=pipeline_id, run_id=run_id, deadline_s=deadline_s
        )

    async def check_key(self) -> None:
        """Make one cheap authenticated call to see whether the key is accepted.

        Raises:
            AuthError: the key was refused (401/403).
            VectorShiftError: any other failure (unreachable, 5xx, ...).
        """
        _parse_check_key(await self._send(_build_check_key(self._base_url)), self._clean)

    # --- internals ------------------------------------------------------------------------------

    async def _act(
        self, action: Action, *, pipeline_id: str, run_id: str, deadline_s: float
    ) -> ActionResult:
        """Send one run action until it is answered, retrying only what `_retry_delay` allows.

        Every send and backoff fits inside `deadline_s`, counted from the first send; a
        timeout's `waited_s` counts from there too, so it is what the caller actually waited.
        """
        if not (math.isfinite(deadline_s) and deadline_s > 0):
            raise ValueError("deadline_s must be a positive number of seconds")
        request = _build_action(self._base_url, action, pipeline_id=pipeline_id, run_id=run_id)
        started = self._clock()
        deadline = started + deadline_s
        attempts = 0
        while True:
            attempts += 1
            try:
                reply = await self._send(request, deadline=deadline, started=started)
                result = _parse_action(reply, self._clean, action)
            except VectorShiftError as exc:
                delay = self._retry_delay(exc, attempts)
                if delay is None:
                    raise
                if delay + MIN_ATTEMPT_BUDGET_S > deadline - self._clock():
                    logger.info(
                        "%s attempt %d failed (%s); no time left to retry",
                        action,
                        attempts,
                        type(exc).__name__,
                    )
                    raise
                logger.info(
                    "%s attempt %d failed (%s); retrying in %.2f s",
                    action,
                    attempts,
                    type(exc).__name__,
                    delay,
                )
                await self._sleep(delay)
                continue
            return replace(result, attempts=attempts)

    def _clean(self, text: str) -> str:
        return _clean_text(text, secret=self._api_key)

    def _retry_delay(self, exc: VectorShiftError, attempts: int) -> float | None:
        """Seconds to wait before the next send, or None when this error must not be retried."""
        if attempts > MAX_ACTION_RETRIES:
            return None
        retryable = (
            (isinstance(exc, NotSentError) and exc.retryable)
            or isinstance(exc, RateLimitError)
            or (isinstance(exc, ServerError) and exc.status_code == 503)
        )
        if not retryable:
            return None
        delay = BACKOFF_BASE_S[attempts - 1] * (0.5 + self._jitter())
        if isinstance(exc, RateLimitError) and exc.retry_after is not None:
            delay = max(delay, exc.retry_after)
        return delay

    def _headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self._api_key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }

    def _transport_text(self, what: str, exc: BaseException) -> str:
        detail = self._clean(str(exc))
        return f"{what} ({type(exc).__name__}{': ' + detail if detail else ''})"

    def _no_answer(self, started: float, exc: BaseException | None = None) -> DeadlineExceededError:
        """A timeout's error, stating the wait that happened rather than the budget asked for."""
        waited_s = max(0.0, self._clock() - started)
        what = f"VectorShift did not answer within {_seconds_text(waited_s)} s"
        message = what if exc is None else self._transport_text(what, exc)
        return DeadlineExceededError(message, waited_s=waited_s)

    async def _send(
        self, request: _Request, *, deadline: float | None = None, started: float | None = None
    ) -> _Reply:
        """Send one request and read its answer; every transport failure becomes ours.

        Exceptions are raised `from None`: httpx's carry the request, Authorization included.

        Args:
            request: what to send.
            deadline: the clock reading by which the answer must be in; None means the
                per-phase timeouts alone.
            started: the clock reading `waited_s` counts from (an action's first send); now
                when None.
        """
        now = self._clock()
        started = now if started is None else started
        budget_s = None if deadline is None else deadline - now
        if budget_s is not None and budget_s <= 0:
            raise NotSentError(
                "the deadline passed before the request could be sent", retryable=False
            )
        timeout = self._timeout if budget_s is None else _deadline_timeout(self._timeout, budget_s)
        try:
            async with asyncio.timeout(budget_s):
                http_request = self._http.build_request(
                    request.method,
                    request.url,
                    params=request.params,
                    json=request.json,
                    headers=self._headers(),
                    timeout=timeout,
                )
                response = await self._http.send(http_request, stream=True)
                try:
                    body, readable = await _read_body(response)
                finally:
                    await response.aclose()
        except TimeoutError:
            raise self._no_answer(started) from None
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ProxyError) as e:
            raise NotSentError(
                self._transport_text("could not connect to VectorShift", e)
            ) from None
        except (httpx.UnsupportedProtocol, httpx.LocalProtocolError, httpx.InvalidURL) as e:
            raise NotSentError(
                self._transport_text("the request could not be sent", e), retryable=False
            ) from None
        except httpx.TimeoutException as e:
            raise self._no_answer(started, e) from None
        except httpx.HTTPError as e:
            raise ConnectionLostError(
                self._transport_text("the connection to VectorShift broke mid-request", e),
                waited_s=max(0.0, self._clock() - started),
            ) from None
        return _Reply(response.status_code, response.headers, body, readable)


async def _read_body(response: httpx.Response) -> tuple[bytes, bool]:
    """Up to MAX_BODY_BYTES of the decoded body, and False if it could not be decoded."""
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            chunks.append(chunk)
            size += len(chunk)
            if size >= MAX_BODY_BYTES:
                break
    except httpx.DecodingError:
        return b"", False
    return b"".join(chunks)[:MAX_BODY_BYTES], True
