"""The policy engine: parsing, validation messages, decisions and their explanations (SPEC §5)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot.domain import Action, Actor, ActorFacts, Where
from bot.errors import PolicyFileError
from bot.policy import (
    Approval,
    Decision,
    Facet,
    Policy,
    Rule,
    decide,
    describe,
    explain,
    load_policy,
    may_approve,
    parse_policy,
    parse_policy_bytes,
    suspicious_ids,
)

ETL = "65f1c0ffee0123456789abcd"
BILLING = "65f1c0ffee0123456789beef"
OTHER = "65f1c0ffee0123456789f00d"
UNLISTED = "aaaaaaaaaaaaaaaaaaaaaaaa"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
REPO = Path(__file__).resolve().parents[2]

POLICY_TEXT = f"""\
admins = ["U0ADMIN01", "W0GRIDADM"]

[aliases]
nightly-etl = "{ETL}"
billing = "{BILLING}"

[[rules]]
name = "data-oncall"
who = ["S0DATAONCALL", "U0ALICE", "W0GRIDBOB", "U0GUESTNAMED", "U0FOREIGNNAMED"]
pipelines = ["nightly-etl"]
channels = ["C0INCIDENTS"]
require_reason = true

[[rules]]
name = "sre-anywhere"
who = ["S0SRE"]
pipelines = ["*"]
channels = ["*"]

[[rules]]
name = "billing-team"
who = ["U0CAROL"]
pipelines = ["billing", "{OTHER}"]
channels = ["C0BILLING", "G0PRIVATE"]
"""
POLICY = parse_policy(POLICY_TEXT)
ONCALL_ONLY = parse_policy("[[rules]]".join(POLICY_TEXT.split("[[rules]]")[:2]))
"""Admins, aliases and the data-oncall rule alone."""

BUDGET_POLICY = parse_policy(
    """\
[[rules]]
name = "limited"
who = ["U0ALICE"]
pipelines = ["*"]
channels = ["C0INCIDENTS"]
max_per_hour = 2

[[rules]]
name = "overflow"
who = ["U0ALICE", "U0BOB"]
pipelines = ["*"]
channels = ["C0INCIDENTS"]
max_per_hour = 3

