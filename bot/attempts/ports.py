"""What the use cases need of the outside world, as `Protocol`s (cosmicpython's ports).

`bot.vectorshift.VectorShiftClient`, `bot.audit.repository.AuditRepository` and
`bot.slack.directory.Directory` implement them; the unit tests implement them in memory. No
Slack, SQL or HTTP type appears here.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from datetime import datetime, timedelta
from typing import Protocol

from bot.attempts.lifecycle import Attempt, Change, Requested, Submitted
from bot.domain import Action, ActionResult, Actor, ActorFacts, Pipeline, RunStatus


class VectorShiftPort(Protocol):
    """What the use cases need of VectorShift."""

    async def resolve_pipeline(
        self, *, name: str | None = None, pipeline_id: str | None = None
    ) -> Pipeline: ...

    async def run_status(self, *, pipeline_id: str, run_id: str) -> RunStatus: ...

    async def terminate_run(
        self, *, pipeline_id: str, run_id: str, deadline_s: float
    ) -> ActionResult: ...

    async def pause_run(
        self, *, pipeline_id: str, run_id: str, deadline_s: float
    ) -> ActionResult: ...

    async def resume_run(
        self, *, pipeline_id: str, run_id: str, deadline_s: float
    ) -> ActionResult: ...


class AuditPort(Protocol):
    """What the use cases need of the audit store.

    `start` and `record` apply `bot.attempts.lifecycle` changes; both raise
    `bot.errors.AuditWriteError` when nothing could be written, and the caller fails closed.
    """

    async def start(self, attempt: Attempt) -> Attempt:
        """Record a new attempt (its `Started` event)."""
        ...

    async def start_unless_held(
        self, attempt: Attempt, *, duplicate: Callable[[Attempt], Attempt]
    ) -> tuple[Attempt, Attempt | None]:
        """Record a new attempt, or `duplicate(holder)` when another attempt holds its run, in
        one write; returns the attempt as stored and the holder."""
        ...

    async def record(self, attempt_id: str, change: Change) -> Attempt | None:
        """Apply one change; None when it is not legal from the attempt's current state."""
        ...

    async def submit(
        self, attempt_id: str, change: Submitted | Requested, *, base_url: str
    ) -> tuple[Attempt, Attempt | None] | None:
        """Record a submission (or an approval request) and claim its run in one transaction.

        Returns:
            None when the submission is not legal (a replay); else the pending (or
            awaiting-approval) attempt and the attempt holding the run instead of it (None
            when the claim is this attempt's).
        """
        ...

    async def get(self, attempt_id: str) -> Attempt | None: ...

    async def blocking_attempt(
        self, *, base_url: str, pipeline_id: str, run_id: str, action: Action = Action.TERMINATE
    ) -> Attempt | None:
        """The attempt whose claim keeps `action` off this run (`lifecycle.holds_run`)."""
        ...

    async def budget_times(self, *, user_id: str, rule: str, since: datetime) -> list[datetime]: ...

    async def history(
        self, *, pipeline_ids: Collection[str] | None, run_id: str | None = None, limit: int = 10
    ) -> list[Attempt]: ...

    async def expired_awaiting(self, *, older_than: datetime) -> list[Attempt]: ...

    async def awaiting_approval(self, *, limit: int = 200) -> list[Attempt]:
        """Requests waiting for approval, oldest first."""
        ...

    async def overdue_approvals(self, *, now: datetime) -> list[Attempt]:
        """Requests waiting for approval whose `expires_at` has passed."""
        ...

    async def heartbeat(self, instance_id: str) -> None:
        """Say this instance is alive (SPEC §6)."""
        ...

    async def orphaned_pending(self, *, lapse: timedelta, instance_id: str) -> list[Attempt]:
        """Pending attempts whose owner's heartbeat is older than `lapse` (never our own)."""
        ...


class DirectoryPort(Protocol):
    """What the use cases need to know about Slack users."""

    def upper_bound_facts(self, actor: Actor) -> ActorFacts:
        """The most the actor could turn out to be, from cached data alone (no I/O)."""
        ...

    async def facts(self, actor: Actor) -> ActorFacts: ...

    async def user_name(self, user_id: str) -> str | None: ...
