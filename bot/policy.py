"""The policy: who may terminate which pipelines from which channels (SPEC §5); deny by default.

Pure except for `load_policy`, which reads the file. Membership, guest and org facts, and the
actor's recent attempts are fetched elsewhere and passed in (`ActorFacts`, `budget`), so every
decision can be table-tested.

The file (TOML, `VS_POLICY_FILE`)::

    admins = ["U012ADMIN"]                  # user ids; anything, anywhere, DMs included
    [aliases]
    nightly-etl = "65f1c0ffee0123456789abcd"
    [[rules]]
    name = "data-oncall"                    # required, unique; recorded with each attempt
    who = ["S0DATAONCALL", "U0ALICE"]       # user (U…/W…) and user-group (S…) ids
    pipelines = ["nightly-etl"]             # aliases, pipeline ids (24 hex) or "*"
    channels = ["C0INCIDENTS"]              # channel ids or "*" (never DMs or group DMs)
    require_reason = true
    max_per_hour = 10                       # per user, per rule
    actions = ["terminate", "pause", "resume"]   # optional; all three by default
    approvers = ["S0LEADS", "U0BOSS"]       # optional: the rule's people ask, these agree
    approvals = 1                           # distinct approvers needed (default 1)
    approval_timeout_minutes = 30           # undecided requests expire (default 30)

Validation reports every problem at once, each as `<file>:<line>: <field>: <what is wrong>`
(`rules[n]` counts from 1, in file order). Unknown keys are errors, because a typo that was
silently ignored would widen or narrow access without anyone noticing.

How `decide` judges a request:

1. A user listed in `admins` is allowed anywhere.
2. A rule allows when its `who` names the user, or a user group the user is in (only when
   membership is known, and never for guests or users of another workspace or org, who must be
   named by user id); its `pipelines` cover the pipeline; its `channels` cover the channel
   (`"*"` never covers DMs or group DMs, only a conversation named by id does); its `actions`
   include the action asked for; and the user has room in its `max_per_hour` (attempts
   strictly within the last hour count).
   The first such rule in file order without `approvers` decides; when every such rule has
   approvers, the first of them does, and the request needs its approvals (SPEC §4.6).
3. Otherwise the request is denied, naming the closest rule: the one matching most of
   who / pipeline / channel, then the one with the fewest failures, the earliest in the file
   on a tie.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from types import MappingProxyType
from typing import Final

from bot.domain import (
    ID_PATTERN,
    OBJECT_ID_PATTERN,
    RESERVED_WORDS,
    SLACK_CHANNEL_PATTERN,
    Action,
    Actor,
    ActorFacts,
    Where,
)
from bot.errors import PolicyFileError

ANY: Final = "*"
ADMINS_RULE: Final = "admins"
"""`Decision.rule` when the actor is an admin; no rule may take this name."""

BUDGET_WINDOW: Final = timedelta(hours=1)

USER_ID_PATTERN: Final = re.compile(r"[UW][A-Z0-9]{2,30}")
GROUP_ID_PATTERN: Final = re.compile(r"S[A-Z0-9]{2,30}")
RULE_NAME_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}")

_SLACK_ID_LENGTHS: Final = range(9, 12)
"""Slack issues ids of 9 to 11 characters today; others are likely placeholders or typos."""

_TOP_KEYS: Final = ("admins", "aliases", "rules")
_RULE_KEYS: Final = (
    "name",
    "who",
    "pipelines",
    "channels",
    "require_reason",
    "max_per_hour",
    "actions",
    "approvers",
    "approvals",
    "approval_timeout_minutes",
)
DEFAULT_APPROVAL_TIMEOUT_MINUTES: Final = 30
MAX_APPROVAL_TIMEOUT_MINUTES: Final = 24 * 60
ALL_ACTIONS: Final = frozenset(Action)
_LIST_LIMIT: Final = 5
"""How many ids a user-facing sentence lists before saying "and N more"."""


# ---------------------------------------------------------------------------------------------
# Model


@dataclass(frozen=True)
class Rule:
    """One `[[rules]]` table, validated.

    Attributes:
        name: unique name, recorded with each attempt it decides.
        who: user (U…/W…) and user-group (S…) ids.
        pipelines: pipeline ids after alias resolution (24-hex ids lower-cased), or `"*"`.
        channels: channel ids, or `"*"` for any channel that is not a DM or group DM.
        require_reason: whether the confirmation modal requires a reason.
        max_per_hour: how many attempts one user may make under this rule per hour.
        actions: what its people may do to a run (terminate, pause, resume; all by default).
        approvers: user and group ids whose agreement the rule's requests need; empty: none.
        approvals: how many distinct approvers must agree (0 when there are no approvers).
        approval_timeout_minutes: how long a request waits before it expires.
        line: the line of its `[[rules]]` header, when known.
    """

    name: str
    who: frozenset[str]
    pipelines: frozenset[str]
    channels: frozenset[str]
    require_reason: bool = False
    max_per_hour: int | None = None
    actions: frozenset[Action] = ALL_ACTIONS
    approvers: frozenset[str] = frozenset()
    approvals: int = 0
    approval_timeout_minutes: int = DEFAULT_APPROVAL_TIMEOUT_MINUTES
    line: int | None = None

    @property
    def approval(self) -> Approval | None:
        """What a request under this rule needs before it runs, or None: it acts alone."""
        if not self.approvers:
            return None
        return Approval(
            rule=self.name,
            approvers=self.approvers,
            approvals=self.approvals,
            timeout_minutes=self.approval_timeout_minutes,
        )


@dataclass(frozen=True)
class Approval:
    """The two-person rule of one rule (SPEC §4.6).

    Attributes:
        rule: the rule's name.
        approvers: who may agree: user and user-group ids (never the requester).
        approvals: how many distinct approvers must agree.
        timeout_minutes: how long a request waits before it expires.
    """

    rule: str
    approvers: frozenset[str]
    approvals: int
    timeout_minutes: int

    @property
    def timeout(self) -> timedelta:
        """`timeout_minutes` as a duration."""
        return timedelta(minutes=self.timeout_minutes)

    @property
    def text(self) -> str:
        """`1 of S0LEADS, U0BOSS` / `2 of …`: who must agree, in a few words."""
        return f"{self.approvals} of {_short_list(sorted(self.approvers))}"


@dataclass(frozen=True)
class Policy:
    """A validated policy file. Build with `parse_policy`, `load_policy` or `Policy.empty()`.

    Attributes:
        admins: user ids that may terminate anything anywhere.
        aliases: alias name (as written) → pipeline id.
        rules: in file order.
    """

    admins: frozenset[str]
    aliases: Mapping[str, str]
    rules: tuple[Rule, ...]

    @classmethod
    def empty(cls) -> Policy:
        """The policy of a missing file: no admins, no rules, every request denied."""
        return cls(admins=frozenset(), aliases=MappingProxyType({}), rules=())

    def resolve_alias(self, text: str) -> str | None:
        """The pipeline id an alias names, or None when `text` is no alias (case-insensitive).

        Args:
            text: what the user typed in the pipeline position.

        Returns:
            The alias's pipeline id as written in the file, or None.
        """
        folded = text.casefold()
        for name, target in self.aliases.items():
            if name.casefold() == folded:
                return target
        return None

    def rule(self, name: str | None) -> Rule | None:
        """The rule called `name`, if the policy has one."""
        return next((r for r in self.rules if r.name == name), None)

    def pipeline_label(self, pipeline_id: str) -> str:
        """`alias (id)` when an alias names the pipeline, else the id itself."""
        names = self._alias_names(pipeline_id)
        return f"{names[0]} ({pipeline_id})" if names else pipeline_id

    def pipeline_short(self, pipeline_id: str) -> str:
        """The first alias naming the pipeline, else its id; `*` becomes "any pipeline"."""
        if pipeline_id == ANY:
            return "any pipeline"
        names = self._alias_names(pipeline_id)
        return names[0] if names else pipeline_id

    def _alias_names(self, pipeline_id: str) -> list[str]:
        key = _pipeline_key(pipeline_id)
        return [name for name, target in self.aliases.items() if _pipeline_key(target) == key]


class Facet(StrEnum):
    """What a rule checks; a denial says which of these failed."""

    WHO = "who"
    PIPELINE = "pipeline"
    CHANNEL = "channel"
    IDENTITY = "identity"
    """The user matched only through a group but is a guest or from another workspace/org."""
    ACTION = "action"
    """The rule does not allow the action asked for (its `actions`)."""
    BUDGET = "budget"


@dataclass(frozen=True)
class RuleCheck:
    """How one rule judged one request.

    Attributes:
        rule: the rule.
        failed: the facets that failed, in the order who/identity, pipeline, channel, budget.
        reasons: one plain-words phrase per failed facet, to follow "Rule <name> …".
        retry_at: for a budget failure, when the user has room under this rule again.
    """

    rule: Rule
    failed: tuple[Facet, ...]
    reasons: tuple[str, ...]
    retry_at: datetime | None = None

    @property
    def matched(self) -> int:
        """How many of who / pipeline / channel the rule matched (identity counts as who)."""
        misses = {Facet.WHO, Facet.IDENTITY, Facet.PIPELINE, Facet.CHANNEL}
        return 3 - len(misses.intersection(self.failed))

    @property
    def sentence(self) -> str:
        """`Rule <name> <reasons>.` for a failed check, `Rule <name> allows it.` otherwise."""
        if not self.reasons:
            return f"Rule {self.rule.name} allows it."
        return f"Rule {self.rule.name} {_join(self.reasons)}."


@dataclass(frozen=True)
class Decision:
    """The answer to "may this user do this action to runs of this pipeline here?".

    Attributes:
        allowed: whether the request may go ahead.
        rule: the allowing rule (`"admins"` for an admin), or the closest rule for a denial;
            None when the policy has no rules and the user is no admin.
        require_reason: whether the allowing rule requires a reason.
        failed: what failed on the closest rule (empty when allowed).
        reason: one plain sentence for the user.
        retry_at: for a budget denial, when the user may try again.
        who_could: admins, then the `who` of every rule covering this pipeline and channel,
            without the actor, for "ask … instead" (listed for denials only).
        checks: every rule's check, in file order (none for an admin: nothing to explain).
        action: the action asked about.
        approval: for an allowed request, the approvals it needs first (None: it acts alone);
            for a denial, what the closest rule would need.
    """

    allowed: bool
    rule: str | None
    require_reason: bool
    failed: tuple[Facet, ...]
    reason: str
    retry_at: datetime | None
    who_could: tuple[str, ...]
    checks: tuple[RuleCheck, ...]
    action: Action = Action.TERMINATE
    approval: Approval | None = None


# ---------------------------------------------------------------------------------------------
# Deciding


def decide(
    policy: Policy,
    actor: Actor,
    facts: ActorFacts,
    *,
    pipeline_id: str | None,
    where: Where,
    budget: Mapping[str, Sequence[datetime]] | None = None,
    now: datetime | None = None,
    action: Action = Action.TERMINATE,
) -> Decision:
    """Judge one request against the policy. Deny by default.

    Args:
        policy: the current policy.
        actor: who asks.
        facts: the actor's groups (and whether they are known), guest and foreign flags.
        pipeline_id: the resolved pipeline id, or None while only a name is known: then only
            who and channel are judged (the caller decides again once the id is known).
        where: the channel the request came from.
        budget: rule name → times of the actor's counted attempts under that rule in the last
            hour. None when not fetched (the ack path): limits are then not applied.
        now: the current time (aware); defaults to the clock. Used only for budgets.
        action: what the user asks to do to the run.

    Returns:
        The decision, with every rule's check for explanations.
    """
    target = None if pipeline_id is None else _pipeline_key(pipeline_id)
    if actor.user_id in policy.admins:
        # Nothing else to judge, and nothing to explain: an admin is allowed anywhere.
        return Decision(
            allowed=True,
            rule=ADMINS_RULE,
            require_reason=False,
            failed=(),
            reason=f"You are an admin, so you may {action.value} any run anywhere.",
            retry_at=None,
            who_could=(),
            checks=(),
            action=action,
        )
    clock = now if now is not None else datetime.now(UTC)
    checks = tuple(
        _check(
            policy,
            rule,
            actor=actor,
            facts=facts,
            target=target,
            where=where,
            budget=budget,
            now=clock,
            action=action,
        )
        for rule in policy.rules
    )
    passing = [c.rule for c in checks if not c.failed]
    # Who could do it instead matters only to a denial: an allow skips listing them.
    who_could = () if passing else _who_could(policy, actor, target, where, action)
    denied = Decision(
        allowed=False,
        rule=None,
        require_reason=False,
        failed=(),
        reason=_no_rules_sentence(policy),
        retry_at=None,
        who_could=who_could,
        checks=checks,
        action=action,
    )
    if passing:
        # One rule that lets its people act alone beats any that needs approvers (§4.6).
        rule = next((r for r in passing if not r.approvers), passing[0])
        return replace(
            denied,
            allowed=True,
            rule=rule.name,
            require_reason=rule.require_reason,
            reason=_allowed_sentence(policy, rule, pipeline_id, where, action),
            approval=rule.approval,
        )
    if not checks:
        return denied
    # Most of who / pipeline / channel matched, then fewest failures (a rule that allows the
    # action is closer); max keeps the first on a tie: file order.
    closest = max(checks, key=lambda c: (c.matched, -len(c.failed)))
    if closest.failed != (Facet.BUDGET,):
        return replace(
            denied,
            rule=closest.rule.name,
            failed=closest.failed,
            reason=closest.sentence,
            approval=closest.rule.approval,
        )
    # Every rule that matches in full is out of budget: room returns when the first one has it.
    spent = [c for c in checks if c.failed == (Facet.BUDGET,)]
    retry_at = min(c.retry_at for c in spent if c.retry_at is not None)
    return replace(
        denied,
        rule=closest.rule.name,
        failed=(Facet.BUDGET,),
        reason=_budget_sentence([c.rule for c in spent], retry_at),
        retry_at=retry_at,
    )


def _check(
    policy: Policy,
    rule: Rule,
    *,
    actor: Actor,
    facts: ActorFacts,
    target: str | None,
    where: Where,
    budget: Mapping[str, Sequence[datetime]] | None,
    now: datetime,
    action: Action,
) -> RuleCheck:
    failed: list[Facet] = []
    reasons: list[str] = []
    who = _who_failure(rule, actor, facts)
    if who is not None:
        failed.append(who[0])
        reasons.append(who[1])
    if target is not None and not _covers_pipeline(rule, target):
        failed.append(Facet.PIPELINE)
        reasons.append(
            f"does not cover pipeline {policy.pipeline_short(target)} "
            f"(it allows {_short_list(policy.pipeline_short(p) for p in rule.pipelines)})"
        )
    if not _covers_channel(rule, where):
        failed.append(Facet.CHANNEL)
        place = "direct messages or group DMs" if where.is_dm else f"channel {where.channel_id}"
        reasons.append(f"does not cover {place} (it allows {_channels_text(rule.channels)})")
    if action not in rule.actions:
        failed.append(Facet.ACTION)
        reasons.append(f"does not allow {action.value} (it allows {actions_text(rule.actions)})")
    retry_at = None
    if not failed:
        retry_at = _retry_at(rule, budget, now)
        if retry_at is not None:
            failed.append(Facet.BUDGET)
            reasons.append(
                f"allows {rule.max_per_hour} per hour per person and you have used them all; "
                f"try again at {_clock_text(retry_at)}"
            )
    return RuleCheck(rule=rule, failed=tuple(failed), reasons=tuple(reasons), retry_at=retry_at)


def _who_failure(rule: Rule, actor: Actor, facts: ActorFacts) -> tuple[Facet, str] | None:
    if actor.user_id in rule.who:
        return None
    groups = sorted(g for g in rule.who if GROUP_ID_PATTERN.fullmatch(g))
    allows = _short_list(sorted(rule.who))
    if not facts.groups_known:
        if groups:
            return (
                Facet.WHO,
                "does not name you, and your user-group membership could not be checked "
                f"recently (it allows {allows})",
            )
        return Facet.WHO, f"does not include you (it allows {allows})"
    via = sorted(facts.groups.intersection(groups))
    if not via:
        return Facet.WHO, f"does not include you (it allows {allows})"
    if facts.is_guest or facts.is_foreign:
        kind = "guests" if facts.is_guest else "users from another workspace or organization"
        return (
            Facet.IDENTITY,
            f"includes you only through {_short_list(via)}, and {kind} must be named by user id",
        )
    return None


def _covers_pipeline(rule: Rule, target: str | None) -> bool:
    return target is None or ANY in rule.pipelines or target in rule.pipelines


def _covers_channel(rule: Rule, where: Where) -> bool:
    if where.channel_id in rule.channels:
        return True
    return ANY in rule.channels and not where.is_dm


def _retry_at(
    rule: Rule, budget: Mapping[str, Sequence[datetime]] | None, now: datetime
) -> datetime | None:
    """When the user has room under `rule` again, or None if there is room now."""
    if rule.max_per_hour is None or budget is None:
        return None
    since = now - BUDGET_WINDOW
    times = sorted(t for t in budget.get(rule.name, ()) if t > since)
    if len(times) < rule.max_per_hour:
        return None
    # Room returns when enough of the oldest attempts have left the window: the window holds
    # attempts strictly after (t - 1h), so at times[k - max] + 1h exactly max - 1 remain.
    return times[len(times) - rule.max_per_hour] + BUDGET_WINDOW


def _who_could(
    policy: Policy, actor: Actor, target: str | None, where: Where, action: Action
) -> tuple[str, ...]:
    ids: list[str] = sorted(policy.admins)
    for rule in policy.rules:
        if (
            _covers_pipeline(rule, target)
            and _covers_channel(rule, where)
            and action in rule.actions
        ):
            ids.extend(sorted(rule.who))
    return tuple(i for i in dict.fromkeys(ids) if i != actor.user_id)


def _allowed_sentence(
    policy: Policy, rule: Rule, pipeline_id: str | None, where: Where, action: Action
) -> str:
    place = "this DM" if where.is_dm else where.channel_id
    once = f", once {rule.approval.text} approves" if rule.approval is not None else ""
    if rule.approval is not None and rule.approvals > 1:
        once = f", once {rule.approval.text} approve"
    if pipeline_id is None:
        pipelines = _short_list(sorted(policy.pipeline_short(p) for p in rule.pipelines))
        return (
            f"Rule {rule.name} lets you {action.value} runs of {pipelines} in {place}{once} "
            "(the pipeline is checked once it is known)."
        )
    return (
        f"Rule {rule.name} lets you {action.value} runs of "
        f"{policy.pipeline_label(pipeline_id)} in {place}{once}."
    )


def actions_text(actions: frozenset[Action]) -> str:
    """`pause, resume and terminate`, in that order (the reversible first)."""
    return _join([a.value for a in (Action.PAUSE, Action.RESUME, Action.TERMINATE) if a in actions])


def _no_rules_sentence(policy: Policy) -> str:
    if policy.admins:
        return "The policy has no rules, so only admins may terminate runs."
    return "The policy is empty, so nobody may terminate runs."


def _budget_sentence(rules: list[Rule], retry_at: datetime) -> str:
    when = _clock_text(retry_at)
    if len(rules) == 1:
        rule = rules[0]
        return (
            f"Rule {rule.name} allows {rule.max_per_hour} terminations per hour per person "
            f"and you have used them all; try again at {when}."
        )
    names = _join([r.name for r in rules])
    return f"You have used the hourly limit of rules {names}; try again at {when}."


def _clock_text(moment: datetime) -> str:
    """`HH:MM UTC`, rounded up so that trying at the shown minute succeeds."""
    moment = moment.astimezone(UTC)
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + timedelta(minutes=1)
    return moment.strftime("%H:%M UTC")


# ---------------------------------------------------------------------------------------------
# Approving (§4.6)


@dataclass(frozen=True)
class ApproverCheck:
    """Whether someone may approve (or reject) one request.

    Attributes:
        allowed: they may.
        reason: one plain sentence for them when they may not.
        approval: the rule's approval as the policy stands now, when it still has one.
    """

    allowed: bool
    reason: str
    approval: Approval | None


def may_approve(
    policy: Policy, *, rule: str | None, approver: Actor, facts: ActorFacts, requester: str
) -> ApproverCheck:
    """Judge an approver of a request made under `rule`, by the requesters' membership rules.

    Admins may approve anything; anyone else must be in the rule's `approvers`, by user id or
    through a user group (known membership; guests and users of another workspace or org only
    by user id). Nobody approves their own request, whatever groups they are in.

    Args:
        policy: the policy in force.
        rule: the name of the rule the request was made under.
        approver: who clicked.
        facts: their groups, guest and org facts.
        requester: the user id of whoever asked.
    """
    found = policy.rule(rule)
    approval = found.approval if found is not None else None
    if approver.user_id == requester:
        return ApproverCheck(False, "You asked for this; someone else has to approve it.", approval)
    if approver.user_id in policy.admins:
        return ApproverCheck(True, "You are an admin.", approval)
    if found is None or approval is None:
        return ApproverCheck(
            False,
            f"Rule {rule} no longer asks for approval; only an admin can decide this request.",
            approval,
        )
    failure = _who_failure(replace(found, who=found.approvers), approver, facts)
    if failure is not None:
        return ApproverCheck(
            False, f"Only {_short_list(sorted(found.approvers))} may approve this.", approval
        )
    return ApproverCheck(True, f"Rule {found.name} names you as an approver.", approval)


# ---------------------------------------------------------------------------------------------
# Explaining


def explain(decision: Decision) -> list[str]:
    """Lines for `can-i` and `policy check --user …`.

    Args:
        decision: what `decide` returned.

    Returns:
        For an allowed request, which rule allows it; for a denial, why the closest rule and
        every other rule do not, and who could do it instead.
    """
    if decision.allowed:
        lines = [f"Allowed. {decision.reason}"]
        if decision.require_reason:
            lines.append("A reason is required.")
        if decision.approval is not None:
            lines.append(_approval_line(decision.approval))
        return lines
    lines = [f"Denied. {decision.reason}"]
    if decision.approval is not None:
        lines.append(f"Rule {decision.rule} also needs approval from {decision.approval.text}.")
    others = [c for c in decision.checks if c.rule.name != decision.rule]
    if others:
        lines.append("Other rules:")
        lines.extend(f"- {check.sentence}" for check in others)
    if decision.who_could:
        lines.append(f"Who could do it instead: {', '.join(decision.who_could)}.")
    else:
        lines.append("Nobody else could do it here; an admin would have to change the policy.")
    return lines


def _approval_line(approval: Approval) -> str:
    return (
        f"Approval is needed from {approval.text} (never the requester), "
        f"within {approval.timeout_minutes} minutes."
    )


def describe(policy: Policy) -> list[str]:
    """Lines for `policy check` without arguments: what each rule allows.

    Args:
        policy: the policy to describe.

    Returns:
        Admins, aliases, then one line per rule in file order, then the default.
    """
    lines = [
        f"Admins (any run, anywhere, DMs included): {', '.join(sorted(policy.admins))}."
        if policy.admins
        else "No admins."
    ]
    if policy.aliases:
        pairs = ", ".join(f"{name} = {target}" for name, target in policy.aliases.items())
        lines.append(f"Aliases: {pairs}.")
    for rule in policy.rules:
        where = f" (line {rule.line})" if rule.line is not None else ""
        pipelines = ", ".join(
            sorted("any pipeline" if p == ANY else policy.pipeline_label(p) for p in rule.pipelines)
        )
        text = (
            f"Rule {rule.name}{where}: {', '.join(sorted(rule.who))} may "
            f"{_or(actions_text(rule.actions))} runs of "
            f"{pipelines} in {_channels_text(rule.channels, limit=None)}"
        )
        if rule.require_reason:
            text += "; a reason is required"
        if rule.max_per_hour is not None:
            text += f"; at most {rule.max_per_hour} per hour per person"
        if rule.approval is not None:
            text += (
                f"; needs approval from {rule.approval.text} "
                f"within {rule.approval_timeout_minutes} minutes"
            )
        lines.append(text + ".")
    if not policy.rules:
        lines.append("No rules: only admins may terminate runs.")
    lines.append("Everything else is denied.")
    return lines


def suspicious_ids(policy: Policy) -> list[str]:
    """Slack ids that pass validation but do not look like ids Slack issues (for `doctor`).

    Slack's user, user-group and channel ids are 9 to 11 characters today; anything else is
    most likely a placeholder left over from an example (`U0ALICE`) or a typo.

    Args:
        policy: the policy to inspect.

    Returns:
        The odd ids, each once, in the order admins, then each rule's who and channels.
    """
    ids: list[str] = sorted(policy.admins)
    for rule in policy.rules:
        ids.extend(sorted(rule.who))
        ids.extend(sorted(c for c in rule.channels if c != ANY))
    return [i for i in dict.fromkeys(ids) if len(i) not in _SLACK_ID_LENGTHS]


def _channels_text(channels: frozenset[str], *, limit: int | None = _LIST_LIMIT) -> str:
    named = sorted(c for c in channels if c != ANY)
    parts = (["any channel except DMs"] if ANY in channels else []) + named
    return ", ".join(parts) if limit is None else _short_list(parts, limit=limit)


def _short_list(items: Iterable[str], *, limit: int = _LIST_LIMIT) -> str:
    values = sorted(items)
    if len(values) <= limit:
        return ", ".join(values)
    return f"{', '.join(values[:limit])} and {len(values) - limit} more"


def _or(listed: str) -> str:
    return listed.replace(" and ", " or ")


def _join(parts: Sequence[str]) -> str:
    if len(parts) <= 1:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} and {parts[-1]}"


def _pipeline_key(pipeline_id: str) -> str:
    """Object ids are hex: compare them regardless of case, everything else exactly."""
    return pipeline_id.lower() if OBJECT_ID_PATTERN.fullmatch(pipeline_id) else pipeline_id


# ---------------------------------------------------------------------------------------------
# Parsing


def load_policy(path: Path) -> Policy:
    """Read and validate a policy file.

    Args:
        path: the file (`VS_POLICY_FILE`).

    Returns:
        The validated policy.

    Raises:
        PolicyFileError: if the file cannot be read or is invalid; names every problem.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise PolicyFileError([f"{path}: cannot be read ({exc.strerror or exc})"]) from exc
    return parse_policy_bytes(data, source=str(path))


