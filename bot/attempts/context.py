"""`AttemptContext`: what every use case is given, and the facts they all ask for the same way.

One context is built by the composition root (`bot.app`) and handed to the use-case functions
of `confirm`, `execute`, `upkeep` and `queries`, as cosmicpython hands its unit of work to its
handlers. Besides the ports it holds the clock, sleep, deadline and verification delays (seams
the tests replace), and two bounded caches: resolved pipelines (names rarely change; a stale
entry costs only an honest "not found" from VectorShift) and the attempts this instance prepared
that await confirmation (a hint for the submit ack; the database decides).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Final

from cachetools import LRUCache, TTLCache

from bot.attempts.lifecycle import Attempt
from bot.attempts.ports import AuditPort, DirectoryPort, VectorShiftPort
from bot.domain import OBJECT_ID_PATTERN, Actor, ActorFacts, Pipeline, PipelineRef, RunStatus, Where
from bot.policy import Decision, Policy, decide
from bot.vectorshift import AuthError, NotFoundError, VectorShiftError

logger = logging.getLogger(__name__)

BUDGET_WINDOW: Final = timedelta(hours=1)
PIPELINE_TTL_S: Final = 300.0
PIPELINES_KEPT: Final = 4096
HINT_BYTES: Final = 4 * 1024 * 1024
"""Memory for awaiting-confirmation hints; an entry costs its text plus a fixed overhead."""
_ENTRY_OVERHEAD: Final = 512
VERIFY_DELAYS_S: Final = (1.0, 2.0, 4.0, 8.0, 15.0)
"""Pauses before each verification poll after an action (SPEC §4.3)."""
ACCEPTED_NOTICE_AFTER_S: Final = VERIFY_DELAYS_S[0] + 0.5
"""Verification still running this long after VectorShift accepted (past the first poll and
its answer): the modal says it is verifying. Sooner, the result itself is shown."""


def _hint_size(attempt: Attempt) -> int:
    texts = (attempt.reason, attempt.response_url, attempt.pipeline_name, attempt.pipeline_ref)
    return _ENTRY_OVERHEAD + sum(len(t) for t in texts if t)


def _pipelines() -> TTLCache[tuple[str, str], Pipeline]:
    return TTLCache(maxsize=PIPELINES_KEPT, ttl=PIPELINE_TTL_S)


def _hints() -> LRUCache[str, Attempt]:
    return LRUCache(maxsize=HINT_BYTES, getsizeof=_hint_size)


@dataclass
class AttemptContext:
    """The ports, seams and caches the use cases share.

    Attributes:
        vectorshift: the VectorShift port.
        audit: the audit store port.
        directory: Slack user facts and group membership.
        policy: returns the current policy (reloaded elsewhere).
        base_url: the VectorShift base URL, part of the one-in-flight key (§4.4).
        instance_id: this process's identity, the owner of its pending attempts.
        clock: current time, timezone-aware UTC.
        sleep: awaitable sleep, replaced in tests.
        deadline_s: the one deadline of an action call.
        verify_delays_s: pauses before each verification poll (§4.3).
        accepted_notice_after_s: when the modal says "verifying" if no result came yet.
    """

    vectorshift: VectorShiftPort
    audit: AuditPort
    directory: DirectoryPort
    policy: Callable[[], Policy]
    base_url: str
    instance_id: str
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep
    deadline_s: float = 10.0
    verify_delays_s: Sequence[float] = VERIFY_DELAYS_S
    accepted_notice_after_s: float = ACCEPTED_NOTICE_AFTER_S
    pipelines: TTLCache[tuple[str, str], Pipeline] = field(default_factory=_pipelines)
    awaiting: LRUCache[str, Attempt] = field(default_factory=_hints)

    # -- pipelines ------------------------------------------------------------------------------

    @staticmethod
    def known_pipeline_id(policy: Policy, ref: PipelineRef) -> str | None:
        """The pipeline id an alias or id-shaped text names, without asking VectorShift."""
        if ref.quoted:
            return None
        alias = policy.resolve_alias(ref.text)
        if alias is not None:
            return alias
        return ref.text if OBJECT_ID_PATTERN.fullmatch(ref.text) else None

    async def resolve(self, policy: Policy, ref: PipelineRef) -> Pipeline:
        """Resolve an alias, id or name to a pipeline (alias and id-shaped text first).

        Raises:
            NotFoundError: no such pipeline for this key.
            AuthError: the key was refused.
            VectorShiftError: a name could not be looked up.
        """
        known = self.known_pipeline_id(policy, ref)
        if known is not None:
            try:
                return await self._lookup(pipeline_id=known)
            except (NotFoundError, AuthError):
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

    async def _lookup(self, *, name: str | None = None, pipeline_id: str | None = None) -> Pipeline:
        """`resolve_pipeline`, remembered for `PIPELINE_TTL_S` (successes only)."""
        key = ("name", name) if name is not None else ("id", pipeline_id or "")
        cached = self.pipelines.get(key)
        if cached is not None:
            return cached
        pipeline = await self.vectorshift.resolve_pipeline(name=name, pipeline_id=pipeline_id)
        self.pipelines[key] = pipeline
        return pipeline

    async def status(self, pipeline_id: str, run_id: str) -> RunStatus | None:
        """Run status, or None when it cannot be read right now (the caller decides).

        Raises:
            AuthError: the key was refused; nothing else will work either.
        """
        try:
            return await self.vectorshift.run_status(pipeline_id=pipeline_id, run_id=run_id)
        except AuthError:
            raise
        except VectorShiftError as exc:
            logger.warning("run status unavailable: %s", exc)
            return None

    # -- decisions ------------------------------------------------------------------------------

    async def decide(
        self, attempt: Attempt, facts: ActorFacts, policy: Policy, *, counted: bool = False
    ) -> Decision:
        """Decide an attempt on fresh facts and the user's budget.

        Args:
            attempt: the attempt being decided.
            facts: the actor's facts.
            policy: the policy in force.
            counted: the attempt is already `pending` and so in its own budget count; it must
                not use up its own room.
        """

        def judge(budget: Mapping[str, Sequence[datetime]] | None) -> Decision:
            return decide(
                policy,
                actor_of(attempt),
                facts,
                pipeline_id=attempt.pipeline_id,
                where=Where(attempt.channel_id or "", is_dm=attempt.channel_is_dm),
                budget=budget,
                now=self.clock(),
                action=attempt.action,
            )

        # Limits only ever take away: judged without them first, a denial (or an admin) is
        # final, and only the allowing rules that have a limit need their budget read.
        unlimited = judge(None)
        limited = [
            c.rule.name
            for c in unlimited.checks
            if not c.failed and c.rule.max_per_hour is not None
        ]
        if not unlimited.allowed or not limited:
            return unlimited
        own = attempt.requested_at if counted else None
        return judge(await self.budget(attempt.user_id, policy, own=own, rules=limited))

    async def budget(
        self,
        user_id: str,
        policy: Policy,
        *,
        own: datetime | None = None,
        rules: Sequence[str] | None = None,
    ) -> Mapping[str, list[datetime]]:
        """When the user's counted attempts of the last hour were made, per limited rule.

        Args:
            user_id: whose attempts.
            policy: the policy in force.
            own: the requested time of an attempt that must not count against itself.
            rules: only these rules (all limited rules when None).
        """
        since = self.clock() - BUDGET_WINDOW
        budget: dict[str, list[datetime]] = {}
        for rule in policy.rules:
            if rule.max_per_hour is None or (rules is not None and rule.name not in rules):
                continue
            times = await self.audit.budget_times(user_id=user_id, rule=rule.name, since=since)
            if own is not None and own in times:
                times.remove(own)
            budget[rule.name] = times
        return budget


def actor_of(attempt: Attempt) -> Actor:
    """Who made an attempt, as the policy sees them."""
    return Actor(attempt.user_id, attempt.team_id, attempt.enterprise_id, attempt.user_name)