[[rules]]
name = "unlimited"
who = ["U0CAROL"]
pipelines = ["*"]
channels = ["C0INCIDENTS"]
"""
)

INCIDENTS = Where("C0INCIDENTS")
DM = Where("D0DIRECT1", is_dm=True)
GROUP_DM = Where("G0MPIMABC", is_dm=True)
NO_GROUPS = ActorFacts()
DATA_ONCALL = ActorFacts(groups=frozenset({"S0DATAONCALL"}))
SRE = ActorFacts(groups=frozenset({"S0SRE"}))


def minutes(n: float) -> timedelta:
    return timedelta(minutes=n)


@dataclass(frozen=True)
class Case:
    user: str
    facts: ActorFacts
    pipeline: str | None
    where: Where
    allowed: bool
    rule: str | None
    failed: tuple[Facet, ...] = ()


DECIDE_CASES = {
    "admin in any channel": Case(
        "U0ADMIN01", NO_GROUPS, UNLISTED, Where("C0RANDOM1"), True, "admins"
    ),
    "admin in a DM": Case("U0ADMIN01", NO_GROUPS, ETL, DM, True, "admins"),
    "admin in a group DM": Case("U0ADMIN01", NO_GROUPS, ETL, GROUP_DM, True, "admins"),
    "grid admin by W id in a DM": Case("W0GRIDADM", NO_GROUPS, ETL, DM, True, "admins"),
    "admin who is a guest": Case("U0ADMIN01", ActorFacts(is_guest=True), ETL, DM, True, "admins"),
    "admin from another org": Case(
        "U0ADMIN01", ActorFacts(is_foreign=True), ETL, INCIDENTS, True, "admins"
    ),
    "user named by id": Case("U0ALICE", NO_GROUPS, ETL, INCIDENTS, True, "data-oncall"),
    "user named by id, upper-case pipeline id": Case(
        "U0ALICE", NO_GROUPS, ETL.upper(), INCIDENTS, True, "data-oncall"
    ),
    "user named by id, wrong channel": Case(
        "U0ALICE", NO_GROUPS, ETL, Where("C0OTHER01"), False, "data-oncall", (Facet.CHANNEL,)
    ),
    "user named by id, wrong pipeline": Case(
        "U0ALICE", NO_GROUPS, BILLING, INCIDENTS, False, "data-oncall", (Facet.PIPELINE,)
    ),
    "user named by id, in a DM": Case(
        "U0ALICE", NO_GROUPS, ETL, DM, False, "data-oncall", (Facet.CHANNEL,)
    ),
    "grid user by W id": Case("W0GRIDBOB", NO_GROUPS, ETL, INCIDENTS, True, "data-oncall"),
    "group member in the rule's channel": Case(
        "U0DAVE", DATA_ONCALL, ETL, INCIDENTS, True, "data-oncall"
    ),
    "group member in another channel": Case(
        "U0DAVE", DATA_ONCALL, ETL, Where("C0OTHER01"), False, "data-oncall", (Facet.CHANNEL,)
    ),
    "member of an unrelated group": Case(
        "U0DAVE",
        ActorFacts(groups=frozenset({"S0UNRELATED"})),
        ETL,
        INCIDENTS,
        False,
        "data-oncall",
        (Facet.WHO,),
    ),
    "star pipeline and channel allow any pipeline anywhere": Case(
        "U0ERIN", SRE, UNLISTED, Where("C0RANDOM1"), True, "sre-anywhere"
    ),
    "star channel does not cover a DM": Case(
        "U0ERIN", SRE, UNLISTED, DM, False, "sre-anywhere", (Facet.CHANNEL,)
    ),
    "star channel does not cover a group DM": Case(
        "U0ERIN", SRE, UNLISTED, GROUP_DM, False, "sre-anywhere", (Facet.CHANNEL,)
    ),
    "explicit private channel id": Case(
        "U0CAROL", NO_GROUPS, BILLING, Where("G0PRIVATE"), True, "billing-team"
    ),
    "pipeline reached through its alias": Case(
        "U0CAROL", NO_GROUPS, BILLING, Where("C0BILLING"), True, "billing-team"
    ),
    "pipeline listed by id": Case(
        "U0CAROL", NO_GROUPS, OTHER, Where("C0BILLING"), True, "billing-team"
    ),
    "unknown user where a rule covers the rest": Case(
        "U0NOBODY", NO_GROUPS, ETL, INCIDENTS, False, "data-oncall", (Facet.WHO,)
    ),
    "unknown user elsewhere: closest is the star rule": Case(
        "U0NOBODY", NO_GROUPS, UNLISTED, Where("C0RANDOM1"), False, "sre-anywhere", (Facet.WHO,)
    ),
    "tie on closeness goes to the earlier rule": Case(
        "U0CAROL", NO_GROUPS, BILLING, INCIDENTS, False, "sre-anywhere", (Facet.WHO,)
    ),
    "nobody in a DM: closest is the rule covering the pipeline": Case(
        "U0NOBODY",
        NO_GROUPS,
        UNLISTED,
        DM,
        False,
        "sre-anywhere",
        (Facet.WHO, Facet.CHANNEL),
    ),
    "guest through a group is denied": Case(
        "U0GUEST01",
        ActorFacts(groups=frozenset({"S0DATAONCALL"}), is_guest=True),
        ETL,
        INCIDENTS,
        False,
        "data-oncall",
        (Facet.IDENTITY,),
    ),
    "guest named by id is allowed": Case(
        "U0GUESTNAMED", ActorFacts(is_guest=True), ETL, INCIDENTS, True, "data-oncall"
    ),
    "foreign user through a group is denied": Case(
        "U0FOREIGN",
        ActorFacts(groups=frozenset({"S0SRE"}), is_foreign=True),
        UNLISTED,
        Where("C0RANDOM1"),
        False,
        "sre-anywhere",
        (Facet.IDENTITY,),
    ),
    "foreign user named by id is allowed": Case(
        "U0FOREIGNNAMED", ActorFacts(is_foreign=True), ETL, INCIDENTS, True, "data-oncall"
    ),
    "unknown membership grants nothing through groups": Case(
        "U0DAVE",
        ActorFacts(groups=frozenset({"S0DATAONCALL"}), groups_known=False),
        ETL,
        INCIDENTS,
        False,
        "data-oncall",
        (Facet.WHO,),
    ),
    "unknown membership still honours a direct id": Case(
        "U0ALICE", ActorFacts(groups_known=False), ETL, INCIDENTS, True, "data-oncall"
    ),
    "second group's rule allows where the first's does not": Case(
        "U0DAVE",
        ActorFacts(groups=frozenset({"S0DATAONCALL", "S0SRE"})),
        ETL,
        Where("C0OTHER01"),
        True,
        "sre-anywhere",
    ),
    "pending pipeline, who and channel match": Case(
        "U0ALICE", NO_GROUPS, None, INCIDENTS, True, "data-oncall"
    ),
    "pending pipeline, wrong channel": Case(
        "U0ALICE", NO_GROUPS, None, Where("C0OTHER01"), False, "data-oncall", (Facet.CHANNEL,)
    ),
    "pending pipeline through a star rule": Case(
        "U0ERIN", SRE, None, Where("C0RANDOM1"), True, "sre-anywhere"
    ),
    "pending pipeline, unknown user": Case(
        "U0NOBODY", NO_GROUPS, None, INCIDENTS, False, "data-oncall", (Facet.WHO,)
    ),
}


@pytest.mark.parametrize("case", DECIDE_CASES.values(), ids=DECIDE_CASES.keys())
def test_decide_follows_the_policy(case: Case) -> None:
    decision = decide(
        POLICY, Actor(case.user), case.facts, pipeline_id=case.pipeline, where=case.where, now=NOW
    )
    assert (decision.allowed, decision.rule, decision.failed) == (
        case.allowed,
        case.rule,
        case.failed,
    )
    # Every rule's check explains the decision; an admin's needs no explaining.
    every_rule = ["data-oncall", "sre-anywhere", "billing-team"]
    expected = [] if case.rule == "admins" else every_rule
    assert [c.rule.name for c in decision.checks] == expected


@dataclass(frozen=True)
class BudgetCase:
    user: str
    budget: dict[str, list[datetime]] | None
    allowed: bool
    rule: str
    retry_at: datetime | None = None


BUDGET_CASES = {
    "no budget fetched: limits not applied": BudgetCase("U0ALICE", None, True, "limited"),
    "no attempts yet": BudgetCase("U0ALICE", {}, True, "limited"),
    "under the limit": BudgetCase("U0ALICE", {"limited": [NOW - minutes(10)]}, True, "limited"),
    "at the limit, the next rule has room": BudgetCase(
        "U0ALICE",
        {"limited": [NOW - minutes(50), NOW - minutes(10)]},
        True,
        "overflow",
    ),
    "attempts an hour old or older do not count": BudgetCase(
        "U0ALICE",
        {"limited": [NOW - minutes(90), NOW - minutes(60), NOW - minutes(10)]},
        True,
        "limited",
    ),
    "every matching rule over its limit": BudgetCase(
        "U0ALICE",
        {
            "limited": [NOW - minutes(10), NOW - minutes(50)],
            "overflow": [NOW - minutes(40), NOW - minutes(30), NOW - minutes(5)],
        },
        False,
        "limited",
        NOW + minutes(10),
    ),
    "the rule with room soonest sets retry_at": BudgetCase(
        "U0ALICE",
        {
            "limited": [NOW - minutes(20), NOW - minutes(10)],
            "overflow": [NOW - minutes(59), NOW - minutes(30), NOW - minutes(5)],
        },
        False,
        "limited",
        NOW + minutes(1),
    ),
    "over the limit: room returns when enough attempts age out": BudgetCase(
        "U0BOB",
        {"overflow": [NOW - minutes(25), NOW - minutes(55), NOW - minutes(45), NOW - minutes(35)]},
        False,
        "overflow",
        NOW + minutes(15),
    ),
    "a rule without max_per_hour ignores its attempts": BudgetCase(
        "U0CAROL", {"unlimited": [NOW - minutes(1)] * 50}, True, "unlimited"
    ),
}


@pytest.mark.parametrize("case", BUDGET_CASES.values(), ids=BUDGET_CASES.keys())
def test_decide_applies_max_per_hour(case: BudgetCase) -> None:
    decision = decide(
        BUDGET_POLICY,
        Actor(case.user),
        NO_GROUPS,
        pipeline_id=ETL,
        where=INCIDENTS,
        budget=case.budget,
        now=NOW,
    )
    assert (decision.allowed, decision.rule, decision.retry_at) == (
        case.allowed,
        case.rule,
        case.retry_at,
    )
    assert decision.failed == (() if case.allowed else (Facet.BUDGET,))


def _decide(
    user: str,
    pipeline: str | None,
    where: Where,
    facts: ActorFacts = NO_GROUPS,
    policy: Policy = POLICY,
) -> Decision:
    return decide(policy, Actor(user), facts, pipeline_id=pipeline, where=where, now=NOW)


REASON_CASES = {
    "channel": (
        _decide("U0ALICE", ETL, Where("C0OTHER01")),
        "Rule data-oncall does not cover channel C0OTHER01 (it allows C0INCIDENTS).",
    ),
    "pipeline, named by its alias": (
        _decide("U0ALICE", BILLING, INCIDENTS),
        "Rule data-oncall does not cover pipeline billing (it allows nightly-etl).",
    ),
    "who": (
        _decide("U0NOBODY", ETL, INCIDENTS),
        "Rule data-oncall does not include you (it allows S0DATAONCALL, U0ALICE, "
        "U0FOREIGNNAMED, U0GUESTNAMED, W0GRIDBOB).",
    ),
    "several facets": (
        _decide("U0NOBODY", UNLISTED, DM, policy=ONCALL_ONLY),
        "Rule data-oncall does not include you (it allows S0DATAONCALL, U0ALICE, "
        f"U0FOREIGNNAMED, U0GUESTNAMED, W0GRIDBOB), does not cover pipeline {UNLISTED} "
        "(it allows nightly-etl) and does not cover direct messages or group DMs "
        "(it allows C0INCIDENTS).",
    ),
    "star channel in a DM": (
        _decide("U0ERIN", UNLISTED, DM, SRE),
        "Rule sre-anywhere does not cover direct messages or group DMs "
        "(it allows any channel except DMs).",
    ),
    "guest": (
        _decide("U0GUEST01", ETL, INCIDENTS, ActorFacts(groups=DATA_ONCALL.groups, is_guest=True)),
        "Rule data-oncall includes you only through S0DATAONCALL, and guests must be named "
        "by user id.",
    ),
    "foreign": (
        _decide(
            "U0FOREIGN", ETL, INCIDENTS, ActorFacts(groups=DATA_ONCALL.groups, is_foreign=True)
        ),
        "Rule data-oncall includes you only through S0DATAONCALL, and users from another "
        "workspace or organization must be named by user id.",
    ),
    "membership unknown": (
        _decide("U0DAVE", ETL, INCIDENTS, ActorFacts(groups_known=False)),
        "Rule data-oncall does not name you, and your user-group membership could not be "
        "checked recently (it allows S0DATAONCALL, U0ALICE, U0FOREIGNNAMED, U0GUESTNAMED, "
        "W0GRIDBOB).",
    ),
    "allowed by a rule": (
        _decide("U0ALICE", ETL, INCIDENTS),
        f"Rule data-oncall lets you terminate runs of nightly-etl ({ETL}) in C0INCIDENTS.",
    ),
    "allowed for a pipeline without an alias": (
        _decide("U0CAROL", OTHER, Where("C0BILLING")),
        f"Rule billing-team lets you terminate runs of {OTHER} in C0BILLING.",
    ),
    "allowed before the pipeline is known": (
        _decide("U0CAROL", None, Where("C0BILLING")),
        f"Rule billing-team lets you terminate runs of {OTHER}, billing in C0BILLING "
        "(the pipeline is checked once it is known).",
    ),
    "admin": (
        _decide("U0ADMIN01", ETL, DM),
        "You are an admin, so you may terminate any run anywhere.",
    ),
    "no rules, only admins": (
        _decide("U0ALICE", ETL, INCIDENTS, policy=parse_policy('admins = ["U0ADMIN01"]')),
        "The policy has no rules, so only admins may terminate runs.",
    ),
    "empty policy": (
        _decide("U0ALICE", ETL, INCIDENTS, policy=Policy.empty()),
        "The policy is empty, so nobody may terminate runs.",
    ),
}


@pytest.mark.parametrize(("decision", "reason"), REASON_CASES.values(), ids=REASON_CASES.keys())
def test_decision_reason_is_one_plain_sentence(decision: Decision, reason: str) -> None:
    assert decision.reason == reason


def test_budget_denial_says_when_to_try_again_rounded_up_to_the_minute() -> None:
    decision = decide(
        BUDGET_POLICY,
        Actor("U0BOB"),
        NO_GROUPS,
        pipeline_id=ETL,
        where=INCIDENTS,
        budget={"overflow": [NOW - minutes(50) + timedelta(seconds=30)] * 3},
        now=NOW,
    )
    assert decision.retry_at == datetime(2026, 1, 1, 12, 10, 30, tzinfo=UTC)
    assert decision.reason == (
        "Rule overflow allows 3 terminations per hour per person and you have used them all; "
        "try again at 12:11 UTC."
    )


def test_budget_denial_over_several_rules_names_them_all() -> None:
    decision = decide(
        BUDGET_POLICY,
        Actor("U0ALICE"),
        NO_GROUPS,
        pipeline_id=ETL,
        where=INCIDENTS,
        budget={"limited": [NOW - minutes(30)] * 2, "overflow": [NOW - minutes(45)] * 3},
        now=NOW,
    )
    assert decision.retry_at == NOW + minutes(15)
    assert decision.reason == (
        "You have used the hourly limit of rules limited and overflow; try again at 12:15 UTC."
    )
    assert [c.failed for c in decision.checks] == [(Facet.BUDGET,), (Facet.BUDGET,), (Facet.WHO,)]
    assert decision.checks[0].reasons == (
        "allows 2 per hour per person and you have used them all; try again at 12:30 UTC",
    )


def test_allowing_rule_carries_its_require_reason() -> None:
    assert _decide("U0ALICE", ETL, INCIDENTS).require_reason is True
    assert _decide("U0ERIN", ETL, Where("C0OTHER01"), SRE).require_reason is False
    assert _decide("U0ADMIN01", ETL, INCIDENTS).require_reason is False


WHO_COULD_CASES = {
    "admins and the star rule's group": (
        _decide("U0ALICE", ETL, Where("C0OTHER01")),
        ("U0ADMIN01", "W0GRIDADM", "S0SRE"),
    ),
    "every rule covering pipeline and channel, in file order": (
        _decide("U0NOBODY", ETL, INCIDENTS),
        (
            "U0ADMIN01",
            "W0GRIDADM",
            "S0DATAONCALL",
            "U0ALICE",
            "U0FOREIGNNAMED",
            "U0GUESTNAMED",
            "W0GRIDBOB",
            "S0SRE",
        ),
    ),
    # Alice is in both limited rules and has used both up: the others who could, not her.
    "the actor is left out": (
        decide(
            BUDGET_POLICY,
            Actor("U0ALICE"),
            NO_GROUPS,
            pipeline_id=ETL,
            where=INCIDENTS,
            budget={"limited": [NOW - timedelta(minutes=5)] * 2, "overflow": [NOW] * 3},
            now=NOW,
        ),
        ("U0BOB", "U0CAROL"),
    ),
    # An allowed request names nobody else: "who could instead" answers only a denial.
    "nobody for an allowed request": (
        _decide("U0GUESTNAMED", ETL, INCIDENTS, ActorFacts(is_guest=True)),
        (),
    ),
    "only admins in a DM": (_decide("U0ERIN", ETL, DM, SRE), ("U0ADMIN01", "W0GRIDADM")),
    "pending pipeline: rules covering the channel": (
        _decide("U0NOBODY", None, Where("C0BILLING")),
        ("U0ADMIN01", "W0GRIDADM", "S0SRE", "U0CAROL"),
    ),
    "nobody under an empty policy": (_decide("U0ALICE", ETL, INCIDENTS, policy=Policy.empty()), ()),
}


@pytest.mark.parametrize(("decision", "who"), WHO_COULD_CASES.values(), ids=WHO_COULD_CASES.keys())
def test_who_could_lists_admins_then_covering_rules(
    decision: Decision, who: tuple[str, ...]
) -> None:
    assert decision.who_could == who


def test_each_check_explains_every_failed_facet() -> None:
    decision = _decide("U0CAROL", ETL, INCIDENTS)
    assert [(c.rule.name, c.failed, c.reasons) for c in decision.checks] == [
        (
            "data-oncall",
            (Facet.WHO,),
            (
                "does not include you (it allows S0DATAONCALL, U0ALICE, U0FOREIGNNAMED, "
                "U0GUESTNAMED, W0GRIDBOB)",
            ),
        ),
        ("sre-anywhere", (Facet.WHO,), ("does not include you (it allows S0SRE)",)),
        (
            "billing-team",
            (Facet.PIPELINE, Facet.CHANNEL),
            (
                f"does not cover pipeline nightly-etl (it allows {OTHER}, billing)",
                "does not cover channel C0INCIDENTS (it allows C0BILLING, G0PRIVATE)",
            ),
        ),
    ]


def test_long_who_lists_are_shortened_in_reasons() -> None:
    who = ", ".join(f'"U0USER{n:04d}"' for n in range(8))
    policy = parse_policy(
        f'[[rules]]\nname = "big"\nwho = [{who}]\npipelines = ["*"]\nchannels = ["*"]\n'
    )
    decision = _decide("U0NOBODY", ETL, INCIDENTS, policy=policy)
    assert decision.reason == (
        "Rule big does not include you (it allows U0USER0000, U0USER0001, U0USER0002, "
        "U0USER0003, U0USER0004 and 3 more)."
    )


# ---------------------------------------------------------------------------------------------
# explain, describe, suspicious_ids, aliases


def test_explain_an_allowed_request_names_the_rule_and_the_reason_requirement() -> None:
    assert explain(_decide("U0ALICE", ETL, INCIDENTS)) == [
        f"Allowed. Rule data-oncall lets you terminate runs of nightly-etl ({ETL}) in C0INCIDENTS.",
        "A reason is required.",
    ]


def test_explain_an_admin() -> None:
    assert explain(_decide("U0ADMIN01", ETL, DM)) == [
        "Allowed. You are an admin, so you may terminate any run anywhere."
    ]


def test_explain_a_denial_gives_every_rule_and_who_could_instead() -> None:
    assert explain(_decide("U0CAROL", ETL, INCIDENTS)) == [
        "Denied. Rule data-oncall does not include you (it allows S0DATAONCALL, U0ALICE, "
        "U0FOREIGNNAMED, U0GUESTNAMED, W0GRIDBOB).",
        "Other rules:",
        "- Rule sre-anywhere does not include you (it allows S0SRE).",
        f"- Rule billing-team does not cover pipeline nightly-etl (it allows {OTHER}, billing) "
        "and does not cover channel C0INCIDENTS (it allows C0BILLING, G0PRIVATE).",
        "Who could do it instead: U0ADMIN01, W0GRIDADM, S0DATAONCALL, U0ALICE, U0FOREIGNNAMED, "
        "U0GUESTNAMED, W0GRIDBOB, S0SRE.",
    ]


def test_explain_a_denial_nobody_could_overturn() -> None:
    assert explain(_decide("U0ALICE", ETL, INCIDENTS, policy=Policy.empty())) == [
        "Denied. The policy is empty, so nobody may terminate runs.",
        "Nobody else could do it here; an admin would have to change the policy.",
    ]


def test_describe_says_what_each_rule_allows() -> None:
    assert describe(POLICY) == [
        "Admins (any run, anywhere, DMs included): U0ADMIN01, W0GRIDADM.",
        f"Aliases: nightly-etl = {ETL}, billing = {BILLING}.",
        "Rule data-oncall (line 7): S0DATAONCALL, U0ALICE, U0FOREIGNNAMED, U0GUESTNAMED, "
        f"W0GRIDBOB may pause, resume or terminate runs of nightly-etl ({ETL}) in C0INCIDENTS; a reason is "
        "required.",
        "Rule sre-anywhere (line 14): S0SRE may pause, resume or terminate runs of any pipeline in any channel "
        "except DMs.",
        f"Rule billing-team (line 20): U0CAROL may pause, resume or terminate runs of {OTHER}, billing ({BILLING}) "
        "in C0BILLING, G0PRIVATE.",
        "Everything else is denied.",
    ]


def test_describe_an_empty_policy() -> None:
    assert describe(Policy.empty()) == [
        "No admins.",
        "No rules: only admins may terminate runs.",
        "Everything else is denied.",
    ]


def test_describe_shows_limits() -> None:
    assert describe(BUDGET_POLICY)[1] == (
        "Rule limited (line 1): U0ALICE may pause, resume or terminate runs of any pipeline in C0INCIDENTS; "
        "at most 2 per hour per person."
    )


def test_suspicious_ids_are_those_of_unusual_length() -> None:
    policy = parse_policy(
        'admins = ["U012AB3CD", "U0ALICE"]\n'
        "[[rules]]\n"
        'name = "r"\n'
        'who = ["S0123ABCDEF", "W0BOB", "U0ALICE"]\n'
        'pipelines = ["*"]\n'
        'channels = ["*", "C0123ABCD", "C0INCIDENTS00"]\n'
    )
    assert suspicious_ids(policy) == ["U0ALICE", "W0BOB", "C0INCIDENTS00"]


@pytest.mark.parametrize(
    ("text", "target"),
    [
        ("nightly-etl", ETL),
        ("Nightly-ETL", ETL),
        ("billing", BILLING),
        ("payroll", None),
        (ETL, None),
    ],
    ids=["exact", "any case", "another alias", "unknown", "an id is no alias"],
)
def test_resolve_alias(text: str, target: str | None) -> None:
    assert POLICY.resolve_alias(text) == target


def test_parsed_rules_hold_resolved_ids_and_their_line() -> None:
    assert POLICY.rules[0] == Rule(
        name="data-oncall",
        who=frozenset({"S0DATAONCALL", "U0ALICE", "W0GRIDBOB", "U0GUESTNAMED", "U0FOREIGNNAMED"}),
        pipelines=frozenset({ETL}),
        channels=frozenset({"C0INCIDENTS"}),
        require_reason=True,
        max_per_hour=None,
        line=7,
    )
    assert POLICY.rules[2].pipelines == frozenset({BILLING, OTHER})
    assert POLICY.admins == frozenset({"U0ADMIN01", "W0GRIDADM"})


def test_empty_policy_has_nothing() -> None:
    empty = Policy.empty()
    assert (empty.admins, dict(empty.aliases), empty.rules) == (frozenset(), {}, ())
    assert parse_policy("") == empty


def test_the_example_policy_parses() -> None:
    policy = load_policy(REPO / "policy.example.toml")
    assert [r.name for r in policy.rules] == [
        "data-oncall",
        "data-pause",
        "billing-team",
        "billing-terminate",
        "sre-anywhere",
    ]
    assert policy.rules[1].actions == frozenset({Action.PAUSE, Action.RESUME})
    assert policy.rules[3].approval == Approval(
        "billing-terminate", frozenset({"S034LEADS1", "U034BOSS12"}), 1, 30
    )
    assert suspicious_ids(policy) == []


def test_load_policy_names_a_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    with pytest.raises(PolicyFileError) as raised:
        load_policy(path)
    assert raised.value.problems == [f"{path}: cannot be read (No such file or directory)"]


def test_load_policy_accepts_a_byte_order_mark(tmp_path: Path) -> None:
    path = tmp_path / "policy.toml"
    path.write_bytes(b"\xef\xbb\xbf" + POLICY_TEXT.encode())
    assert load_policy(path) == POLICY


def test_non_utf8_bytes_are_refused() -> None:
    with pytest.raises(PolicyFileError) as raised:
        parse_policy_bytes(b'admins = ["\xff"]', source="p.toml")
    assert raised.value.problems == ["p.toml: is not UTF-8 text (bad byte at offset 11)"]


# ---------------------------------------------------------------------------------------------
# Validation: every problem, each naming its line and field

RULE = 'name = "r"\nwho = ["U0ALICE"]\npipelines = ["*"]\nchannels = ["*"]\n'

PARSE_ERROR_CASES: dict[str, tuple[str, list[str]]] = {
    "TOML syntax error keeps tomllib's line and column": (
        'admins = ["U0ADMIN01"\n[[rules]]\n',
        ["policy.toml: TOML syntax error: Unclosed array (at line 2, column 1)"],
    ),
    "duplicate TOML key": (
        "admins = []\nadmins = []\n",
        ["policy.toml: TOML syntax error: Cannot overwrite a value (at line 2, column 12)"],
    ),
    "unknown top-level key with a suggestion": (
        'admin = ["U0ADMIN01"]\n',
        ["policy.toml:1: admin: unknown key (did you mean 'admins'?)"],
    ),
    "unknown top-level key without a close match": (
        'owners = ["U0ADMIN01"]\n',
        ["policy.toml:1: owners: unknown key (expected admins, aliases, rules)"],
    ),
    "singular [[rule]] table": (
        "[[rule]]\n" + RULE,
        ["policy.toml: rule: unknown key (did you mean 'rules'?)"],
    ),
    "admins not a list": (
        'admins = "U0ADMIN01"\n',
        ["policy.toml:1: admins: must be a list of user ids (U…/W…)"],
    ),
    "admins holding a group and a number": (
        'admins = ["S0GROUP01", 7, "u0lower"]\n',
        [
            "policy.toml:1: admins: 'S0GROUP01' is not a user id (U…/W…)",
            "policy.toml:1: admins: 7 is not a string",
            "policy.toml:1: admins: 'u0lower' is not a user id (U…/W…)",
        ],
    ),
    "aliases not a table": (
        'aliases = ["x"]\n',
        ['policy.toml:1: aliases: must be a table of name = "pipeline id"'],
    ),
    "reserved alias": (
        '[aliases]\nstatus = "abc"\nCan-I = "abc"\n',
        [
            "policy.toml:2: aliases.status: 'status' is a reserved word (approvals, can-i, help, "
            "history, pause, resume, status, terminate) and cannot be an alias",
            "policy.toml:3: aliases.Can-I: 'Can-I' is a reserved word (approvals, can-i, help, "
            "history, pause, resume, status, terminate) and cannot be an alias",
        ],
    ),
    "alias name with a space": (
        '[aliases]\n"nightly etl" = "abc"\n',
        [
            'policy.toml:2: aliases."nightly etl": alias names may use only letters, digits, '
            "'-' and '_' (at most 128)"
        ],
    ),
    "alias value not an id": (
        '[aliases]\nnightly = "Nightly ETL"\ncount = 3\n',
        [
            "policy.toml:2: aliases.nightly: 'Nightly ETL' is not a pipeline id (1–128 letters, "
            "digits, '-' or '_')",
            "policy.toml:3: aliases.count: 3 is not a string",
        ],
    ),
    "alias named like a pipeline id": (
        f'[aliases]\n"{ETL}" = "{BILLING}"\n',
        [
            f"policy.toml:2: aliases.{ETL}: alias names must not look like a pipeline id "
            "(24 hex characters)"
        ],
    ),
    "aliases that differ only in case": (
        f'[aliases]\nnightly = "{ETL}"\nNIGHTLY = "{ETL}"\n',
        ["policy.toml:3: aliases.NIGHTLY: repeats alias 'nightly' (aliases ignore case)"],
    ),
    "rules not an array of tables": (
        'rules = "everyone"\n',
        ["policy.toml:1: rules: must be an array of tables ([[rules]])"],
    ),
    "inline rule that is not a table": (
        'rules = ["everyone"]\n',
        ["policy.toml:1: rules[1]: must be a table"],
    ),
    "empty rule": (
        "[[rules]]\n",
        [
            "policy.toml:1: rules[1].name: is required",
            "policy.toml:1: rules[1].who: is required",
            "policy.toml:1: rules[1].pipelines: is required",
            "policy.toml:1: rules[1].channels: is required",
        ],
    ),
    "unknown rule keys": (
        "[[rules]]\n" + RULE + 'pipeline = ["*"]\nrequire-reason = true\ncolour = "red"\n',
        [
            "policy.toml:6: rules[1].pipeline: unknown key (did you mean 'pipelines'?)",
            "policy.toml:7: rules[1].require-reason: unknown key (did you mean 'require_reason'?)",
            "policy.toml:8: rules[1].colour: unknown key (expected name, who, pipelines, channels, "
            "require_reason, max_per_hour, actions, approvers, approvals, "
            "approval_timeout_minutes)",
        ],
    ),
    "bad who ids": (
        '[[rules]]\nname = "r"\nwho = ["X123", "U0ALICE", "*", "C0CHANNEL"]\n'
        'pipelines = ["*"]\nchannels = ["*"]\n',
        [
            "policy.toml:3: rules[1].who: 'X123' is not a user (U…/W…) or user-group (S…) id",
            "policy.toml:3: rules[1].who: '*' is not a user (U…/W…) or user-group (S…) id",
            "policy.toml:3: rules[1].who: 'C0CHANNEL' is not a user (U…/W…) or user-group (S…) id",
        ],
    ),
    "empty who": (
        '[[rules]]\nname = "r"\nwho = []\npipelines = ["*"]\nchannels = ["*"]\n',
        [
            "policy.toml:3: rules[1].who: must be a non-empty list of user (U…/W…) and "
            "user-group (S…) ids"
        ],
    ),
    "who as a bare string": (
        '[[rules]]\nname = "r"\nwho = "U0ALICE"\npipelines = ["*"]\nchannels = ["*"]\n',
        [
            "policy.toml:3: rules[1].who: must be a non-empty list of user (U…/W…) and "
            "user-group (S…) ids"
        ],
    ),
    "pipeline that is neither alias nor id": (
        '[aliases]\nnightly-etl = "abc"\n[[rules]]\nname = "r"\nwho = ["U0ALICE"]\n'
        'pipelines = ["nightly-etI", "Nightly ETL"]\nchannels = ["*"]\n',
        [
            "policy.toml:6: rules[1].pipelines: 'nightly-etI' is not an alias from [aliases] or "
            "a pipeline id (24 hex characters); for an id of another shape, add an alias for it",
            "policy.toml:6: rules[1].pipelines: 'Nightly ETL' is not an alias from [aliases] or "
            "a pipeline id (24 hex characters); for an id of another shape, add an alias for it",
        ],
    ),
    "a broken alias is reported once, not again where a rule uses it": (
        '[aliases]\nnightly-etl = "not an id"\n[[rules]]\n'
        + RULE.replace('"*"]\nch', '"nightly-etl"]\nch'),
        [
            "policy.toml:2: aliases.nightly-etl: 'not an id' is not a pipeline id (1–128 "
            "letters, digits, '-' or '_')"
        ],
    ),
    "bad channels": (
        '[[rules]]\nname = "r"\nwho = ["U0ALICE"]\npipelines = ["*"]\n'
        'channels = ["#incidents", "c0lower", "any"]\n',
        [
            "policy.toml:5: rules[1].channels: '#incidents' is not a channel id (C…/G…/D…) or '*'",
            "policy.toml:5: rules[1].channels: 'c0lower' is not a channel id (C…/G…/D…) or '*'",
            "policy.toml:5: rules[1].channels: 'any' is not a channel id (C…/G…/D…) or '*'",
        ],
    ),
    "require_reason not a boolean": (
        "[[rules]]\n" + RULE + 'require_reason = "yes"\n',
        ["policy.toml:6: rules[1].require_reason: must be true or false"],
    ),
    "max_per_hour zero": (
        "[[rules]]\n" + RULE + "max_per_hour = 0\n",
        ["policy.toml:6: rules[1].max_per_hour: must be a whole number of at least 1"],
    ),
    "max_per_hour negative": (
        "[[rules]]\n" + RULE + "max_per_hour = -3\n",
        ["policy.toml:6: rules[1].max_per_hour: must be a whole number of at least 1"],
    ),
    "max_per_hour fractional": (
        "[[rules]]\n" + RULE + "max_per_hour = 1.5\n",
        ["policy.toml:6: rules[1].max_per_hour: must be a whole number of at least 1"],
    ),
    "max_per_hour a boolean": (
        "[[rules]]\n" + RULE + "max_per_hour = true\n",
        ["policy.toml:6: rules[1].max_per_hour: must be a whole number of at least 1"],
    ),
    "max_per_hour a string": (
        "[[rules]]\n" + RULE + 'max_per_hour = "10"\n',
        ["policy.toml:6: rules[1].max_per_hour: must be a whole number of at least 1"],
    ),
    "duplicate rule names": (
        "[[rules]]\n" + RULE + "\n[[rules]]\n" + RULE,
        ["policy.toml:8: rules[2].name: 'r' is already the name of rules[1]"],
    ),
    "rule named admins": (
        "[[rules]]\n" + RULE.replace('"r"', '"admins"'),
        ["policy.toml:2: rules[1].name: 'admins' is reserved for the admins list"],
    ),
    "rule name not text": (
        "[[rules]]\n" + RULE.replace('"r"', "12"),
        [
            "policy.toml:2: rules[1].name: must be 1–64 letters, digits, spaces, '.', '-' or '_', "
            "starting with a letter or digit"
        ],
    ),
    "rule name with odd characters": (
        "[[rules]]\n" + RULE.replace('"r"', '"<!channel>"'),
        [
            "policy.toml:2: rules[1].name: must be 1–64 letters, digits, spaces, '.', '-' or '_', "
            "starting with a letter or digit"
        ],
    ),
}


@pytest.mark.parametrize(
    ("text", "problems"), PARSE_ERROR_CASES.values(), ids=PARSE_ERROR_CASES.keys()
)
def test_parse_reports_each_problem_with_its_line_and_field(text: str, problems: list[str]) -> None:
    with pytest.raises(PolicyFileError) as raised:
        parse_policy(text)
    assert raised.value.problems == problems


def test_parse_reports_every_problem_at_once() -> None:
    text = (
        'admins = ["S0GROUP01"]\n'  # 1
        "[aliases]\n"  # 2
        'help = "abc"\n'  # 3
        "[[rules]]\n"  # 4
        'name = "a"\n'  # 5
        'who = ["X123"]\n'  # 6
        'pipelines = ["*"]\n'  # 7
        'channels = ["*"]\n'  # 8
        "[[rules]]\n"  # 9
        'name = "b"\n'  # 10
        'who = ["U0ALICE"]\n'  # 11
        'pipelines = ["*"]\n'  # 12
        'channels = ["*"]\n'  # 13
        "max_per_hour = 0\n"  # 14
    )
    with pytest.raises(PolicyFileError) as raised:
        parse_policy(text, source="/etc/vs/policy.toml")
    assert raised.value.problems == [
        "/etc/vs/policy.toml:1: admins: 'S0GROUP01' is not a user id (U…/W…)",
        "/etc/vs/policy.toml:3: aliases.help: 'help' is a reserved word (approvals, can-i, help, "
        "history, pause, resume, status, terminate) and cannot be an alias",
        "/etc/vs/policy.toml:6: rules[1].who: 'X123' is not a user (U…/W…) or user-group (S…) id",
        "/etc/vs/policy.toml:14: rules[2].max_per_hour: must be a whole number of at least 1",
    ]
    assert str(raised.value) == "; ".join(raised.value.problems)


def test_inline_rules_parse_and_report_without_header_lines() -> None:
    policy = parse_policy(
        'rules = [{name = "r", who = ["U0ALICE"], pipelines = ["*"], channels = ["*"]}]\n'
    )
    assert policy.rules[0].line == 1
    with pytest.raises(PolicyFileError) as raised:
        parse_policy('\nrules = [{name = "r", who = ["U0ALICE"], pipelines = ["*"]}]\n')
    assert raised.value.problems == ["policy.toml:2: rules[1].channels: is required"]


def test_a_dm_named_by_id_is_covered_though_star_never_is() -> None:
    policy = parse_policy(
        '[[rules]]\nname = "r"\nwho = ["U0ALICE"]\npipelines = ["*"]\n'
        'channels = ["*", "D0DIRECT1"]\n'
    )
    assert _decide("U0ALICE", ETL, DM, policy=policy).allowed is True
    assert _decide("U0ALICE", ETL, GROUP_DM, policy=policy).failed == (Facet.CHANNEL,)


# --- actions (SPEC §4.5, §5) -------------------------------------------------------------------

ACTIONS_POLICY = parse_policy(
    """