def parse_policy_bytes(data: bytes, *, source: str = "policy.toml") -> Policy:
    """Validate a policy file's raw bytes (UTF-8, a byte-order mark is allowed).

    Args:
        data: the file's content.
        source: the name problems are reported against.

    Returns:
        The validated policy.

    Raises:
        PolicyFileError: if the bytes are not UTF-8 or the text is invalid.
    """
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PolicyFileError(
            [f"{source}: is not UTF-8 text (bad byte at offset {exc.start})"]
        ) from exc
    return parse_policy(text, source=source)


def parse_policy(text: str, *, source: str = "policy.toml") -> Policy:
    """Validate a policy file's text.

    Args:
        text: the TOML text.
        source: the name problems are reported against.

    Returns:
        The validated policy.

    Raises:
        PolicyFileError: listing every problem, each as `<source>[:<line>]: <field>: <what>`;
            a TOML syntax error carries tomllib's line and column instead.
    """
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise PolicyFileError([f"{source}: TOML syntax error: {exc}"]) from exc
    parser = _Parser(source, _Lines(text))
    policy = parser.policy(data)
    if parser.problems:
        raise PolicyFileError(parser.problems)
    return policy


_KEY_LINE = re.compile(r"""\s*(?:"([^"]*)"|'([^']*)'|([A-Za-z0-9_-]+))\s*=""")
_ARRAY_HEADER = re.compile(r"\s*\[\[\s*([^\]]*?)\s*\]\]")
_TABLE_HEADER = re.compile(r"\s*\[\s*([^\]]*?)\s*\]")


