"""The attempt as a value: its fields, its states, the one table of legal moves, and its changes.

An attempt is created by a `Started` change and then moves only through the rows of
`TRANSITIONS`, one typed change at a time. `apply()` is the whole rule: given an attempt's current
state and a change it returns the new state and the event data to append, or `None` when the
move is not legal from the current state (a replayed submission, a close after a submission,
a second settlement of the same pending attempt). The audit store calls it inside the
transaction that locks the attempt's row, and the in-memory fake of the tests calls it too, so
the rules cannot differ between them.

Every stored event names its kind (`"event": "started"`, `"finished"`, …) next to the audited
fields it changed; `bot.audit.chain` hashes whatever the data holds, so naming the kind needed
no change there, and events written before kinds existed still verify.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import ClassVar, Final

from bot.domain import Action

__all__ = [
    "AUDIT_FIELDS",
    "TRANSITIONS",
    "Abandoned",
    "Action",
    "Applied",
    "Approved",
    "Attempt",
    "Blocked",
    "Change",
    "Expired",
    "Finished",
    "Move",
    "Outcome",
    "Reconciled",
    "Rejected",
    "RequestPosted",
    "Requested",
    "Source",
    "Started",
    "Submitted",
    "apply",
    "holds_run",
]


class Outcome(StrEnum):
    """An attempt's state, valued with SPEC §6's strings."""

    AWAITING_CONFIRMATION = "awaiting_confirmation"
    PENDING = "pending"
    DENIED = "denied"
    ABANDONED = "abandoned"
    ALREADY_FINISHED = "already_finished"
    SUCCEEDED = "succeeded"
    UNCONFIRMED = "unconfirmed"
    FAILED = "failed"
    DUPLICATE = "duplicate"
    AWAITING_APPROVAL = "awaiting_approval"
    REJECTED = "rejected"
    EXPIRED = "expired"

    @property
    def is_final(self) -> bool:
        """True once no row of `TRANSITIONS` leads out of this state."""
        return self not in _NON_FINAL


class Source(StrEnum):
    """Where an attempt started."""

    SLASH_COMMAND = "slash_command"
    BUTTON = "button"
    RETRY = "retry"


AUDIT_FIELDS: Final[tuple[str, ...]] = (
    "id",
    "request_id",
    "requested_at",
    "completed_at",
    "team_id",
    "enterprise_id",
    "user_id",
    "user_name",
    "channel_id",
    "thread_ts",
    "source",
    "pipeline_id",
    "pipeline_name",
    "run_id",
    "reason",
    "rule",
    "outcome",
    "http_status",
    "api_status",
    "error",
    "verified_status",
    "action",
    "approved_by",
    "approved_at",
)
"""Export columns, in SPEC §6's order."""

FOLD_DEFAULTS: Final[Mapping[str, object]] = {"action": "terminate"}
"""What an attempt recorded before a field existed holds: events written before actions were
recorded named none, and every attempt then was a termination (`audit verify` folds from here)."""


