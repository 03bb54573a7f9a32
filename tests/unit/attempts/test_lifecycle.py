"""The one table of legal moves, and `apply`, the rule every store follows (SPEC §6)."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import UTC, datetime

import pytest

import bot.attempts
from bot.attempts.lifecycle import (
    AUDIT_FIELDS,
    TRANSITIONS,
    Abandoned,
    Approved,
    Attempt,
    Blocked,
    Change,
    Expired,
    Finished,
    IllegalChangeError,
    Outcome,
    Reconciled,
    Rejected,
    Requested,
    RequestPosted,
    Source,
    Started,
    Submitted,
    apply,
)

NOW = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
AWAITING = Attempt(
    id="a1",
    request_id="r1",
    requested_at=NOW,
    user_id="U0ALICE0001",
    source=Source.SLASH_COMMAND,
    outcome=Outcome.AWAITING_CONFIRMATION,
    run_id="run1",
    nonce="nonce-1",
)
PENDING = replace(AWAITING, outcome=Outcome.PENDING, nonce=None, owner="me")

ONE_OF_EACH: list[Change] = [
    Started(AWAITING),
    Blocked(Outcome.DUPLICATE, "held"),
    Abandoned(),
    Submitted(nonce="nonce-1", owner="me"),
    Finished(Outcome.SUCCEEDED),
    Reconciled(Outcome.UNCONFIRMED),
    Requested(nonce="nonce-1", approvals_needed=1, expires_at=NOW),
    RequestPosted(request_ts="1700000000.000100"),
    Approved(approver="U0BOSS00001", owner="me"),
    Rejected("rejected by U0BOSS00001"),
    Expired("no approval within 30 minutes"),
]
STATES: list[Outcome | None] = [None, *Outcome]


def current(state: Outcome | None) -> Attempt | None:
    return None if state is None else replace(AWAITING, outcome=state)


def test_every_kind_of_change_has_one_row_and_every_state_is_reachable() -> None:
    assert {type(c).kind for c in ONE_OF_EACH} == set(TRANSITIONS)
    reached = {target for move in TRANSITIONS.values() for target in move.targets}
    assert reached == set(Outcome)


def test_final_states_are_exactly_those_no_row_leaves() -> None:
    leaving = {s for move in TRANSITIONS.values() for s in move.sources if s is not None}
    assert {o for o in Outcome if not o.is_final} == leaving
    assert Outcome.PENDING in leaving and Outcome.SUCCEEDED not in leaving


@pytest.mark.parametrize("change", ONE_OF_EACH, ids=lambda c: type(c).kind)
@pytest.mark.parametrize("state", STATES, ids=str)
def test_a_change_applies_only_from_the_states_its_row_names(
    change: Change, state: Outcome | None
) -> None:
    applied = apply(current(state), change, now=NOW)
    assert (applied is not None) == (state in TRANSITIONS[change.kind].sources)


def test_the_package_docstring_draws_the_table() -> None:
    lines = (bot.attempts.__doc__ or "").splitlines()
    for kind, move in TRANSITIONS.items():
        drawn: set[str] = set()
        for i, line in enumerate(lines):
            if re.search(rf"── {kind} ─+▶", line):
                drawn |= set(re.findall(r"[a-z_]+", line.split("▶", 1)[1]))
                # A list of targets may go on over the next line, after a bar.
                if i + 1 < len(lines) and "──" not in lines[i + 1] and "|" in lines[i + 1]:
                    drawn |= set(re.findall(r"[a-z_]+", lines[i + 1]))
        assert {t.value for t in move.targets} == drawn, kind


def test_a_change_cannot_lead_where_its_row_does_not() -> None:
    with pytest.raises(IllegalChangeError):
        apply(PENDING, Finished(Outcome.ABANDONED), now=NOW)
    with pytest.raises(IllegalChangeError):
        apply(None, Started(replace(AWAITING, outcome=Outcome.PENDING)), now=NOW)


def test_a_submission_needs_the_nonce_and_consumes_it() -> None:
    assert apply(AWAITING, Submitted(nonce="forged", owner="me"), now=NOW) is None
    applied = apply(AWAITING, Submitted(nonce="nonce-1", owner="me", reason="loop"), now=NOW)
    assert applied is not None
    assert (applied.attempt.outcome, applied.attempt.nonce, applied.attempt.owner) == (
        Outcome.PENDING,
        None,
        "me",
    )
    assert applied.recorded == ("reason", "outcome")
    assert apply(applied.attempt, Submitted(nonce="nonce-1", owner="me"), now=NOW) is None


def test_a_close_with_a_stale_nonce_changes_nothing() -> None:
    assert apply(AWAITING, Abandoned(nonce="other"), now=NOW) is None
    closed = apply(AWAITING, Abandoned(nonce="nonce-1"), now=NOW)
    assert closed is not None and closed.attempt.outcome is Outcome.ABANDONED


def test_becoming_final_stamps_completed_at_once() -> None:
    finished = apply(PENDING, Finished(Outcome.SUCCEEDED, verified_status="stopped"), now=NOW)
    assert finished is not None
    assert finished.attempt.completed_at == NOW
    assert finished.recorded == ("completed_at", "outcome", "verified_status")


def test_started_records_every_audited_field_and_a_denial_is_complete_at_once() -> None:
    started = apply(None, Started(replace(AWAITING, outcome=Outcome.DENIED)), now=NOW)
    assert started is not None
    assert started.recorded == AUDIT_FIELDS
    assert started.attempt.completed_at == NOW


def test_none_fields_change_nothing_and_a_change_of_nothing_records_no_event() -> None:
    waiting = replace(_requested(1), request_ts="1700000000.000100")
    same = apply(waiting, RequestPosted(request_ts="1700000000.000100"), now=NOW)
    assert same is not None
    assert same.attempt == waiting
    assert same.recorded == ()
    unchanged = apply(PENDING, Finished(Outcome.FAILED, error=None), now=NOW)
    assert unchanged is not None
    assert unchanged.attempt.error is None


def test_a_confirmation_that_cannot_go_ahead_starts_final() -> None:
    for outcome in (Outcome.FAILED, Outcome.ALREADY_FINISHED, Outcome.DUPLICATE):
        started = apply(None, Started(replace(AWAITING, outcome=outcome, nonce=None)), now=NOW)
        assert started is not None
        assert (started.attempt.outcome, started.attempt.completed_at) == (outcome, NOW)
        assert started.recorded == AUDIT_FIELDS


def _requested(needed: int) -> Attempt:
    change = Requested(nonce="nonce-1", approvals_needed=needed, expires_at=NOW, reason="why")
    applied = apply(AWAITING, change, now=NOW)
    assert applied is not None
    return applied.attempt


def test_a_request_consumes_the_nonce_and_waits_without_an_owner() -> None:
    assert (
        apply(AWAITING, Requested(nonce="forged", approvals_needed=1, expires_at=NOW), now=NOW)
        is None
    )
    waiting = _requested(2)
    assert (waiting.outcome, waiting.nonce, waiting.owner, waiting.approvals_needed) == (
        Outcome.AWAITING_APPROVAL,
        None,
        None,
        2,
    )
    assert (waiting.expires_at, waiting.reason, waiting.completed_at) == (NOW, "why", None)


def test_two_distinct_approvers_move_a_request_to_pending_and_one_counts_once() -> None:
    later = NOW.replace(minute=5)
    first = apply(_requested(2), Approved(approver="U0LEAD00001", owner="i-1"), now=NOW)
    assert first is not None
    assert (first.attempt.outcome, first.attempt.approvers, first.attempt.owner) == (
        Outcome.AWAITING_APPROVAL,
        ("U0LEAD00001",),
        None,
    )
    assert first.recorded == ("approved_by", "approved_at", "outcome")
    assert apply(first.attempt, Approved(approver="U0LEAD00001", owner="i-2"), now=later) is None
    second = apply(first.attempt, Approved(approver="U0BOSS00001", owner="i-2"), now=later)
    assert second is not None
    assert (second.attempt.outcome, second.attempt.owner, second.attempt.approved_at) == (
        Outcome.PENDING,
        "i-2",
        later,
    )
    assert second.attempt.approved_by == "U0LEAD00001,U0BOSS00001"
    # Once pending, a late third approval changes nothing.
    assert apply(second.attempt, Approved(approver="U0OTHER0001", owner="i-3"), now=later) is None


def test_reject_and_expire_settle_a_request_and_nothing_follows() -> None:
    for change, outcome in (
        (Rejected("no: U0BOSS"), Outcome.REJECTED),
        (Expired("late"), Outcome.EXPIRED),
    ):
        applied = apply(_requested(1), change, now=NOW)
        assert applied is not None
        assert (applied.attempt.outcome, applied.attempt.completed_at) == (outcome, NOW)
        assert outcome.is_final
        assert apply(applied.attempt, Approved(approver="U0BOSS00001", owner="me"), now=NOW) is None


def test_posting_the_request_changes_no_audited_field() -> None:
    applied = apply(_requested(1), RequestPosted(request_ts="1700000000.000100"), now=NOW)
    assert applied is not None
    assert applied.attempt.request_ts == "1700000000.000100"
    assert applied.recorded == ()


def test_an_approval_from_the_request_heals_a_request_whose_message_was_not_saved() -> None:
    waiting = _requested(1)
    click = Approved(approver="U0BOSS00001", owner="me", request_ts="1700000000.000100")
    healed = apply(waiting, click, now=NOW)
    assert healed is not None
    assert healed.attempt.request_ts == "1700000000.000100"
    posted = apply(waiting, RequestPosted(request_ts="1700000000.000900"), now=NOW)
    assert posted is not None
    kept = apply(posted.attempt, click, now=NOW)
    assert kept is not None
    assert kept.attempt.request_ts == "1700000000.000900"  # a saved ts is never replaced