class _Lines:
    """Where keys sit in the text, so problems can name a line (tomllib keeps no positions).

    A best-effort scan of headers and `key =` lines; multi-line strings can fool it, and then a
    problem is reported without a line rather than with a wrong one only in such odd files.
    """

    def __init__(self, text: str) -> None:
        self.top: dict[str, int] = {}
        self.aliases: dict[str, int] = {}
        self.aliases_header: int | None = None
        self.rules: list[int] = []
        self.rule_keys: list[dict[str, int]] = []
        section: dict[str, int] | None = self.top
        for number, line in enumerate(text.splitlines(), start=1):
            if header := _ARRAY_HEADER.match(line):
                section = None
                if header.group(1) == "rules":
                    self.rules.append(number)
                    self.rule_keys.append({})
                    section = self.rule_keys[-1]
            elif header := _TABLE_HEADER.match(line):
                section = None
                if header.group(1) == "aliases":
                    self.aliases_header = number
                    section = self.aliases
            elif (key := _KEY_LINE.match(line)) and section is not None:
                name = next(g for g in key.groups() if g is not None)
                section.setdefault(name, number)

    def alias(self, name: str) -> int | None:
        return self.aliases.get(name) or self.aliases_header or self.top.get("aliases")

    def rule(self, index: int, key: str | None = None) -> int | None:
        if index >= len(self.rules):
            return self.top.get("rules")
        if key is not None and key in self.rule_keys[index]:
            return self.rule_keys[index][key]
        return self.rules[index]


