"""In-memory implementations of the use cases' ports, for unit tests with no database.

`MemoryAudit` applies changes with the same `lifecycle.apply` the real store calls inside its
transactions, so a move the table forbids is refused here exactly as there. `ScriptedVectorShift`
answers from per-run scripts and records every call; `StaticDirectory` knows fixed facts.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from bot.attempts.lifecycle import (
    Attempt,
    Change,
    Outcome,
    Requested,
    Started,
    Submitted,
    apply,
    holds_run,
)
from bot.domain import Action, ActionResult, Actor, ActorFacts, Pipeline, RunState, RunStatus
from bot.errors import AuditWriteError
from bot.vectorshift import FINISHED_STATUSES, NotFoundError, VectorShiftError

_REACHED_API = frozenset({Outcome.PENDING, Outcome.SUCCEEDED, Outcome.FAILED, Outcome.UNCONFIRMED})


@dataclass
class MemoryAudit:
    """The audit port in a dict: attempts, their events (kind and fields), claims, heartbeats."""

    clock: Clock
    attempts: dict[str, Attempt] = field(default_factory=dict)
    events: list[tuple[str, str, tuple[str, ...]]] = field(default_factory=list)
    claims: dict[tuple[str, str, str], str] = field(default_factory=dict)
    instances: dict[str, tuple[datetime, bool]] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    """Change kinds (and "submitted") whose write fails, as a full disk would."""

    def _fail(self, kind: str) -> None:
        if kind in self.failing:
            raise AuditWriteError(f"could not write the {kind} event")

    def kinds(self, attempt_id: str) -> list[str]:
        """The kinds of an attempt's events, in order."""
        return [kind for aid, kind, _ in self.events if aid == attempt_id]

    async def start(self, attempt: Attempt) -> Attempt:
        self._fail("started")
        applied = apply(None, Started(attempt), now=self.clock())
        assert applied is not None
        self.attempts[attempt.id] = applied.attempt
        self.events.append((attempt.id, applied.kind, applied.recorded))
        return applied.attempt

    async def start_unless_held(
        self, attempt: Attempt, *, duplicate: Callable[[Attempt], Attempt]
    ) -> tuple[Attempt, Attempt | None]:
        holder = await self.blocking_attempt(
            base_url=attempt.base_url or "",
            pipeline_id=attempt.pipeline_id or "",
            run_id=attempt.run_id or "",
            action=attempt.action,
        )
        if holder is not None:
            return await self.start(duplicate(holder)), holder
        return await self.start(attempt), None

    async def record(self, attempt_id: str, change: Change) -> Attempt | None:
        self._fail(change.kind)
        return self._record(attempt_id, change)

    def _record(self, attempt_id: str, change: Change) -> Attempt | None:
        current = self.attempts.get(attempt_id)
        if current is None:
            return None
        applied = apply(current, change, now=self.clock())
        if applied is None:
            return None
        self.attempts[attempt_id] = applied.attempt
        if applied.recorded:
            self.events.append((attempt_id, applied.kind, applied.recorded))
        return applied.attempt

    async def submit(
        self, attempt_id: str, change: Submitted | Requested, *, base_url: str
    ) -> tuple[Attempt, Attempt | None] | None:
        self._fail("submitted")
        pending = self._record(attempt_id, change)
        if pending is None or pending.pipeline_id is None or pending.run_id is None:
            return None
        key = (base_url, pending.pipeline_id, pending.run_id)
        holder_id = self.claims.get(key)
        holder = self.attempts.get(holder_id) if holder_id is not None else None
        if holder is not None and holder.id != attempt_id and holds_run(holder, pending.action):
            return pending, holder
        self.claims[key] = attempt_id
        return pending, None

    async def get(self, attempt_id: str) -> Attempt | None:
        return self.attempts.get(attempt_id)

    async def blocking_attempt(
        self, *, base_url: str, pipeline_id: str, run_id: str, action: Action = Action.TERMINATE
    ) -> Attempt | None:
        holder_id = self.claims.get((base_url, pipeline_id, run_id))
        holder = self.attempts.get(holder_id) if holder_id is not None else None
        return holder if holder is not None and holds_run(holder, action) else None

    async def budget_times(self, *, user_id: str, rule: str, since: datetime) -> list[datetime]:
        return sorted(
            a.requested_at
            for a in self.attempts.values()
            if a.user_id == user_id
            and a.rule == rule
            and a.requested_at >= since
            and a.outcome in _REACHED_API
        )

    async def history(
        self, *, pipeline_ids: Collection[str] | None, run_id: str | None = None, limit: int = 10
    ) -> list[Attempt]:
        found = [
            a
            for a in self.attempts.values()
            if (pipeline_ids is None or a.pipeline_id in pipeline_ids)
            and (run_id is None or a.run_id == run_id)
        ]
        return sorted(found, key=lambda a: (a.requested_at, a.id), reverse=True)[:limit]

    async def expired_awaiting(self, *, older_than: datetime) -> list[Attempt]:
        return [
            a
            for a in self.attempts.values()
            if a.outcome is Outcome.AWAITING_CONFIRMATION and a.requested_at < older_than
        ]

    async def awaiting_approval(self, *, limit: int = 200) -> list[Attempt]:
        waiting = [a for a in self.attempts.values() if a.outcome is Outcome.AWAITING_APPROVAL]
        return sorted(waiting, key=lambda a: (a.requested_at, a.id))[:limit]

    async def overdue_approvals(self, *, now: datetime) -> list[Attempt]:
        return [
            a
            for a in await self.awaiting_approval()
            if a.expires_at is not None and a.expires_at <= now
        ]

    async def heartbeat(self, instance_id: str) -> None:
        self._fail("heartbeat")
        self.instances[instance_id] = (self.clock(), False)

    async def retire(self, instance_id: str) -> None:
        beat, _ = self.instances.get(instance_id, (self.clock(), False))
        self.instances[instance_id] = (beat, True)

    async def orphaned_pending(self, *, lapse: timedelta, instance_id: str) -> list[Attempt]:
        cutoff = self.clock() - lapse

        def gone(owner: str | None) -> bool:
            if owner is None or owner not in self.instances:
                return True
            beat, stopped = self.instances[owner]
            return stopped or beat < cutoff

        return [
            a
            for a in self.attempts.values()
            if a.outcome is Outcome.PENDING and a.owner != instance_id and gone(a.owner)
        ]


