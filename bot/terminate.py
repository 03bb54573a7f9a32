"""The termination use case: prepare, confirm, terminate, verify, reconcile (SPEC §4.2–4.4, §6).

`TerminateService` owns the order of operations that makes a termination safe: the audit event
is written before any API call (fail closed), the run is claimed in the database so only one
termination per run is ever in flight, the policy and run state are checked again after the
user confirms, the terminate POST is never blindly retried, and after an answer of unknown
effect the run status is read before anything else. It knows nothing of Slack, SQL or HTTP: it
talks to the outside through the `…Port` protocols, implemented by `bot.audit`,
`bot.vectorshift` and `bot.slack.directory`, and takes its clock and sleep as arguments.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import time
import uuid
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Collection, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any, Protocol

from bot.domain import (
    OBJECT_ID_PATTERN,
    Actor,
    ActorFacts,
    Attempt,
    Outcome,
    PipelineRef,
    Source,
    TerminateCommand,
    Where,
)
from bot.errors import BotError
from bot.policy import Decision, Policy, decide
from bot.vectorshift import (
    AuthError,
    BadRequestError,
    DeadlineExceededError,
    NotFoundError,
    NotSentError,
    OperationFailedError,
    Pipeline,
    RateLimitError,
    RunState,
    RunStatus,
    ServerError,
    TerminateResult,
    VectorShiftError,
)

__all__ = [  # the VectorShift value types the Slack layer may see, through this module
    "Pipeline",
    "RunState",
    "RunStatus",
]

logger = logging.getLogger(__name__)

BUDGET_WINDOW = timedelta(hours=1)
PIPELINE_TTL_S = 300.0
"""How long a resolved pipeline (id ↔ name) is reused; names rarely change, and a stale entry
costs only an honest "not found" from the terminate call."""
HINTS_KEPT = 4096
"""Confirmations awaiting submission remembered in-process, so the submit ack skips the DB."""
ABANDON_AFTER = timedelta(minutes=30)
BLOCKING_OUTCOMES = frozenset({Outcome.PENDING, Outcome.SUCCEEDED})


class VectorShiftPort(Protocol):
    """What the service needs of VectorShift (implemented by `VectorShiftClient`)."""

    async def resolve_pipeline(
        self, *, name: str | None = None, pipeline_id: str | None = None
    ) -> Pipeline: ...

    async def run_status(self, *, pipeline_id: str, run_id: str) -> RunStatus: ...

    async def terminate_run(
        self, *, pipeline_id: str, run_id: str, deadline_s: float
    ) -> TerminateResult: ...


class AuditPort(Protocol):
    """What the service needs of the audit store (implemented by `AuditRepository`)."""

    async def add(self, attempt: Attempt) -> Attempt: ...

    async def update(
        self,
        attempt_id: str,
        *,
        expect: Collection[Outcome] | None = None,
        expect_nonce: str | None = None,
        **changes: Any,
    ) -> Attempt | None: ...

    async def get(self, attempt_id: str) -> Attempt | None: ...

    async def start_termination(
        self, attempt_id: str, *, expect_nonce: str, base_url: str, **changes: Any
    ) -> tuple[Attempt, Attempt | None] | None: ...

    async def blocking_attempt(
        self, *, base_url: str, pipeline_id: str, run_id: str
    ) -> Attempt | None: ...

    async def budget_times(self, *, user_id: str, rule: str, since: datetime) -> list[datetime]: ...

    async def history(
        self, *, pipeline_ids: Collection[str] | None, run_id: str | None = None, limit: int = 10
    ) -> list[Attempt]: ...

    async def expired_awaiting(self, *, older_than: datetime) -> list[Attempt]: ...

    async def orphaned_pending(self, *, now: datetime) -> list[Attempt]: ...


class DirectoryPort(Protocol):
    """What the service needs to know about Slack users (implemented in `bot.slack.directory`)."""

    def upper_bound_facts(self, actor: Actor) -> ActorFacts:
        """The most the actor could turn out to be, from cached data alone (no I/O)."""
        ...

    async def facts(self, actor: Actor) -> ActorFacts: ...

    async def user_name(self, user_id: str) -> str | None: ...


class Blocker(StrEnum):
    """Why a confirmation cannot offer the Terminate button."""

    DENIED = "denied"
    PIPELINE_NOT_FOUND = "pipeline_not_found"
    RUN_NOT_FOUND = "run_not_found"
    ALREADY_FINISHED = "already_finished"
    DUPLICATE = "duplicate"
    BAD_KEY = "bad_key"
    LOOKUP_FAILED = "lookup_failed"


class FailureReason(StrEnum):
    """Why a termination did not succeed, in categories `bot.slack.blocks` words for people."""

    BAD_KEY = "bad_key"
    NOT_FOUND = "not_found"
    TIMEOUT = "timeout"
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    SERVER_ERROR = "server_error"
    UNREACHABLE = "unreachable"
    STILL_ACTIVE = "still_active"
    RESTARTED = "restarted"


class LookupFailedError(BotError):
    """A read-only question (status, can-i, history) could not be answered by VectorShift."""

    def __init__(self, blocker: Blocker) -> None:
        self.blocker = blocker
        super().__init__(blocker.value)


def _lookup_blocker(exc: VectorShiftError) -> Blocker:
    if isinstance(exc, NotFoundError):
        return Blocker.PIPELINE_NOT_FOUND
    if isinstance(exc, AuthError):
        return Blocker.BAD_KEY
    return Blocker.LOOKUP_FAILED


@dataclass(frozen=True)
class TerminateRequest:
    """A request to terminate, as it arrives from a command, button or Retry."""

    actor: Actor
    where: Where
    source: Source
    command: TerminateCommand
    request_id: str
    thread_ts: str | None = None
    response_url: str | None = None
    message_channel: str | None = None
    message_ts: str | None = None
    received_at: float | None = None
    """`time.monotonic()` when the request arrived, to tell whether its trigger is still usable."""


@dataclass(frozen=True)
class Preparation:
    """What the confirmation modal shows: the attempt, and either run details or a blocker."""

    attempt: Attempt
    blocker: Blocker | None
    decision: Decision | None = None
    pipeline: Pipeline | None = None
    status: RunStatus | None = None
    holder: Attempt | None = None

    @property
    def require_reason(self) -> bool:
        """Whether the rule that allows this attempt demands a reason."""
        return self.decision is not None and self.decision.require_reason


@dataclass(frozen=True)
class Execution:
    """The end of a termination attempt, for the modal, the channel and the audit mirror."""

    attempt: Attempt
    failure: FailureReason | None = None
    decision: Decision | None = None
    holder: Attempt | None = None
    deadline_s: float = 0.0


@dataclass(frozen=True)
class SubmitCheck:
    """The ack-path verdict on a modal submission: go ahead, or what to tell the user."""

    attempt: Attempt | None
    reason_error: str | None = None

    @property
    def accepted(self) -> bool:
        """Whether the submission may proceed to a termination."""
        return self.attempt is not None and self.reason_error is None


def describe_status(status: RunStatus | None) -> str:
    """A run status in a few words, verbatim where the API's value is unknown to us."""
    if status is None:
        return "unknown"
    if status.state is RunState.UNAVAILABLE:
        return "status unavailable"
    if status.state is RunState.NOT_FOUND:
        return "not found"
    return status.status or status.state.value