[[rules]]
name = "pausers"
who = ["U0ALICE"]
pipelines = ["*"]
channels = ["C0INCIDENTS"]
actions = ["pause", "resume"]

[[rules]]
name = "stoppers"
who = ["U0BOB"]
pipelines = ["*"]
channels = ["C0INCIDENTS"]
actions = ["terminate"]
"""
)


@pytest.mark.parametrize(
    ("user", "action", "allowed", "rule"),
    [
        ("U0ALICE", Action.PAUSE, True, "pausers"),
        ("U0ALICE", Action.RESUME, True, "pausers"),
        ("U0ALICE", Action.TERMINATE, False, "pausers"),
        ("U0BOB", Action.TERMINATE, True, "stoppers"),
        ("U0BOB", Action.PAUSE, False, "stoppers"),
    ],
)
def test_a_rule_allows_only_its_actions(
    user: str, action: Action, allowed: bool, rule: str
) -> None:
    decision = decide(
        ACTIONS_POLICY,
        Actor(user),
        ActorFacts(),
        pipeline_id="65f1c0ffee0123456789abcd",
        where=Where("C0INCIDENTS"),
        now=NOW,
        action=action,
    )
    assert (decision.allowed, decision.rule, decision.action) == (allowed, rule, action)
    if not allowed:
        assert decision.failed == (Facet.ACTION,)


def test_a_denied_action_says_which_actions_the_rule_allows_and_who_could() -> None:
    decision = decide(
        ACTIONS_POLICY,
        Actor("U0ALICE"),
        ActorFacts(),
        pipeline_id="65f1c0ffee0123456789abcd",
        where=Where("C0INCIDENTS"),
        now=NOW,
        action=Action.TERMINATE,
    )
    assert decision.reason == "Rule pausers does not allow terminate (it allows pause and resume)."
    assert decision.who_could == ("U0BOB",)


def test_rules_allow_all_three_actions_unless_they_say_otherwise() -> None:
    [rule] = parse_policy(
        '[[rules]]\nname = "r"\nwho = ["U0ALICE"]\npipelines = ["*"]\nchannels = ["*"]\n'
    ).rules
    assert rule.actions == frozenset(Action)


def test_describe_names_each_rules_actions() -> None:
    lines = describe(ACTIONS_POLICY)
    assert "U0ALICE may pause or resume runs of any pipeline in C0INCIDENTS." in lines[1]
    assert "U0BOB may terminate runs of any pipeline in C0INCIDENTS." in lines[2]


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            '"pause"',
            "rules[1].actions: must be a non-empty list of actions (terminate, pause, resume)",
        ),
        ("[]", "rules[1].actions: must be a non-empty list of actions (terminate, pause, resume)"),
        (
            '["pause", "stop"]',
            "rules[1].actions: 'stop' is not an action (terminate, pause, resume)",
        ),
    ],
)
def test_bad_actions_are_reported_with_their_line_and_field(value: str, problem: str) -> None:
    with pytest.raises(PolicyFileError) as raised:
        parse_policy(
            '[[rules]]\nname = "r"\nwho = ["U0ALICE"]\npipelines = ["*"]\nchannels = ["*"]\n'
            f"actions = {value}\n"
        )
    assert raised.value.problems == [f"policy.toml:6: {problem}"]


# -- approvals (§4.6) ---------------------------------------------------------------------------

APPROVALS_POLICY = parse_policy(
    f"""\