@dataclass(frozen=True)
class Attempt:
    """One attempt at an action on a run: its audited facts and the server-side context it needs.

    The fields named in `AUDIT_FIELDS` are exported; the rest (`pipeline_ref`, `response_url`,
    `message_channel`, `message_ts`, `nonce`, `base_url`, `owner`, `channel_is_dm`,
    `approvals_needed`, `expires_at`, `request_ts`) stay on the server and never go into
    exports or Slack payloads.
    """

    id: str
    request_id: str
    requested_at: datetime
    user_id: str
    source: Source
    outcome: Outcome
    action: Action = Action.TERMINATE
    completed_at: datetime | None = None
    team_id: str | None = None
    enterprise_id: str | None = None
    user_name: str | None = None
    channel_id: str | None = None
    thread_ts: str | None = None
    pipeline_id: str | None = None
    pipeline_name: str | None = None
    run_id: str | None = None
    reason: str | None = None
    rule: str | None = None
    http_status: int | None = None
    api_status: str | None = None
    error: str | None = None
    verified_status: str | None = None
    approved_by: str | None = None
    """The approvers so far, user ids in the order they approved, comma-separated (§4.6)."""
    approved_at: datetime | None = None
    """When the last of them approved."""
    pipeline_ref: str | None = None
    response_url: str | None = None
    message_channel: str | None = None
    message_ts: str | None = None
    nonce: str | None = None
    base_url: str | None = None
    owner: str | None = None
    """The instance running this attempt while it is pending (reconciliation, SPEC §6)."""
    channel_is_dm: bool = False
    approvals_needed: int | None = None
    """Distinct approvers the request needs, fixed when it is made (§4.6)."""
    expires_at: datetime | None = None
    """When a request nobody decided expires."""
    request_ts: str | None = None
    """The approval request's message, in `channel_id`."""

    @property
    def approvers(self) -> tuple[str, ...]:
        """Who has approved so far, in order."""
        return tuple(self.approved_by.split(",")) if self.approved_by else ()

    def audit_record(self) -> dict[str, object]:
        """The exported view: exactly `AUDIT_FIELDS`, in order."""
        return {name: getattr(self, name) for name in AUDIT_FIELDS}


ATTEMPT_FIELDS: Final = tuple(f.name for f in fields(Attempt))


# -- changes --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Change:
    """Base of the typed changes: each names its event kind; a `None` field changes nothing.

    A change that always leads to one state names it in `lands_in`; the others carry an
    `outcome` field, decide it themselves (`Approved`), or leave it as it is (`RequestPosted`).
    """

    kind: ClassVar[str]
    lands_in: ClassVar[Outcome | None] = None


@dataclass(frozen=True)
class Started(Change):
    """A new attempt, as it starts: awaiting confirmation with everything the checks learnt, or
    why it cannot go ahead (denied, failed lookup, finished run, duplicate)."""

    kind: ClassVar[str] = "started"
    attempt: Attempt


@dataclass(frozen=True)
class Blocked(Change):
    """A request waiting for approval turned out to find its run held by another attempt."""

    kind: ClassVar[str] = "blocked"
    outcome: Outcome
    error: str | None = None


@dataclass(frozen=True)
class Abandoned(Change):
    """The modal was closed, or left open too long; `nonce` (when given) must still match."""

    kind: ClassVar[str] = "abandoned"
    lands_in: ClassVar[Outcome | None] = Outcome.ABANDONED
    nonce: str | None = None


@dataclass(frozen=True)
class Submitted(Change):
    """The user confirmed: the nonce is consumed and the attempt is pending on `owner`."""

    kind: ClassVar[str] = "submitted"
    lands_in: ClassVar[Outcome | None] = Outcome.PENDING
    nonce: str
    owner: str
    reason: str | None = None
    action: Action | None = None
    """The action chosen in the modal, when the user switched it (terminate ↔ pause)."""


@dataclass(frozen=True)
class Requested(Change):
    """The user confirmed an action that needs approval: the nonce is consumed, nothing is
    called, and the attempt waits for `approvals_needed` approvers until `expires_at`."""

    kind: ClassVar[str] = "requested"
    lands_in: ClassVar[Outcome | None] = Outcome.AWAITING_APPROVAL
    nonce: str
    approvals_needed: int
    expires_at: datetime
    reason: str | None = None
    action: Action | None = None


@dataclass(frozen=True)
class RequestPosted(Change):
    """Where the approval request was posted (server-side only: no event is written)."""

    kind: ClassVar[str] = "request_posted"
    request_ts: str


@dataclass(frozen=True)
class Approved(Change):
    """One approver agreed. With enough distinct approvers the attempt is pending on `owner`;
    an approver who already approved changes nothing."""

    kind: ClassVar[str] = "approved"
    approver: str
    owner: str
    request_ts: str | None = None
    """The request's message, when the click came from it and its ts was not saved yet (the bot
    died between posting the request and saving where)."""


