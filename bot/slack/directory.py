"""Cached Slack user facts and user-group membership, for the policy (SPEC §5).

Membership comes from `usergroups.users.list`, one call per group the policy names, cached
and refreshed in the background so the ack never waits on it. Data fetched less than 15
minutes ago still counts when Slack cannot be reached (logged as stale); older than that it
grants nothing. User facts (`users.info`: name, guest flags, home team) are cached for an hour;
when they cannot be fetched the user is treated as a guest, so only a rule naming their id can
grant anything. A Slack error or timeout never grants access.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Actor, ActorFacts
from bot.policy import Policy

logger = logging.getLogger(__name__)

GROUP_TTL_S = 300.0
"""Refresh membership older than this (in the background, or before a post-ack decision)."""
STALE_LIMIT_S = 900.0
"""Membership older than this grants nothing (§5)."""
USER_TTL_S = 3600.0
CALL_TIMEOUT_S = 3.0
GROUPS_KEPT = 1024
USERS_KEPT = 10_000


@dataclass(frozen=True)
class _Group:
    members: frozenset[str]
    fetched_at: float


@dataclass(frozen=True)
class _User:
    name: str | None
    is_guest: bool
    is_foreign: bool
    fetched_at: float


class Directory:
    """Implements the service's `DirectoryPort` on Slack's Web API.

    Args:
        client: the bot's Web API client.
        team_id: the app's own workspace (from `auth.test`).
        enterprise_id: the app's Enterprise Grid org, if any.
        policy: returns the current policy, to know which groups matter.
        clock: monotonic seconds, replaced in tests.
    """

    def __init__(
        self,
        client: AsyncWebClient,
        *,
        team_id: str | None,
        enterprise_id: str | None,
        policy: Callable[[], Policy],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client = client
        self._team_id = team_id
        self._enterprise_id = enterprise_id
        self._policy = policy
        self._clock = clock
        # Membership older than the staleness limit grants nothing, so it may as well go; user
        # facts are refetched after an hour. Both are bounded whatever the request mix.
        self._groups: TTLCache[str, _Group] = TTLCache(
            maxsize=GROUPS_KEPT, ttl=STALE_LIMIT_S, timer=clock
        )
        self._users: TTLCache[str, _User] = TTLCache(
            maxsize=USERS_KEPT, ttl=USER_TTL_S, timer=clock
        )
        self._refreshing: dict[str, asyncio.Future[None]] = {}
        self._named: tuple[Policy, frozenset[str]] | None = None

    def groups_named(self, policy: Policy) -> frozenset[str]:
        """Every user-group id (S…) that the policy's rules mention, approvers included.

        Asked several times per request; worked out once per policy (a reload makes a new one).
        """
        named = self._named
        if named is not None and named[0] is policy:
            return named[1]
        groups = frozenset(
            who for rule in policy.rules for who in (*rule.who, *rule.approvers) if who[:1] == "S"
        )
        self._named = (policy, groups)
        return groups

    def upper_bound_facts(self, actor: Actor) -> ActorFacts:
        """The most the cache allows the actor to be, without I/O (for the ack path).

        A group whose membership is cached and fresh counts as it is; any other group the
        policy names is assumed to include the actor; an unknown user is assumed not to be a
        guest. A denial under these facts holds under the real ones too, so it can be given in
        the ack; an allow is only provisional and is decided again after the ack.
        """
        now = self._clock()
        groups = set()
        for group_id in self.groups_named(self._policy()):
            group = self._groups.get(group_id)
            if (
                group is None
                or now - group.fetched_at > GROUP_TTL_S
                or actor.user_id in group.members
            ):
                groups.add(group_id)
        user = self._users.get(actor.user_id)
        known = user is not None and now - user.fetched_at <= USER_TTL_S
        return ActorFacts(
            groups=frozenset(groups),
            is_guest=known and user is not None and user.is_guest,
            is_foreign=known and user is not None and user.is_foreign,
        )

    async def facts(self, actor: Actor) -> ActorFacts:
        """Fresh-enough facts: refreshes what is due, never raises for Slack trouble."""
        named = self.groups_named(self._policy())
        now = self._clock()
        due = [
            g
            for g in named
            if (group := self._groups.get(g)) is None or now - group.fetched_at > GROUP_TTL_S
        ]
        await asyncio.gather(self._user(actor.user_id), *(self.refresh_group(g) for g in due))
        user = self._users.get(actor.user_id)
        return self._facts(actor, user, self._clock())

    def _facts(self, actor: Actor, user: _User | None, now: float) -> ActorFacts:
        named = self.groups_named(self._policy())
        fresh = {
            g: group
            for g in named
            if (group := self._groups.get(g)) is not None
            and now - group.fetched_at <= STALE_LIMIT_S
        }
        for g, group in fresh.items():
            if now - group.fetched_at > GROUP_TTL_S:
                logger.info("using stale membership of %s (%.0f s old)", g, now - group.fetched_at)
        return ActorFacts(
            groups=frozenset(g for g, group in fresh.items() if actor.user_id in group.members),
            groups_known=len(fresh) == len(named),
            is_guest=True if user is None else user.is_guest,
            is_foreign=False if user is None else user.is_foreign,
        )

    async def user_name(self, user_id: str) -> str | None:
        """The user's display name (cached), or None if Slack cannot say."""
        user = await self._user(user_id)
        return None if user is None else user.name

    async def refresh_all(self) -> None:
        """Refresh every group the policy names (the periodic background job)."""
        await asyncio.gather(*(self.refresh_group(g) for g in self.groups_named(self._policy())))

    async def refresh_group(self, group_id: str) -> None:
        """Fetch one group's members; concurrent callers share one call; failures keep the old."""
        await self._once(f"group:{group_id}", lambda: self._fetch_group(group_id))

    async def _once(self, key: str, fetch: Callable[[], Awaitable[None]]) -> None:
        """Run `fetch` unless the same fetch is already in flight; then wait for that one."""
        running = self._refreshing.get(key)
        if running is not None:
            await asyncio.shield(running)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._refreshing[key] = future
        try:
            await fetch()
        finally:
            del self._refreshing[key]
            future.set_result(None)

    async def _fetch_group(self, group_id: str) -> None:
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                response = await self._client.usergroups_users_list(usergroup=group_id)
            users = response.get("users") or []
            self._groups[group_id] = _Group(
                members=frozenset(u for u in users if isinstance(u, str)), fetched_at=self._clock()
            )
        except (SlackApiError, TimeoutError, OSError) as exc:
            logger.warning("could not refresh members of %s: %s", group_id, _slack_error(exc))

    async def _user(self, user_id: str) -> _User | None:
        cached = self._users.get(user_id)
        if cached is not None and self._clock() - cached.fetched_at <= USER_TTL_S:
            return cached
        await self._once(f"user:{user_id}", lambda: self._fetch_user(user_id))
        return self._users.get(user_id)

    async def _fetch_user(self, user_id: str) -> None:
        try:
            async with asyncio.timeout(CALL_TIMEOUT_S):
                response = await self._client.users_info(user=user_id)
        except (SlackApiError, TimeoutError, OSError) as exc:
            logger.warning("could not look up user %s: %s", user_id, _slack_error(exc))
            return
        info: dict[str, Any] = response.get("user") or {}
        user = _User(
            name=_display_name(info),
            is_guest=bool(info.get("is_restricted") or info.get("is_ultra_restricted")),
            is_foreign=self._is_foreign(info),
            fetched_at=self._clock(),
        )
        self._users[user_id] = user

    def _is_foreign(self, info: dict[str, Any]) -> bool:
        enterprise = (info.get("enterprise_user") or {}).get("enterprise_id")
        if self._enterprise_id is not None and enterprise == self._enterprise_id:
            return False
        team = info.get("team_id")
        return team is not None and self._team_id is not None and team != self._team_id


def _display_name(info: dict[str, Any]) -> str | None:
    profile = info.get("profile") or {}
    for candidate in (profile.get("display_name"), profile.get("real_name"), info.get("name")):
        if isinstance(candidate, str) and candidate.strip():
            return candidate.strip()[:80]
    return None


def _slack_error(exc: BaseException) -> str:
    if isinstance(exc, SlackApiError):
        return str(exc.response.get("error", "error"))
    return type(exc).__name__
