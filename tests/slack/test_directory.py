"""Group membership and user facts against the stub Web API, on a clock the test moves (SPEC §5).

Membership fetched less than 15 minutes ago still counts when Slack cannot be reached; older
than that it grants nothing. Guests and users of another workspace get nothing through groups.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.domain import Actor
from bot.policy import parse_policy
from bot.slack.directory import GROUP_TTL_S, STALE_LIMIT_S, Directory
from devkit.fakes import FakeSlack, SlackUser

GROUP = "S0ONCALL001"
ALICE = "U0ALICE0001"
POLICY = parse_policy(
    f'[[rules]]\nname = "r"\nwho = ["{GROUP}"]\npipelines = ["*"]\nchannels = ["*"]\n'
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def slack() -> AsyncIterator[FakeSlack]:
    fake = FakeSlack()
    fake.set_group(GROUP, [ALICE])
    fake.ensure_user(ALICE)
    async with fake.serve():
        yield fake


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def directory(slack: FakeSlack, clock: Clock) -> AsyncIterator[Directory]:
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token="xoxb-test", base_url=slack.api_url, session=session)
        yield Directory(
            client, team_id=slack.team_id, enterprise_id=None, policy=lambda: POLICY, clock=clock
        )


async def test_fresh_membership_grants_and_is_not_fetched_again_within_its_ttl(
    directory: Directory, slack: FakeSlack, clock: Clock
) -> None:
    facts = await directory.facts(Actor(ALICE))
    assert (facts.groups, facts.groups_known, facts.is_guest) == (frozenset({GROUP}), True, False)
    clock.now += GROUP_TTL_S - 1
    await directory.facts(Actor(ALICE))
    assert len(slack.calls("usergroups.users.list")) == 1


async def test_stale_membership_counts_while_slack_is_down_until_the_15_minute_limit(
    directory: Directory, slack: FakeSlack, clock: Clock
) -> None:
    await directory.refresh_all()
    slack.fail("usergroups.users.list", "internal_error")

    clock.now += STALE_LIMIT_S - 1  # refetch fails; what is known is old but within the limit
    stale = await directory.facts(Actor(ALICE))
    clock.now += 2  # and now past it
    expired = await directory.facts(Actor(ALICE))

    assert (stale.groups, stale.groups_known) == (frozenset({GROUP}), True)
    assert (expired.groups, expired.groups_known) == (frozenset(), False)


async def test_unknown_membership_is_assumed_on_the_ack_path_only(
    directory: Directory, clock: Clock
) -> None:
    # The ack path may only deny what is certain: a group not fetched yet might include anyone.
    assert directory.upper_bound_facts(Actor("U0SOMEONE01")).groups == frozenset({GROUP})
    await directory.refresh_all()
    assert directory.upper_bound_facts(Actor("U0SOMEONE01")).groups == frozenset()
    clock.now += GROUP_TTL_S + 1
    assert directory.upper_bound_facts(Actor("U0SOMEONE01")).groups == frozenset({GROUP})


async def test_guests_and_users_of_another_workspace_are_marked(
    directory: Directory, slack: FakeSlack
) -> None:
    slack.set_users(
        SlackUser("U0GUEST0001", "guest", is_restricted=True),
        SlackUser("U0FOREIGN01", "visitor", team_id="T0OTHERTEAM"),
    )
    guest = await directory.facts(Actor("U0GUEST0001"))
    foreign = await directory.facts(Actor("U0FOREIGN01"))
    assert (guest.is_guest, foreign.is_foreign) == (True, True)


async def test_a_user_slack_cannot_describe_is_treated_as_a_guest(
    directory: Directory, slack: FakeSlack
) -> None:
    slack.fail("users.info", "fatal_error")
    facts = await directory.facts(Actor(ALICE))
    assert facts.is_guest is True
    assert await directory.user_name(ALICE) is None