class TerminateService:
    """Runs termination attempts from request to verified result.

    Args:
        vectorshift: the VectorShift port.
        audit: the audit store port.
        directory: Slack user facts and group membership.
        policy: returns the current policy (reloaded elsewhere).
        base_url: the VectorShift base URL, part of the one-in-flight key (§4.4).
        instance_id: this process's identity, for leases on pending attempts.
        clock: current time, timezone-aware UTC.
        sleep: awaitable sleep, replaced in tests.
        deadline_s: overall deadline for the terminate call.
        verify_delays_s: pauses before each verification poll (§4.3).
        lease_s: how long a pending attempt belongs to this instance before others may reconcile it.
    """

    def __init__(
        self,
        *,
        vectorshift: VectorShiftPort,
        audit: AuditPort,
        directory: DirectoryPort,
        policy: Callable[[], Policy],
        base_url: str,
        instance_id: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        deadline_s: float = 10.0,
        verify_delays_s: Sequence[float] = (1.0, 2.0, 4.0, 8.0, 15.0),
        lease_s: float = 120.0,
    ) -> None:
        self._vs = vectorshift
        self._audit = audit
        self._directory = directory
        self._policy = policy
        self._base_url = base_url
        self._instance_id = instance_id
        self._clock = clock
        self._sleep = sleep
        self.deadline_s = deadline_s
        self._verify_delays_s = tuple(verify_delays_s)
        self._lease = timedelta(seconds=lease_s)
        # Attempts this instance prepared and that await confirmation: a hint for the submit
        # ack only. The database's compare-and-set in `execute` decides; a miss (another
        # instance prepared it, or it was evicted) falls back to one indexed read.
        self._awaiting: OrderedDict[str, Attempt] = OrderedDict()
        self._pipelines: dict[tuple[str, str], tuple[float, Pipeline]] = {}

    # -- ack path (no I/O) ----------------------------------------------------------------

    def precheck(self, actor: Actor, where: Where, pipeline: PipelineRef) -> Decision:
        """Decide from the policy file and cached membership alone, for the ack.

        The directory gives the user the benefit of every doubt the cache leaves (an unknown
        group counts as theirs): a denial that holds even then is certain and can go back in
        the ack; an allow is decided again after the ack with fresh facts.
        """
        policy = self._policy()
        facts = self._directory.upper_bound_facts(actor)
        return decide(
            policy,
            actor,
            facts,
            pipeline_id=self._known_pipeline_id(policy, pipeline),
            where=where,
        )

    def require_reason(self, attempt: Attempt) -> bool:
        """Whether the attempt's rule, as the policy stands now, demands a reason (no I/O)."""
        policy = self._policy()
        if attempt.rule is None:
            return False
        return any(r.name == attempt.rule and r.require_reason for r in policy.rules)

    # -- attempts -------------------------------------------------------------------------

    def _new_attempt(self, request: TerminateRequest, outcome: Outcome) -> Attempt:
        return Attempt(
            id=str(uuid.uuid4()),
            request_id=request.request_id,
            requested_at=self._clock(),
            user_id=request.actor.user_id,
            user_name=request.actor.user_name,
            team_id=request.actor.team_id,
            enterprise_id=request.actor.enterprise_id,
            channel_id=request.where.channel_id,
            channel_is_dm=request.where.is_dm,
            thread_ts=request.thread_ts,
            source=request.source,
            outcome=outcome,
            run_id=request.command.run_id,
            pipeline_ref=request.command.pipeline.text,
            reason=request.command.reason or None,
            response_url=request.response_url,
            message_channel=request.message_channel,
            message_ts=request.message_ts,
            base_url=self._base_url,
        )

    async def record_denial(self, request: TerminateRequest, decision: Decision) -> Attempt:
        """Record a denial decided on the ack path."""
        attempt = replace(
            self._new_attempt(request, Outcome.DENIED),
            pipeline_id=self._known_pipeline_id(self._policy(), request.command.pipeline),
            rule=decision.rule,
            error=decision.reason,
            completed_at=self._clock(),
        )
        return await self._audit.add(attempt)

    async def prepare(self, request: TerminateRequest) -> Preparation:
        """Start an attempt and gather what the confirmation modal shows.

        Returns:
            The attempt (`awaiting_confirmation` with a fresh nonce when it may go ahead, or
            already final when it may not) and the details or the blocker.

        Raises:
            AuditWriteError: the attempt could not be recorded.
        """
        attempt = await self._audit.add(
            replace(
                self._new_attempt(request, Outcome.AWAITING_CONFIRMATION),
                nonce=secrets.token_urlsafe(16),
            )
        )
        policy = self._policy()
        try:
            pipeline, status, facts, user_name = await self._gather(policy, request)
        except NotFoundError:
            return await self._block(
                attempt, Blocker.PIPELINE_NOT_FOUND, error="pipeline not found"
            )
        except AuthError:
            return await self._block(
                attempt, Blocker.BAD_KEY, error="the bot's VectorShift key was rejected"
            )
        except VectorShiftError as exc:
            return await self._block(attempt, Blocker.LOOKUP_FAILED, error=f"lookup failed: {exc}")
        # Everything learnt here goes into the attempt in ONE write, allowed or blocked.
        details: dict[str, Any] = {
            "pipeline_id": pipeline.id,
            "pipeline_name": pipeline.name,
            "user_name": user_name or attempt.user_name,
        }
        decision = await self._decide(replace(attempt, **details), facts, policy)
        details["rule"] = decision.rule
        found = {"decision": decision, "pipeline": pipeline, "status": status}
        if not decision.allowed:
            return await self._block(
                attempt, Blocker.DENIED, found, error=decision.reason, **details
            )
        if status is not None and status.state is RunState.FINISHED:
            return await self._block(
                attempt,
                Blocker.ALREADY_FINISHED,
                found,
                outcome=Outcome.ALREADY_FINISHED,
                verified_status=describe_status(status),
                **details,
            )
        if status is not None and status.state is RunState.NOT_FOUND:
            return await self._block(
                attempt, Blocker.RUN_NOT_FOUND, found, error="run not found", **details
            )
        holder = await self._audit.blocking_attempt(
            base_url=self._base_url, pipeline_id=pipeline.id, run_id=attempt.run_id or ""
        )
        if holder is not None and holder.id != attempt.id:
            return await self._block(
                attempt,
                Blocker.DUPLICATE,
                {**found, "holder": holder},
                outcome=Outcome.DUPLICATE,
                error=_holder_text(holder),
                **details,
            )
        attempt = await self._audit.update(attempt.id, **details) or attempt
        self._awaiting[attempt.id] = attempt
        if len(self._awaiting) > HINTS_KEPT:
            self._awaiting.popitem(last=False)
        return Preparation(
            attempt=attempt, blocker=None, decision=decision, pipeline=pipeline, status=status
        )

    async def _gather(
        self, policy: Policy, request: TerminateRequest
    ) -> tuple[Pipeline, RunStatus | None, ActorFacts, str | None]:
        """Pipeline, run status and user facts, fetched concurrently where independent."""
        known_id = self._known_pipeline_id(policy, request.command.pipeline)
        run_id = request.command.run_id
        early: asyncio.Task[RunStatus | None] | None = None
        try:
            async with asyncio.TaskGroup() as tg:
                facts = tg.create_task(self._directory.facts(request.actor))
                name = tg.create_task(self._directory.user_name(request.actor.user_id))
                resolved = tg.create_task(self._resolve(policy, request.command.pipeline))
                if known_id is not None:
                    early = tg.create_task(self._status(known_id, run_id))
        except* VectorShiftError as group:
            raise group.exceptions[0] from None
        pipeline = resolved.result()
        if early is not None and known_id == pipeline.id:
            status = early.result()
        else:
            status = await self._status(pipeline.id, run_id)
        return pipeline, status, facts.result(), name.result()

    async def _block(
        self,
        attempt: Attempt,
        blocker: Blocker,
        found: dict[str, Any] | None = None,
        *,
        outcome: Outcome | None = None,
        **changes: Any,
    ) -> Preparation:
        """End a preparation that cannot go ahead, with what was found so far."""
        if outcome is None:
            outcome = Outcome.DENIED if blocker is Blocker.DENIED else Outcome.FAILED
        updated = await self._audit.update(
            attempt.id, expect={Outcome.AWAITING_CONFIRMATION}, outcome=outcome, **changes
        )
        return Preparation(attempt=updated or attempt, blocker=blocker, **(found or {}))

    def check_submission(self, attempt: Attempt | None, nonce: str, reason: str) -> SubmitCheck:
        """The ack-path check of a modal submission: local facts only.

        Args:
            attempt: the attempt read by id (one indexed read), or None if unknown.
            nonce: the nonce from `private_metadata`.
            reason: the reason as typed (already validated for characters and length).
        """
        if (
            attempt is None
            or attempt.outcome is not Outcome.AWAITING_CONFIRMATION
            or not attempt.nonce
            or not secrets.compare_digest(attempt.nonce, nonce)
        ):
            return SubmitCheck(attempt=None)
        if not reason and self.require_reason(attempt):
            return SubmitCheck(
                attempt=attempt, reason_error="A reason is required to terminate this pipeline."
            )
        return SubmitCheck(attempt=attempt)

    async def get(self, attempt_id: str) -> Attempt | None:
        """Read an attempt by id."""
        return await self._audit.get(attempt_id)

    async def awaiting(self, attempt_id: str) -> Attempt | None:
        """The attempt a submission names, for the ack-path check.

        Served from this instance's hint when it prepared the attempt (the hint is taken, so
        a second submission reads the database and finds it no longer awaiting); otherwise
        one indexed read.
        """
        hinted = self._awaiting.pop(attempt_id, None)
        return hinted if hinted is not None else await self._audit.get(attempt_id)

    async def execute(
        self,
        attempt_id: str,
        nonce: str,
        reason: str,
        *,
        on_accepted: Callable[[Attempt], Awaitable[None]] | None = None,
    ) -> Execution | None:
        """Terminate the run of a confirmed attempt and verify that it stopped.

        Args:
            attempt_id: the attempt from the modal's `private_metadata`.
            nonce: its one-time nonce; a replayed submission finds it consumed.
            reason: the reason typed in the modal.
            on_accepted: awaited once VectorShift accepted the terminate call.

        Returns:
            The final execution, or None when the submission was a replay (nothing changed).

        Raises:
            AuditWriteError: an event could not be written; no API call follows a failed write.
        """
        # Consuming the nonce, entering `pending` and claiming the run are one transaction: a
        # replay, a second submission or a late close finds the attempt no longer awaiting and
        # changes nothing, and a concurrent attempt on the same run (any user, any instance)
        # finds this one holding the claim and is told it is a duplicate.
        started = await self._audit.start_termination(
            attempt_id,
            expect_nonce=nonce,
            base_url=self._base_url,
            reason=reason or None,
            lease_owner=self._instance_id,
            lease_until=self._clock() + self._lease,
        )
        if started is None:
            return None
        attempt, holder = started
        if holder is not None:
            return await self._finish(
                attempt, Outcome.DUPLICATE, holder=holder, error=_holder_text(holder)
            )
        pipeline_id, run_id = attempt.pipeline_id or "", attempt.run_id or ""
        # Both re-checks are reads: ask the policy's questions and VectorShift's at once.
        decision, status = await asyncio.gather(
            self._recheck_policy(attempt), self._recheck_status(pipeline_id, run_id)
        )
        if not decision.allowed:
            return await self._finish(
                attempt,
                Outcome.DENIED,
                decision=decision,
                rule=decision.rule,
                error=decision.reason,
            )
        if isinstance(status, AuthError):
            return await self._finish(
                attempt,
                Outcome.FAILED,
                failure=FailureReason.BAD_KEY,
                error="the bot's VectorShift key was rejected",
                http_status=401,
            )
        if status is not None and status.state is RunState.FINISHED:
            return await self._finish(
                attempt, Outcome.ALREADY_FINISHED, verified_status=describe_status(status)
            )
        return await self._call_and_verify(
            replace(attempt, rule=decision.rule), decision, on_accepted
        )

    async def _recheck_policy(self, attempt: Attempt) -> Decision:
        actor = Actor(attempt.user_id, attempt.team_id, attempt.enterprise_id, attempt.user_name)
        facts = await self._directory.facts(actor)
        return await self._decide(attempt, facts, self._policy(), counted=True)

    async def _recheck_status(self, pipeline_id: str, run_id: str) -> RunStatus | AuthError | None:
        """The run's status before terminating; None when unknown (the call itself will tell)."""
        try:
            return await self._vs.run_status(pipeline_id=pipeline_id, run_id=run_id)
        except AuthError as exc:
            return exc
        except VectorShiftError:
            return None

    async def _call_and_verify(
        self,
        attempt: Attempt,
        decision: Decision | None,
        on_accepted: Callable[[Attempt], Awaitable[None]] | None,
    ) -> Execution:
        pipeline_id, run_id = attempt.pipeline_id or "", attempt.run_id or ""
        try:
            result = await self._vs.terminate_run(
                pipeline_id=pipeline_id, run_id=run_id, deadline_s=self.deadline_s
            )
        except VectorShiftError as exc:
            return await self._after_error(attempt, exc, decision)
        # The API's answer is recorded with the verified result, in the attempt's final event.
        attempt = replace(attempt, http_status=result.http_status, api_status=result.api_status)
        if on_accepted is None:
            return await self._verify(attempt, decision)
        # Telling the user it was accepted must not delay the verification polls, and a
        # failure to tell them must not lose the verified result.
        verified, notice = await asyncio.gather(
            self._verify(attempt, decision), on_accepted(attempt), return_exceptions=True
        )
        if isinstance(notice, Exception):
            logger.warning("could not show that the terminate was accepted: %r", notice)
        if isinstance(verified, BaseException):
            raise verified
        return verified

    async def _after_error(
        self, attempt: Attempt, exc: VectorShiftError, decision: Decision | None
    ) -> Execution:
        http_status = getattr(exc, "status_code", None)
        api_status = getattr(exc, "api_status", None)
        failure = _failure_reason(exc)
        if exc.outcome_known:
            return await self._finish(
                attempt,
                Outcome.FAILED,
                failure=failure,
                decision=decision,
                http_status=http_status,
                api_status=api_status,
                error=_error_text(exc),
            )
        # The call may have reached VectorShift: ask for the run status before anything else.
        status = await self._status(attempt.pipeline_id or "", attempt.run_id or "")
        stopped = status is not None and status.state is RunState.FINISHED
        return await self._finish(
            attempt,
            Outcome.SUCCEEDED if stopped else Outcome.UNCONFIRMED,
            failure=None if stopped else failure,
            decision=decision,
            http_status=http_status,
            api_status=api_status,
            error=_error_text(exc),
            verified_status=_verified_text(status),
        )

    async def _verify(self, attempt: Attempt, decision: Decision | None) -> Execution:
        status: RunStatus | None = None
        for delay in self._verify_delays_s:
            await self._sleep(delay)
            status = await self._status(attempt.pipeline_id or "", attempt.run_id or "")
            if status is not None and not _still_running(status):
                return await self._finish(
                    attempt,
                    Outcome.SUCCEEDED,
                    decision=decision,
                    verified_status=_verified_text(status),
                )
        return await self._finish(
            attempt,
            Outcome.UNCONFIRMED,
            failure=FailureReason.STILL_ACTIVE,
            decision=decision,
            verified_status=_verified_text(status),
        )

    async def _finish(
        self,
        attempt: Attempt,
        outcome: Outcome,
        *,
        failure: FailureReason | None = None,
        decision: Decision | None = None,
        holder: Attempt | None = None,
        **changes: Any,
    ) -> Execution:
        carried = {  # facts held in memory since the pending write, saved with the outcome
            "rule": attempt.rule,
            "http_status": attempt.http_status,
            "api_status": attempt.api_status,
        }
        updated = await self._audit.update(
            attempt.id,
            expect={Outcome.AWAITING_CONFIRMATION, Outcome.PENDING},
            outcome=outcome,
            lease_owner=None,
            lease_until=None,
            **{**carried, **changes},
        )
        return Execution(
            attempt=updated or attempt,
            failure=failure,
            decision=decision,
            holder=holder,
            deadline_s=self.deadline_s,
        )

    # -- the attempt's life around the modal ----------------------------------------------

    async def abandon(self, attempt_id: str, nonce: str | None = None) -> Attempt | None:
        """Mark an attempt abandoned if it is still awaiting confirmation.

        Args:
            attempt_id: the attempt whose modal was closed or left open too long.
            nonce: the modal's nonce; once a submission consumed it, a close changes nothing.
        """
        return await self._audit.update(
            attempt_id,
            expect={Outcome.AWAITING_CONFIRMATION},
            expect_nonce=nonce,
            outcome=Outcome.ABANDONED,
        )

    async def sweep_abandoned(self) -> list[Attempt]:
        """Mark attempts whose modal has been open for 30 minutes abandoned."""
        expired = await self._audit.expired_awaiting(older_than=self._clock() - ABANDON_AFTER)
        swept = [await self.abandon(a.id) for a in expired]
        return [a for a in swept if a is not None]

    async def reconcile(self) -> list[Execution]:
        """Settle attempts left `pending` by an instance that is gone (its lease ran out).

        Returns:
            The executions this instance settled; another instance settling the same attempt
            first makes it drop out of the list.
        """
        settled: list[Execution] = []
        for attempt in await self._audit.orphaned_pending(now=self._clock()):
            status = await self._status(attempt.pipeline_id or "", attempt.run_id or "")
            stopped = status is not None and status.state is RunState.FINISHED
            updated = await self._audit.update(
                attempt.id,
                expect={Outcome.PENDING},
                outcome=Outcome.SUCCEEDED if stopped else Outcome.UNCONFIRMED,
                error="the bot restarted during this termination; reconciled from run status",
                verified_status=_verified_text(status),
                lease_owner=None,
                lease_until=None,
            )
            if updated is not None:
                settled.append(
                    Execution(
                        attempt=updated,
                        failure=None if stopped else FailureReason.RESTARTED,
                        deadline_s=self.deadline_s,
                    )
                )
        return settled

    def retry_request(
        self, failed: Attempt, actor: Actor, where: Where, request_id: str, response_url: str | None
    ) -> TerminateRequest | None:
        """A new request that repeats a failed attempt, through all the same checks."""
        if failed.run_id is None or failed.outcome not in {Outcome.FAILED, Outcome.UNCONFIRMED}:
            return None
        return TerminateRequest(
            actor=actor,
            where=where,
            source=Source.RETRY,
            command=TerminateCommand(
                pipeline=PipelineRef(failed.pipeline_id or failed.pipeline_ref or ""),
                run_id=failed.run_id,
                reason=failed.reason or "",
            ),
            request_id=request_id,
            thread_ts=failed.thread_ts,
            response_url=response_url,
            message_channel=failed.message_channel,
            message_ts=failed.message_ts,
        )

    # -- read-only answers ------------------------------------------------------------------

    async def can_terminate(
        self, actor: Actor, where: Where, pipeline: PipelineRef
    ) -> tuple[Decision, Pipeline | None]:
        """Whether `actor` may terminate runs of `pipeline` here, decided on fresh facts.

        Raises:
            LookupFailedError: the pipeline could not be resolved.
        """
        policy = self._policy()
        try:
            resolved = await self._resolve(policy, pipeline)
        except VectorShiftError as exc:
            raise LookupFailedError(_lookup_blocker(exc)) from None
        facts = await self._directory.facts(actor)
        budget = await self._budget(actor.user_id, policy)
        decision = decide(
            policy,
            actor,
            facts,
            pipeline_id=resolved.id,
            where=where,
            budget=budget,
            now=self._clock(),
        )
        return decision, resolved

    async def run_status(self, pipeline: Pipeline, run_id: str) -> RunStatus:
        """Current run status.

        Raises:
            LookupFailedError: VectorShift could not answer.
        """
        try:
            return await self._vs.run_status(pipeline_id=pipeline.id, run_id=run_id)
        except VectorShiftError as exc:
            raise LookupFailedError(_lookup_blocker(exc)) from None

    async def history(
        self, actor: Actor, where: Where, pipeline: PipelineRef | None, run_id: str | None
    ) -> list[Attempt]:
        """The last 10 attempts on pipelines the actor may terminate (here)."""
        policy = self._policy()
        facts = await self._directory.facts(actor)
        if pipeline is not None:
            try:
                resolved = await self._resolve(policy, pipeline)
            except VectorShiftError as exc:
                raise LookupFailedError(_lookup_blocker(exc)) from None
            decision = decide(policy, actor, facts, pipeline_id=resolved.id, where=where)
            if not decision.allowed:
                return []
            return await self._audit.history(pipeline_ids=[resolved.id], run_id=run_id)
        if decide(policy, actor, facts, pipeline_id="*", where=where).allowed:
            return await self._audit.history(pipeline_ids=None)
        allowed = [
            pid
            for rule in policy.rules
            for pid in rule.pipelines
            if pid != "*" and decide(policy, actor, facts, pipeline_id=pid, where=where).allowed
        ]
        return await self._audit.history(pipeline_ids=sorted(set(allowed))) if allowed else []

    # -- helpers ----------------------------------------------------------------------------

    async def _decide(
        self, attempt: Attempt, facts: ActorFacts, policy: Policy, *, counted: bool = False
    ) -> Decision:
        """Decide on fresh facts and the user's budget.

        Args:
            attempt: the attempt being decided.
            facts: the actor's facts.
            policy: the policy in force.
            counted: the attempt is already `pending` and so in its own budget count; it must
                not use up its own room.
        """
        actor = Actor(attempt.user_id, attempt.team_id, attempt.enterprise_id, attempt.user_name)
        where = Where(attempt.channel_id or "", is_dm=attempt.channel_is_dm)
        budget = await self._budget(
            attempt.user_id, policy, own=attempt.requested_at if counted else None
        )
        return decide(
            policy,
            actor,
            facts,
            pipeline_id=attempt.pipeline_id,
            where=where,
            budget=budget,
            now=self._clock(),
        )

    async def _budget(
        self, user_id: str, policy: Policy, *, own: datetime | None = None
    ) -> Mapping[str, list[datetime]]:
        since = self._clock() - BUDGET_WINDOW
        limited = [r.name for r in policy.rules if r.max_per_hour is not None]
        budget: dict[str, list[datetime]] = {}
        for name in limited:
            times = await self._audit.budget_times(user_id=user_id, rule=name, since=since)
            if own is not None and own in times:
                times.remove(own)
            budget[name] = times
        return budget

    @staticmethod
    def _known_pipeline_id(policy: Policy, ref: PipelineRef) -> str | None:
        if ref.quoted:
            return None
        alias = policy.resolve_alias(ref.text)
        if alias is not None:
            return alias
        return ref.text if OBJECT_ID_PATTERN.fullmatch(ref.text) else None

    async def _lookup(self, *, name: str | None = None, pipeline_id: str | None = None) -> Pipeline:
        """`resolve_pipeline`, remembered for `PIPELINE_TTL_S` (successes only)."""
        key = ("name", name) if name is not None else ("id", pipeline_id or "")
        now = time.monotonic()
        cached = self._pipelines.get(key)
        if cached is not None and now - cached[0] < PIPELINE_TTL_S:
            return cached[1]
        pipeline = await self._vs.resolve_pipeline(name=name, pipeline_id=pipeline_id)
        if len(self._pipelines) > HINTS_KEPT:
            self._pipelines.clear()
        self._pipelines[key] = (now, pipeline)
        return pipeline

    async def _resolve(self, policy: Policy, ref: PipelineRef) -> Pipeline:
        """Resolve an alias, id or name to a pipeline (alias and id-shaped text first)."""
        known = self._known_pipeline_id(policy, ref)
        if known is not None:
            try:
                return await self._lookup(pipeline_id=known)
            except NotFoundError:
                raise
            except AuthError:
                raise
            except VectorShiftError:
                # Lookup by id is a convenience for showing the name; without it the id stands.
                alias = ref.text if ref.text != known else None
                return Pipeline(id=known, name=alias)
        try:
            return await self._lookup(name=ref.text)
        except NotFoundError:
            if not ref.could_be_id:
                raise
        return await self._lookup(pipeline_id=ref.text)

    async def _status(self, pipeline_id: str, run_id: str) -> RunStatus | None:
        """Run status, or None when it cannot be read right now (the caller decides)."""
        try:
            return await self._vs.run_status(pipeline_id=pipeline_id, run_id=run_id)
        except AuthError:
            raise
        except VectorShiftError as exc:
            logger.warning("run status unavailable: %s", exc)
            return None