@dataclass(frozen=True)
class Rejected(Change):
    """An approver said no; `error` says who and why."""

    kind: ClassVar[str] = "rejected"
    lands_in: ClassVar[Outcome | None] = Outcome.REJECTED
    error: str


@dataclass(frozen=True)
class Expired(Change):
    """Nobody decided in time."""

    kind: ClassVar[str] = "expired"
    lands_in: ClassVar[Outcome | None] = Outcome.EXPIRED
    error: str


@dataclass(frozen=True)
class Finished(Change):
    """A pending attempt ends: the API's answer, the verified status, or why it did not go."""

    kind: ClassVar[str] = "finished"
    outcome: Outcome
    rule: str | None = None
    http_status: int | None = None
    api_status: str | None = None
    error: str | None = None
    verified_status: str | None = None


@dataclass(frozen=True)
class Reconciled(Change):
    """A pending attempt whose instance died is settled from the run's status by another."""

    kind: ClassVar[str] = "reconciled"
    outcome: Outcome
    error: str | None = None
    verified_status: str | None = None


@dataclass(frozen=True)
class Move:
    """One row of `TRANSITIONS`: the states a change may start from and those it may lead to.

    `None` among the sources stands for "no attempt yet".
    """

    sources: frozenset[Outcome | None]
    targets: frozenset[Outcome]


_O = Outcome
TRANSITIONS: Final[Mapping[str, Move]] = {
    # A confirmation starts as what its checks found: awaiting, or why it cannot go ahead.
    Started.kind: Move(
        frozenset({None}),
        frozenset(
            {_O.AWAITING_CONFIRMATION, _O.DENIED, _O.FAILED, _O.ALREADY_FINISHED, _O.DUPLICATE}
        ),
    ),
    # A request that needs approval, found duplicate when it claims its run at submission.
    Blocked.kind: Move(frozenset({_O.AWAITING_APPROVAL}), frozenset({_O.DUPLICATE})),
    Abandoned.kind: Move(frozenset({_O.AWAITING_CONFIRMATION}), frozenset({_O.ABANDONED})),
    Submitted.kind: Move(frozenset({_O.AWAITING_CONFIRMATION}), frozenset({_O.PENDING})),
    Requested.kind: Move(frozenset({_O.AWAITING_CONFIRMATION}), frozenset({_O.AWAITING_APPROVAL})),
    RequestPosted.kind: Move(frozenset({_O.AWAITING_APPROVAL}), frozenset({_O.AWAITING_APPROVAL})),
    Approved.kind: Move(
        frozenset({_O.AWAITING_APPROVAL}), frozenset({_O.AWAITING_APPROVAL, _O.PENDING})
    ),
    Rejected.kind: Move(frozenset({_O.AWAITING_APPROVAL}), frozenset({_O.REJECTED})),
    Expired.kind: Move(frozenset({_O.AWAITING_APPROVAL}), frozenset({_O.EXPIRED})),
    Finished.kind: Move(
        frozenset({_O.PENDING}),
        frozenset(
            {
                _O.SUCCEEDED,
                _O.UNCONFIRMED,
                _O.FAILED,
                _O.ALREADY_FINISHED,
                _O.DENIED,
                _O.DUPLICATE,
            }
        ),
    ),
    Reconciled.kind: Move(frozenset({_O.PENDING}), frozenset({_O.SUCCEEDED, _O.UNCONFIRMED})),
}
"""The legal moves, one row per kind of change (SPEC §6). Nothing else changes an attempt."""

_NON_FINAL: Final = frozenset(
    source for move in TRANSITIONS.values() for source in move.sources if source is not None
)
_GUARDS: Final = frozenset({"nonce"})
"""Change fields that are conditions on the current state, not new values (except `Submitted`,
which consumes the nonce it names)."""