admins = ["U0ADMIN01"]

[aliases]
billing = "{BILLING}"

[[rules]]
name = "billing-pause"
who = ["S0ONCALL"]
pipelines = ["billing"]
channels = ["C0INCIDENTS"]
actions = ["pause", "resume"]

[[rules]]
name = "billing-stop"
who = ["S0ONCALL"]
pipelines = ["billing"]
channels = ["C0INCIDENTS"]
actions = ["terminate", "pause"]
approvers = ["S0LEADS", "U0BOSS"]
approval_timeout_minutes = 20

[[rules]]
name = "two-keys"
who = ["U0ALICE"]
pipelines = ["{OTHER}"]
channels = ["C0INCIDENTS"]
approvers = ["U0BOSS", "U0LEAD", "U0ALICE"]
approvals = 2
"""
)
ONCALL = ActorFacts(groups=frozenset({"S0ONCALL"}))


@dataclass(frozen=True)
class RequestCase:
    user: str
    facts: ActorFacts
    pipeline: str
    action: Action
    allowed: bool
    rule: str
    approval: Approval | int | str | None


@pytest.mark.parametrize(
    "case",
    [
        # A rule without approvers wins when several allow: pausing goes alone.
        RequestCase("U0CAROL", ONCALL, BILLING, Action.PAUSE, True, "billing-pause", None),
        RequestCase("U0CAROL", ONCALL, BILLING, Action.RESUME, True, "billing-pause", None),
        # Only the rule with approvers allows terminate: it needs one of them.
        RequestCase(
            "U0CAROL",
            ONCALL,
            BILLING,
            Action.TERMINATE,
            True,
            "billing-stop",
            Approval("billing-stop", frozenset({"S0LEADS", "U0BOSS"}), 1, 20),
        ),
        RequestCase("U0ALICE", NO_GROUPS, OTHER, Action.TERMINATE, True, "two-keys", 2),
        # Admins act alone.
        RequestCase("U0ADMIN01", NO_GROUPS, BILLING, Action.TERMINATE, True, "admins", None),
        # Not in the rule's who: approvers may approve, not ask.
        RequestCase("U0BOSS", NO_GROUPS, BILLING, Action.TERMINATE, False, "billing-stop", "any"),
    ],
)
def test_who_may_request_and_what_approval_their_request_needs(case: RequestCase) -> None:
    decision = decide(
        APPROVALS_POLICY,
        Actor(case.user),
        case.facts,
        pipeline_id=case.pipeline,
        where=Where("C0INCIDENTS"),
        now=NOW,
        action=case.action,
    )
    assert (decision.allowed, decision.rule) == (case.allowed, case.rule)
    if isinstance(case.approval, int):
        assert decision.approval is not None
        assert decision.approval.approvals == case.approval
    elif case.approval == "any":
        assert decision.approval is not None
    else:
        assert decision.approval == case.approval


def test_an_allowed_request_that_needs_approval_says_so_and_from_whom() -> None:
    decision = decide(
        APPROVALS_POLICY,
        Actor("U0CAROL"),
        ONCALL,
        pipeline_id=BILLING,
        where=Where("C0INCIDENTS"),
        now=NOW,
        action=Action.TERMINATE,
    )
    assert decision.reason == (
        f"Rule billing-stop lets you terminate runs of billing ({BILLING}) in C0INCIDENTS, "
        "once 1 of S0LEADS, U0BOSS approves."
    )
    assert explain(decision) == [
        f"Allowed. {decision.reason}",
        "Approval is needed from 1 of S0LEADS, U0BOSS (never the requester), within 20 minutes.",
    ]


def test_a_denial_under_a_rule_with_approvers_says_it_would_need_them() -> None:
    decision = decide(
        APPROVALS_POLICY,
        Actor("U0BOSS"),
        NO_GROUPS,
        pipeline_id=BILLING,
        where=Where("C0INCIDENTS"),
        now=NOW,
        action=Action.TERMINATE,
    )
    lines = explain(decision)
    assert lines[1] == "Rule billing-stop also needs approval from 1 of S0LEADS, U0BOSS."


def test_describe_names_the_approvers() -> None:
    lines = describe(APPROVALS_POLICY)
    assert lines[3].endswith(
        "may pause or terminate runs of billing (65f1c0ffee0123456789beef) in C0INCIDENTS; "
        "needs approval from 1 of S0LEADS, U0BOSS within 20 minutes."
    )
    assert lines[4].endswith("needs approval from 2 of U0ALICE, U0BOSS, U0LEAD within 30 minutes.")


LEADS = ActorFacts(groups=frozenset({"S0LEADS"}))


@dataclass(frozen=True)
class ApproverCase:
    approver: str
    facts: ActorFacts
    rule: str
    requester: str
    allowed: bool
    reason: str


@pytest.mark.parametrize(
    "case",
    [
        ApproverCase(
            "U0BOSS", NO_GROUPS, "billing-stop", "U0CAROL", True, "Rule billing-stop names you"
        ),
        ApproverCase(
            "U0DAVE", LEADS, "billing-stop", "U0CAROL", True, "Rule billing-stop names you"
        ),
        # The requester never approves, though their group is an approver.
        ApproverCase("U0DAVE", LEADS, "billing-stop", "U0DAVE", False, "You asked for this"),
        ApproverCase("U0ALICE", NO_GROUPS, "two-keys", "U0ALICE", False, "You asked for this"),
        # Membership rules as for requesters: unknown membership, guests and foreign users.
        ApproverCase(
            "U0DAVE",
            ActorFacts(groups=frozenset({"S0LEADS"}), groups_known=False),
            "billing-stop",
            "U0CAROL",
            False,
            "Only S0LEADS, U0BOSS may approve this.",
        ),
        ApproverCase(
            "U0DAVE",
            ActorFacts(groups=frozenset({"S0LEADS"}), is_guest=True),
            "billing-stop",
            "U0CAROL",
            False,
            "Only S0LEADS, U0BOSS may approve this.",
        ),
        ApproverCase(
            "U0DAVE",
            ActorFacts(groups=frozenset({"S0LEADS"}), is_foreign=True),
            "billing-stop",
            "U0CAROL",
            False,
            "Only S0LEADS, U0BOSS may approve this.",
        ),
        ApproverCase(
            "U0MALLORY", NO_GROUPS, "billing-stop", "U0CAROL", False, "Only S0LEADS, U0BOSS"
        ),
        # Admins may approve others' requests.
        ApproverCase("U0ADMIN01", NO_GROUPS, "billing-stop", "U0CAROL", True, "You are an admin."),
        ApproverCase(
            "U0ADMIN01", NO_GROUPS, "billing-stop", "U0ADMIN01", False, "You asked for this"
        ),
        # A rule that no longer asks for approval leaves it to admins.
        ApproverCase(
            "U0BOSS", NO_GROUPS, "billing-pause", "U0CAROL", False, "no longer asks for approval"
        ),
        ApproverCase("U0BOSS", NO_GROUPS, "gone", "U0CAROL", False, "no longer asks for approval"),
    ],
)
def test_who_may_approve(case: ApproverCase) -> None:
    check = may_approve(
        APPROVALS_POLICY,
        rule=case.rule,
        approver=Actor(case.approver),
        facts=case.facts,
        requester=case.requester,
    )
    assert check.allowed is case.allowed
    assert case.reason in check.reason


@pytest.mark.parametrize(
    ("rule", "problems"),
    [
        (
            "approvals = 2\napproval_timeout_minutes = 5",
            [
                "policy.toml:6: rules[1].approvals: needs approvers in the same rule",
                "policy.toml:7: rules[1].approval_timeout_minutes: needs approvers in the same rule",
            ],
        ),
        (
            'approvers = ["U0BOSS", "nobody"]',
            [
                "policy.toml:6: rules[1].approvers: 'nobody' is not a user (U…/W…) or "
                "user-group (S…) id"
            ],
        ),
        (
            'approvers = ["U0BOSS"]\napprovals = 2',
            [
                "policy.toml:7: rules[1].approvals: needs 2 distinct approvers but approvers "
                "names only 1 people"
            ],
        ),
        (
            'approvers = ["U0BOSS"]\napprovals = true',
            ["policy.toml:7: rules[1].approvals: must be a whole number of at least 1"],
        ),
        (
            'approvers = ["S0LEADS"]\napproval_timeout_minutes = 0',
            [
                "policy.toml:7: rules[1].approval_timeout_minutes: must be a whole number of "
                "minutes from 1 to 1440"
            ],
        ),
        (
            "approvers = []",
            [
                "policy.toml:6: rules[1].approvers: must be a non-empty list of user (U…/W…) and user-group (S…) ids"
            ],
        ),
    ],
)
def test_approval_keys_are_validated_with_file_line_and_field(
    rule: str, problems: list[str]
) -> None:
    text = (
        f'[[rules]]\nname = "r"\nwho = ["U0ALICE"]\npipelines = ["*"]\nchannels = ["*"]\n{rule}\n'
    )
    with pytest.raises(PolicyFileError) as raised:
        parse_policy(text)
    assert raised.value.problems == problems


def test_two_approvals_through_a_group_cannot_be_checked_and_are_accepted() -> None:
    policy = parse_policy(
        '[[rules]]\nname = "r"\nwho = ["U0ALICE"]\npipelines = ["*"]\nchannels = ["*"]\n'
        'approvers = ["S0LEADS"]\napprovals = 3\n'
    )
    assert policy.rules[0].approval == Approval("r", frozenset({"S0LEADS"}), 3, 30)