def _still_running(status: RunStatus) -> bool:
    return status.state in {RunState.ACTIVE, RunState.UNKNOWN}


def _verified_text(status: RunStatus | None) -> str:
    if status is None:
        return "unknown (status could not be read)"
    if status.state is RunState.FINISHED:
        return f"stopped ({status.status})"
    if status.state is RunState.UNAVAILABLE:
        return "status unavailable"
    if status.state is RunState.NOT_FOUND:
        return "stopped (run no longer listed)"
    return f"still {status.status or status.state.value}"


def _holder_text(holder: Attempt) -> str:
    verb = "terminated" if holder.outcome is Outcome.SUCCEEDED else "being terminated"
    when = holder.requested_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
    return f"already {verb} by {holder.user_id} at {when} (attempt {holder.id})"


_FAILURE_REASONS: tuple[tuple[type[VectorShiftError], FailureReason], ...] = (
    (AuthError, FailureReason.BAD_KEY),
    (NotFoundError, FailureReason.NOT_FOUND),
    (RateLimitError, FailureReason.RATE_LIMITED),
    (OperationFailedError, FailureReason.REJECTED),
    (BadRequestError, FailureReason.REJECTED),
    (ServerError, FailureReason.SERVER_ERROR),
    (NotSentError, FailureReason.UNREACHABLE),
    (DeadlineExceededError, FailureReason.TIMEOUT),
)


def _failure_reason(exc: VectorShiftError) -> FailureReason:
    for kind, reason in _FAILURE_REASONS:
        if isinstance(exc, kind):
            return reason
    return FailureReason.SERVER_ERROR


def _error_text(exc: VectorShiftError) -> str:
    return f"{type(exc).__name__}: {exc}"[:300]