def holds_run(holder: Attempt, action: Action) -> bool:
    """Whether `holder` keeps a new attempt at `action` off its run (SPEC §4.4, §4.5).

    One action is in flight per run, whatever the action, and a request waiting for approval
    counts as in flight. After a verified terminate nothing more goes ahead; after a verified
    pause, a resume or a terminate does but a second pause does not; after a verified resume
    the run is running again and anything may follow.
    """
    if holder.outcome in {Outcome.PENDING, Outcome.AWAITING_APPROVAL}:
        return True
    if holder.outcome is not Outcome.SUCCEEDED:
        return False
    if holder.action is Action.TERMINATE:
        return True
    return holder.action is Action.PAUSE and action is Action.PAUSE


# -- applying a change ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    """A legal change: the attempt after it, and the audited fields its event records.

    Attributes:
        attempt: the attempt after the change.
        kind: the change's kind, named in the event.
        recorded: the audited fields the event carries (`outcome` always among them); empty
            when nothing audited changed, and then no event is written.
    """

    attempt: Attempt
    kind: str
    recorded: tuple[str, ...]


class IllegalChangeError(ValueError):
    """A change names a target state its own row of `TRANSITIONS` does not allow (a bug)."""


def apply(current: Attempt | None, change: Change, *, now: datetime) -> Applied | None:
    """The attempt after `change`, or None when the move is not legal from its current state.

    Args:
        current: the attempt as stored, or None before it exists.
        change: the typed change.
        now: the time of the change (aware); stamps `completed_at` when the attempt becomes final.

    Returns:
        The new attempt and what its event records, or None: the attempt is in a state the row
        does not start from, or the change's nonce does not match (a replay, a late close).

    Raises:
        IllegalChangeError: the change leads to a state its row does not allow.
    """
    move = TRANSITIONS[change.kind]
    if (current.outcome if current is not None else None) not in move.sources:
        return None
    if isinstance(change, Started):
        target = change.attempt.outcome
        _check_target(change, target, move)
        attempt = change.attempt
        if target.is_final and attempt.completed_at is None:
            attempt = replace(attempt, completed_at=now)
        return Applied(attempt, change.kind, AUDIT_FIELDS)
    assert current is not None  # noqa: S101 - only Started starts from "no attempt"
    if not _guards_hold(current, change):
        return None
    values = {
        f.name: getattr(change, f.name)
        for f in fields(change)
        if getattr(change, f.name) is not None
        and (f.name not in _GUARDS or isinstance(change, Submitted | Requested))
    }
    if isinstance(change, Submitted | Requested):
        values["nonce"] = None  # consumed: a replayed submission finds nothing to match
    if isinstance(change, Approved):
        approvers = current.approvers
        if change.approver in approvers:
            return None  # one person counts once, however often they click
        values = {"approved_by": ",".join((*approvers, change.approver)), "approved_at": now}
        if current.request_ts is None and change.request_ts is not None:
            values["request_ts"] = change.request_ts
        if len(approvers) + 1 >= (current.approvals_needed or 1):
            values |= {"outcome": Outcome.PENDING, "owner": change.owner}
    if change.lands_in is not None:
        values["outcome"] = change.lands_in
    target = values.get("outcome", current.outcome)
    if not isinstance(target, Outcome):
        raise IllegalChangeError(f"a {change.kind!r} change names no state: {target!r}")
    _check_target(change, target, move)
    if target.is_final and current.completed_at is None:
        values["completed_at"] = now
    updated = replace(current, **values)
    changed = tuple(n for n in AUDIT_FIELDS if getattr(updated, n) != getattr(current, n))
    recorded = tuple(dict.fromkeys((*changed, "outcome"))) if changed else ()
    return Applied(updated, change.kind, recorded)


def _guards_hold(current: Attempt, change: Change) -> bool:
    nonce = getattr(change, "nonce", None)
    if nonce is None:
        return True
    return current.nonce is not None and _same(current.nonce, nonce)


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def _check_target(change: Change, target: Outcome, move: Move) -> None:
    if target not in move.targets:
        raise IllegalChangeError(f"a {change.kind!r} change cannot lead to {target.value!r}")