def _alias_target_problem(target: object) -> str | None:
    if not isinstance(target, str):
        return f"{target!r} is not a string"
    if not ID_PATTERN.fullmatch(target):
        return f"{target!r} is not a pipeline id (1–128 letters, digits, '-' or '_')"
    return None


def _who_entry(value: str) -> str | None:
    return value if USER_ID_PATTERN.fullmatch(value) or GROUP_ID_PATTERN.fullmatch(value) else None


def _channel_entry(value: str) -> str | None:
    return value if value == ANY or SLACK_CHANNEL_PATTERN.fullmatch(value) else None


def _path_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else f'"{key}"'


def _unknown_key(key: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(key, known, n=1, cutoff=0.6)
    if close:
        return f"unknown key (did you mean '{close[0]}'?)"
    return f"unknown key (expected {', '.join(known)})"


class _Parser:
    """Collects every problem while turning parsed TOML into a `Policy`."""

    def __init__(self, source: str, lines: _Lines) -> None:
        self.source = source
        self.lines = lines
        self.problems: list[str] = []
        self.alias_names: set[str] = set()  # casefolded, valid or not: avoid cascading reports

    def add(self, line: int | None, path: str, message: str) -> None:
        where = f"{self.source}:{line}" if line is not None else self.source
        self.problems.append(f"{where}: {path}: {message}")

    def policy(self, data: dict[str, object]) -> Policy:
        """The policy; meaningless (and not returned to callers) when problems were found."""
        for key in data:
            if key not in _TOP_KEYS:
                self.add(self.lines.top.get(key), _path_key(key), _unknown_key(key, _TOP_KEYS))
        admins = self.admins(data.get("admins"))
        aliases = self.aliases(data.get("aliases"))
        rules = self.rules(data.get("rules"), aliases)
        return Policy(admins=admins, aliases=MappingProxyType(aliases), rules=rules)

    def admins(self, value: object) -> frozenset[str]:
        if value is None:
            return frozenset()
        return self.ids(
            value,
            path="admins",
            line=self.lines.top.get("admins"),
            kind="user ids (U…/W…)",
            accept=lambda v: v if USER_ID_PATTERN.fullmatch(v) else None,
            problem="is not a user id (U…/W…)",
            allow_empty=True,
        )

    def aliases(self, value: object) -> dict[str, str]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.add(
                self.lines.top.get("aliases"),
                "aliases",
                'must be a table of name = "pipeline id"',
            )
            return {}
        aliases: dict[str, str] = {}
        seen: dict[str, str] = {}
        for name, target in value.items():
            path = f"aliases.{_path_key(name)}"
            line = self.lines.alias(name)
            folded = name.casefold()
            self.alias_names.add(folded)
            problem = self.alias_problem(name, target, seen.get(folded))
            seen.setdefault(folded, name)
            if problem is not None:
                self.add(line, path, problem)
                continue
            aliases[name] = str(target)
        return aliases

    @staticmethod
    def alias_problem(name: str, target: object, earlier: str | None) -> str | None:
        if name.casefold() in RESERVED_WORDS:
            reserved = ", ".join(sorted(RESERVED_WORDS))
            return f"'{name}' is a reserved word ({reserved}) and cannot be an alias"
        if not ID_PATTERN.fullmatch(name):
            return "alias names may use only letters, digits, '-' and '_' (at most 128)"
        if OBJECT_ID_PATTERN.fullmatch(name):
            # Typing that id would otherwise reach another pipeline than the one it names.
            return "alias names must not look like a pipeline id (24 hex characters)"
        if earlier is not None:
            return f"repeats alias '{earlier}' (aliases ignore case)"
        return _alias_target_problem(target)

    def rules(self, value: object, aliases: Mapping[str, str]) -> tuple[Rule, ...]:
        if value is None:
            return ()
        if not isinstance(value, list):
            self.add(self.lines.top.get("rules"), "rules", "must be an array of tables ([[rules]])")
            return ()
        rules: list[Rule] = []
        names: dict[str, int] = {}
        for index, raw in enumerate(value):
            rule = self.rule(index, raw, aliases, names)
            if rule is not None:
                rules.append(rule)
        return tuple(rules)

    def rule(
        self, index: int, raw: object, aliases: Mapping[str, str], names: dict[str, int]
    ) -> Rule | None:
        base = f"rules[{index + 1}]"
        if not isinstance(raw, dict):
            self.add(self.lines.rule(index), base, "must be a table")
            return None
        before = len(self.problems)

        def at(key: str) -> int | None:
            return self.lines.rule(index, key)

        for key in raw:
            if key not in _RULE_KEYS:
                self.add(at(key), f"{base}.{_path_key(key)}", _unknown_key(key, _RULE_KEYS))
        name = self.rule_name(raw.get("name"), base, at("name"), names, index)
        who = self.ids(
            raw.get("who"),
            path=f"{base}.who",
            line=at("who"),
            kind="user (U…/W…) and user-group (S…) ids",
            accept=_who_entry,
            problem="is not a user (U…/W…) or user-group (S…) id",
        )
        pipelines = self.ids(
            raw.get("pipelines"),
            path=f"{base}.pipelines",
            line=at("pipelines"),
            kind='aliases, pipeline ids or "*"',
            accept=lambda v: self.pipeline(v, aliases),
            problem="is not an alias from [aliases] or a pipeline id (24 hex characters); "
            "for an id of another shape, add an alias for it",
        )
        channels = self.ids(
            raw.get("channels"),
            path=f"{base}.channels",
            line=at("channels"),
            kind='channel ids or "*"',
            accept=_channel_entry,
            problem="is not a channel id (C…/G…/D…) or '*'",
        )
        require_reason = raw.get("require_reason", False)
        if not isinstance(require_reason, bool):
            self.add(at("require_reason"), f"{base}.require_reason", "must be true or false")
        max_per_hour = raw.get("max_per_hour")
        # bool is an int subclass, and `max_per_hour = true` must not mean 1.
        if max_per_hour is not None and (type(max_per_hour) is not int or max_per_hour < 1):
            self.add(
                at("max_per_hour"), f"{base}.max_per_hour", "must be a whole number of at least 1"
            )
            max_per_hour = None
        actions = self.actions(raw.get("actions"), f"{base}.actions", at("actions"))
        approvers, approvals, timeout = self.approval(raw, base, at)
        if len(self.problems) > before or name is None:
            return None
        return Rule(
            name=name,
            who=who,
            pipelines=pipelines,
            channels=channels,
            require_reason=require_reason is True,
            max_per_hour=max_per_hour,
            actions=actions,
            approvers=approvers,
            approvals=approvals,
            approval_timeout_minutes=timeout,
            line=self.lines.rule(index),
        )

    def approval(
        self, raw: Mapping[str, object], base: str, at: Callable[[str], int | None]
    ) -> tuple[frozenset[str], int, int]:
        """A rule's `approvers`, `approvals` and `approval_timeout_minutes` (SPEC §4.6)."""
        timeout = raw.get("approval_timeout_minutes", DEFAULT_APPROVAL_TIMEOUT_MINUTES)
        count = raw.get("approvals")
        if raw.get("approvers") is None:
            for key in ("approvals", "approval_timeout_minutes"):
                if key in raw:
                    self.add(at(key), f"{base}.{key}", "needs approvers in the same rule")
            return frozenset(), 0, DEFAULT_APPROVAL_TIMEOUT_MINUTES
        approvers = self.ids(
            raw.get("approvers"),
            path=f"{base}.approvers",
            line=at("approvers"),
            kind="user (U…/W…) and user-group (S…) ids",
            accept=_who_entry,
            problem="is not a user (U…/W…) or user-group (S…) id",
        )
        # bool is an int subclass: `approvals = true` must not mean 1.
        if count is None:
            count = 1
        elif type(count) is not int or count < 1:
            self.add(at("approvals"), f"{base}.approvals", "must be a whole number of at least 1")
            count = 1
        elif (
            approvers
            and count > len(approvers)
            and not any(GROUP_ID_PATTERN.fullmatch(a) for a in approvers)
        ):
            # With groups the count cannot be checked here; with people only, it can.
            self.add(
                at("approvals"),
                f"{base}.approvals",
                f"needs {count} distinct approvers but approvers names only "
                f"{len(approvers)} people",
            )
        if type(timeout) is not int or not 1 <= timeout <= MAX_APPROVAL_TIMEOUT_MINUTES:
            self.add(
                at("approval_timeout_minutes"),
                f"{base}.approval_timeout_minutes",
                f"must be a whole number of minutes from 1 to {MAX_APPROVAL_TIMEOUT_MINUTES}",
            )
            timeout = DEFAULT_APPROVAL_TIMEOUT_MINUTES
        return approvers, count, timeout

    def actions(self, value: object, path: str, line: int | None) -> frozenset[Action]:
        """A rule's `actions`: a non-empty list of terminate, pause, resume (all when absent)."""
        if value is None:
            return ALL_ACTIONS
        known = ", ".join(a.value for a in Action)
        if not isinstance(value, list) or not value:
            self.add(line, path, f"must be a non-empty list of actions ({known})")
            return ALL_ACTIONS
        found: set[Action] = set()
        for item in value:
            if not isinstance(item, str) or item not in {a.value for a in Action}:
                self.add(line, path, f"{str(item)[:40]!r} is not an action ({known})")
            else:
                found.add(Action(item))
        return frozenset(found) or ALL_ACTIONS

    def rule_name(
        self, value: object, base: str, line: int | None, names: dict[str, int], index: int
    ) -> str | None:
        path = f"{base}.name"
        if value is None:
            self.add(line, path, "is required")
            return None
        if not isinstance(value, str) or not RULE_NAME_PATTERN.fullmatch(value):
            self.add(
                line,
                path,
                "must be 1–64 letters, digits, spaces, '.', '-' or '_', starting with a "
                "letter or digit",
            )
            return None
        if value == ADMINS_RULE:
            self.add(line, path, "'admins' is reserved for the admins list")
            return None
        if value in names:
            self.add(line, path, f"'{value}' is already the name of rules[{names[value] + 1}]")
            return None
        names[value] = index
        return value

    def pipeline(self, value: str, aliases: Mapping[str, str]) -> str | None:
        if value == ANY:
            return ANY
        folded = value.casefold()
        for name, target in aliases.items():
            if name.casefold() == folded:
                return _pipeline_key(target)
        if folded in self.alias_names:
            return value  # a broken alias, reported already: do not report it twice
        if OBJECT_ID_PATTERN.fullmatch(value):
            return _pipeline_key(value)
        return None

    def ids(
        self,
        value: object,
        *,
        path: str,
        line: int | None,
        kind: str,
        accept: Callable[[str], str | None],
        problem: str,
        allow_empty: bool = False,
    ) -> frozenset[str]:
        if value is None:
            self.add(line, path, "is required")
            return frozenset()
        if not isinstance(value, list) or (not value and not allow_empty):
            self.add(line, path, f"must be a {'' if allow_empty else 'non-empty '}list of {kind}")
            return frozenset()
        good: set[str] = set()
        for item in value:
            accepted = accept(item) if isinstance(item, str) else None
            if accepted is not None:
                good.add(accepted)
            elif isinstance(item, str):
                self.add(line, path, f"{item!r} {problem}")
            else:
                self.add(line, path, f"{item!r} is not a string")
        return frozenset(good)