class Clock:
    """An aware clock that moves only when told."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Run:
    """A scripted run: the statuses it reports in turn (the last repeats), and what each action
    answers (a result, or an error to raise)."""

    statuses: list[str]
    answers: dict[Action, VectorShiftError | None] = field(default_factory=dict)
    becomes: dict[Action, str] = field(default_factory=dict)
    """The status a successful action switches the run to (the script's next reads)."""


@dataclass
class ScriptedVectorShift:
    """The VectorShift port from scripts; every call is recorded as (what, run id)."""

    pipelines: dict[str, Pipeline] = field(default_factory=dict)
    runs: dict[str, Run] = field(default_factory=dict)
    calls: list[tuple[str, str]] = field(default_factory=list)
    lookup_error: VectorShiftError | None = None

    def add_pipeline(self, pipeline_id: str, name: str) -> None:
        self.pipelines[pipeline_id] = Pipeline(pipeline_id, name)

    def add_run(self, run_id: str, *statuses: str, **answers: VectorShiftError | None) -> Run:
        run = Run(list(statuses) or ["running"])
        run.answers = {Action(name): error for name, error in answers.items()}
        self.runs[run_id] = run
        return run

    def action_calls(self, action: Action = Action.TERMINATE) -> list[str]:
        return [run for what, run in self.calls if what == action.value]

    async def resolve_pipeline(
        self, *, name: str | None = None, pipeline_id: str | None = None
    ) -> Pipeline:
        self.calls.append(("lookup", name or pipeline_id or ""))
        if self.lookup_error is not None:
            raise self.lookup_error
        for pipeline in self.pipelines.values():
            if pipeline.id == pipeline_id or (name is not None and pipeline.name == name):
                return pipeline
        raise NotFoundError(404, "pipeline not found")

    async def run_status(self, *, pipeline_id: str, run_id: str) -> RunStatus:
        self.calls.append(("status", run_id))
        run = self.runs.get(run_id)
        if run is None:
            return RunStatus(RunState.NOT_FOUND, None, "run not found", 404)
        status = run.statuses.pop(0) if len(run.statuses) > 1 else run.statuses[0]
        if isinstance(status, VectorShiftError):
            raise status
        state = RunState.FINISHED if status in FINISHED_STATUSES else RunState.ACTIVE
        return RunStatus(state, status, None, 200)

    async def _act(self, action: Action, run_id: str) -> ActionResult:
        self.calls.append((action.value, run_id))
        run = self.runs[run_id]
        error = run.answers.get(action)
        if error is not None:
            raise error
        if action in run.becomes:
            run.statuses = [run.becomes[action]]
        return ActionResult(action, 200, "success", 1)

    async def terminate_run(
        self, *, pipeline_id: str, run_id: str, deadline_s: float
    ) -> ActionResult:
        return await self._act(Action.TERMINATE, run_id)

    async def pause_run(self, *, pipeline_id: str, run_id: str, deadline_s: float) -> ActionResult:
        return await self._act(Action.PAUSE, run_id)

    async def resume_run(self, *, pipeline_id: str, run_id: str, deadline_s: float) -> ActionResult:
        return await self._act(Action.RESUME, run_id)


@dataclass
class StaticDirectory:
    """Fixed facts per user (plain members of no group by default) and display names."""

    facts_of: dict[str, ActorFacts] = field(default_factory=dict)
    calls: int = 0

    def upper_bound_facts(self, actor: Actor) -> ActorFacts:
        return self.facts_of.get(actor.user_id, ActorFacts())

    async def facts(self, actor: Actor) -> ActorFacts:
        self.calls += 1
        return self.facts_of.get(actor.user_id, ActorFacts())

    async def user_name(self, user_id: str) -> str | None:
        return user_id.lower()


def with_outcome(attempt: Attempt, outcome: Outcome) -> Attempt:
    """A copy in another state (for fixtures that start mid-life)."""
    return replace(attempt, outcome=outcome)
