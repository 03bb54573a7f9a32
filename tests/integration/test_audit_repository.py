"""AuditRepository on SQLite and PostgreSQL: attempts, events, queries, heartbeats, failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.attempts.lifecycle import (
    AUDIT_FIELDS,
    Abandoned,
    Action,
    Finished,
    Outcome,
    RequestPosted,
    Source,
    Submitted,
)
from bot.audit import AuditReadError
from bot.audit.db import Database
from bot.domain import AlertKey
from bot.errors import AuditWriteError

START = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)  # the `clock` fixture's start

FINAL_AT = START + timedelta(seconds=42)
LAPSE = timedelta(seconds=30)


def events_of(execute_sql, attempt_id: str) -> list[tuple[str, dict[str, object]]]:
    rows = execute_sql(
        "SELECT outcome, data FROM audit_events WHERE attempt_id = :a ORDER BY id", a=attempt_id
    )
    return [(row.outcome, json.loads(row.data)) for row in rows]


async def test_a_started_attempt_reads_back_equal(repository, make_attempt):
    attempt = make_attempt()

    stored = await repository.start(attempt)

    assert stored == attempt
    assert await repository.get(attempt.id) == attempt
    assert stored.action is Action.TERMINATE


async def test_datetimes_are_stored_and_returned_in_utc(repository, make_attempt):
    east = timezone(timedelta(hours=5, minutes=30))
    attempt = make_attempt(requested_at=datetime(2026, 11, 29, 2, 30, tzinfo=east))

    await repository.start(attempt)
    got = await repository.get(attempt.id)

    assert got is not None
    assert got.requested_at == datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    assert got.requested_at.tzinfo is UTC


async def test_get_of_an_unknown_attempt_is_none(repository):
    assert await repository.get("nope") is None


async def test_record_applies_a_change_and_appends_one_event(repository, make_attempt, execute_sql):
    attempt = await repository.start(make_attempt())

    updated = await repository.record(
        attempt.id, Submitted(nonce=attempt.nonce, owner="host-1", reason="runaway costs")
    )

    assert updated is not None
    assert (updated.outcome, updated.reason, updated.owner, updated.nonce) == (
        Outcome.PENDING,
        "runaway costs",
        "host-1",
        None,
    )
    assert await repository.get(attempt.id) == updated
    assert events_of(execute_sql, attempt.id)[1:] == [
        ("pending", {"event": "submitted", "outcome": "pending", "reason": "runaway costs"})
    ]


async def test_first_event_carries_its_kind_and_every_audit_field_and_nothing_else(
    repository, make_attempt, execute_sql
):
    attempt = await repository.start(make_attempt())

    [(outcome, data)] = events_of(execute_sql, attempt.id)

    assert outcome == "awaiting_confirmation"
    assert sorted(data) == sorted(["event", *AUDIT_FIELDS])
    assert data["event"] == "started"
    assert data["requested_at"] == "2026-11-28T21:00:00.000000Z"
    assert data["source"] == "slash_command"
    assert "response_url" not in data
    assert "nonce" not in data
    assert data["action"] == "terminate"  # audited since pause and resume (SPEC §6)
    assert "owner" not in data


async def test_a_submission_from_a_state_transitions_forbids_writes_nothing(
    repository, make_attempt, execute_sql
):
    attempt = await repository.start(make_attempt())
    abandoned = await repository.record(attempt.id, Abandoned(nonce=attempt.nonce))
    assert abandoned is not None

    # The right nonce, but `abandoned` is not a state a submission may start from.
    result = await repository.record(
        attempt.id, Submitted(nonce=attempt.nonce, owner="host-1", reason="late")
    )

    assert result is None
    assert await repository.get(attempt.id) == abandoned
    assert len(events_of(execute_sql, attempt.id)) == 2


async def test_a_change_with_a_wrong_nonce_writes_nothing(repository, make_attempt, execute_sql):
    attempt = await repository.start(make_attempt(nonce="right-nonce"))

    submitted = await repository.record(attempt.id, Submitted(nonce="wrong-nonce", owner="host-1"))
    abandoned = await repository.record(attempt.id, Abandoned(nonce="wrong-nonce"))

    assert submitted is None
    assert abandoned is None
    assert await repository.get(attempt.id) == attempt
    assert len(events_of(execute_sql, attempt.id)) == 1


async def test_a_submission_with_the_right_nonce_applies_once(repository, make_attempt):
    attempt = await repository.start(make_attempt(nonce="right-nonce"))
    submission = Submitted(nonce="right-nonce", owner="host-1")

    first = await repository.record(attempt.id, submission)
    replay = await repository.record(attempt.id, submission)

    assert first is not None
    assert first.outcome is Outcome.PENDING
    assert replay is None


async def test_record_of_a_missing_attempt_returns_none(repository, execute_sql):
    assert await repository.record("nope", Finished(outcome=Outcome.FAILED)) is None
    assert execute_sql("SELECT count(*) AS n FROM audit_events")[0].n == 0
    assert execute_sql("SELECT count(*) AS n FROM attempts")[0].n == 0


async def test_a_final_outcome_stamps_completed_at_from_the_clock(repository, attempt_in, clock):
    attempt = await attempt_in(Outcome.PENDING)
    clock.advance(42)

    done = await repository.record(attempt.id, Finished(outcome=Outcome.SUCCEEDED, http_status=200))

    assert done is not None
    assert done.completed_at == FINAL_AT
    assert done.http_status == 200


async def test_a_given_completed_at_is_kept(repository, make_attempt, clock):
    # Only a start can name `completed_at`: no later change carries one.
    clock.advance(100)

    done = await repository.start(
        make_attempt(outcome=Outcome.DENIED, completed_at=FINAL_AT, error="not allowed")
    )

    assert done.completed_at == FINAL_AT
    assert (await repository.get(done.id)) == done


async def test_a_change_of_no_audited_field_writes_no_event(repository, attempt_in, execute_sql):
    attempt = await attempt_in(Outcome.AWAITING_APPROVAL)
    events = len(events_of(execute_sql, attempt.id))

    updated = await repository.record(attempt.id, RequestPosted(request_ts="1700000000.000100"))

    assert updated is not None
    assert updated.request_ts == "1700000000.000100"
    assert await repository.get(attempt.id) == updated
    assert len(events_of(execute_sql, attempt.id)) == events


async def test_an_unknown_field_or_outcome_is_refused_before_anything_is_written(
    repository, attempt_in, execute_sql
):
    attempt = await attempt_in(Outcome.PENDING)
    events = len(events_of(execute_sql, attempt.id))

    with pytest.raises(TypeError, match="'colour'"):
        Finished(colour="red")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="exploded"):
        await repository.record(attempt.id, Finished(outcome="exploded"))  # type: ignore[arg-type]

    assert await repository.get(attempt.id) == attempt
    assert len(events_of(execute_sql, attempt.id)) == events


async def test_projection_equals_the_fold_of_its_events(
    repository, make_attempt, execute_sql, clock
):
    attempt = await repository.start(make_attempt(pipeline_name="Nightly ETL v2", rule="admins"))
    clock.advance(5)
    await repository.record(attempt.id, Submitted(nonce=attempt.nonce, owner="me", reason="stuck"))
    clock.advance(5)
    await repository.record(
        attempt.id,
        Finished(
            outcome=Outcome.SUCCEEDED,
            http_status=200,
            api_status="success",
            verified_status="completed",
        ),
    )

    folded: dict[str, object] = {}
    for _, data in events_of(execute_sql, attempt.id):
        folded.update(data)
    final = await repository.get(attempt.id)

    assert final is not None
    assert folded.pop("event") == "finished"
    assert folded == {
        **{
            name: (value.value if hasattr(value, "value") else value)
            for name, value in final.audit_record().items()
            if name not in {"requested_at", "completed_at"}
        },
        "requested_at": "2026-11-28T21:00:00.000000Z",
        "completed_at": "2026-11-28T21:00:10.000000Z",
    }
    assert (final.pipeline_name, final.rule, final.reason, final.verified_status) == (
        "Nightly ETL v2",
        "admins",
        "stuck",
        "completed",
    )
    assert [(o, d["event"]) for o, d in events_of(execute_sql, attempt.id)] == [
        ("awaiting_confirmation", "started"),
        ("pending", "submitted"),
        ("succeeded", "finished"),
    ]


async def test_budget_times_counts_only_attempts_that_reached_the_api(
    attempt_in, repository, clock
):
    times = {}
    for outcome in Outcome:
        times[outcome] = clock.advance(60)
        await attempt_in(outcome, requested_at=clock())
    await attempt_in(Outcome.FAILED, user_id="U0BOB")
    await attempt_in(Outcome.FAILED, rule="other-rule")
    await attempt_in(Outcome.FAILED, requested_at=START - timedelta(hours=2))

    got = await repository.budget_times(
        user_id="U0ALICE", rule="data-oncall", since=START - timedelta(hours=1)
    )

    assert got == [
        times[Outcome.PENDING],
        times[Outcome.SUCCEEDED],
        times[Outcome.UNCONFIRMED],
        times[Outcome.FAILED],
    ]


async def test_history_filters_by_pipeline_and_run_newest_first(repository, make_attempt, clock):
    a = await repository.start(make_attempt(pipeline_id="P1", run_id="r1"))
    clock.advance(1)
    b = await repository.start(make_attempt(pipeline_id="P2", run_id="r1", requested_at=clock()))
    clock.advance(1)
    c = await repository.start(make_attempt(pipeline_id="P1", run_id="r2", requested_at=clock()))
    clock.advance(1)
    d = await repository.start(make_attempt(pipeline_id="P3", run_id="r1", requested_at=clock()))

    assert [x.id for x in await repository.history(pipeline_ids=None)] == [d.id, c.id, b.id, a.id]
    assert [x.id for x in await repository.history(pipeline_ids=["P1", "P2"])] == [c.id, b.id, a.id]
    assert [x.id for x in await repository.history(pipeline_ids={"P1"}, run_id="r1")] == [a.id]
    assert [x.id for x in await repository.history(pipeline_ids=None, limit=2)] == [d.id, c.id]
    assert await repository.history(pipeline_ids=[]) == []


async def test_expired_awaiting_lists_only_old_attempts_still_awaiting(
    repository, make_attempt, attempt_in, clock
):
    old = await repository.start(make_attempt())
    await attempt_in(Outcome.ABANDONED)
    clock.advance(31 * 60)
    await repository.start(make_attempt(requested_at=clock()))

    got = await repository.expired_awaiting(older_than=clock() - timedelta(minutes=30))

    assert [a.id for a in got] == [old.id]


async def test_orphaned_pending_lists_pending_attempts_whose_owner_heartbeat_lapsed(
    repository, attempt_in, clock
):
    await repository.heartbeat("gone")
    clock.advance(LAPSE.total_seconds() + 1)
    await repository.heartbeat("alive")
    await repository.heartbeat("me")
    lapsed = await attempt_in(Outcome.PENDING, owner="gone")
    await attempt_in(Outcome.PENDING, owner="alive")
    await attempt_in(Outcome.FAILED, owner="gone")
    await attempt_in(Outcome.PENDING, owner="me")

    got = await repository.orphaned_pending(lapse=LAPSE, instance_id="me")

    assert [a.id for a in got] == [lapsed.id]


async def test_an_owner_with_a_fresh_heartbeat_is_not_orphaned_until_it_lapses(
    repository, attempt_in, clock
):
    await repository.heartbeat("host-1")
    attempt = await attempt_in(Outcome.PENDING, owner="host-1")

    clock.advance(LAPSE.total_seconds())
    at_the_lapse = await repository.orphaned_pending(lapse=LAPSE, instance_id="host-2")
    clock.advance(1)
    after_it = await repository.orphaned_pending(lapse=LAPSE, instance_id="host-2")
    await repository.heartbeat("host-1")
    renewed = await repository.orphaned_pending(lapse=LAPSE, instance_id="host-2")

    assert at_the_lapse == []
    assert [a.id for a in after_it] == [attempt.id]
    assert renewed == []


async def test_a_retired_owner_is_orphaned_at_once_until_it_beats_again(repository, attempt_in):
    await repository.heartbeat("host-1")
    attempt = await attempt_in(Outcome.PENDING, owner="host-1")

    await repository.retire("host-1")
    retired = await repository.orphaned_pending(lapse=LAPSE, instance_id="host-2")
    await repository.heartbeat("host-1")
    restarted = await repository.orphaned_pending(lapse=LAPSE, instance_id="host-2")

    assert retired == [attempt]
    assert restarted == []


async def test_the_callers_own_pending_attempts_are_never_orphaned(repository, attempt_in, clock):
    await repository.heartbeat("me")
    lapsed = await attempt_in(Outcome.PENDING, owner="me")
    clock.advance(LAPSE.total_seconds() + 1)
    await repository.retire("me")
    unregistered = await attempt_in(Outcome.PENDING, owner="me-too")

    mine = await repository.orphaned_pending(lapse=LAPSE, instance_id="me")
    theirs = await repository.orphaned_pending(lapse=LAPSE, instance_id="me-too")

    assert [a.id for a in mine] == [unregistered.id]
    assert [a.id for a in theirs] == [lapsed.id]


async def test_an_owner_without_an_instance_row_is_orphaned(repository, attempt_in):
    attempt = await attempt_in(Outcome.PENDING, owner="never-beat")

    got = await repository.orphaned_pending(lapse=LAPSE, instance_id="host-2")

    assert got == [attempt]
    assert got[0].owner == "never-beat"


async def test_saving_an_alert_again_replaces_its_ts(repository):
    key = AlertKey(channel="C0INCIDENTS", pipeline="nightly-etl", run_id="run1")
    other = AlertKey(channel="C0INCIDENTS", pipeline="nightly-etl", run_id="run2")
    assert await repository.alert_ts(key) is None

    await repository.save_alert(key, ts="1700000000.000100")
    await repository.save_alert(key, ts="1700000000.000200")
    await repository.save_alert(other, ts="1700000000.000300")

    assert await repository.alert_ts(key) == "1700000000.000200"
    assert await repository.alert_ts(other) == "1700000000.000300"


async def test_run_holder_finds_a_run_by_the_pipeline_as_an_alert_names_it(
    repository, make_attempt, clock
):
    base = "https://api.vectorshift.ai/v1"
    pipeline_id = "65f1c0ffee0123456789abcd"
    assert await repository.run_holder(pipeline="nightly-etl", run_id="run-h") is None

    # Paused from the alert (pipeline named by its alias), then resumed from the result's
    # button (pipeline named by id): the alert, which knows only the alias, sees the resume.
    paused = await repository.start(
        make_attempt(run_id="run-h", action=Action.PAUSE, pipeline_ref="nightly-etl")
    )
    submitted = await repository.submit(
        paused.id, Submitted(nonce=paused.nonce or "", owner="instance-a"), base_url=base
    )
    assert submitted is not None
    assert submitted[1] is None
    assert (await repository.run_holder(pipeline="nightly-etl", run_id="run-h")).id == paused.id
    await repository.record(paused.id, Finished(outcome=Outcome.SUCCEEDED))
    clock.advance(5)
    resumed = await repository.start(
        make_attempt(run_id="run-h", action=Action.RESUME, pipeline_ref=pipeline_id)
    )
    submitted = await repository.submit(
        resumed.id, Submitted(nonce=resumed.nonce or "", owner="instance-a"), base_url=base
    )
    assert submitted is not None
    assert submitted[1] is None

    holder = await repository.run_holder(pipeline="nightly-etl", run_id="run-h")
    assert (holder.id, holder.action, holder.outcome) == (
        resumed.id,
        Action.RESUME,
        Outcome.PENDING,
    )
    assert (await repository.run_holder(pipeline=pipeline_id, run_id="run-h")).id == resumed.id
    assert await repository.run_holder(pipeline="other", run_id="run-h") is None
    assert await repository.run_holder(pipeline="nightly-etl", run_id="run-x") is None


async def test_a_duplicate_attempt_id_is_an_audit_write_error(repository, make_attempt):
    attempt = await repository.start(make_attempt())

    with pytest.raises(AuditWriteError, match=r"new attempt .*\(IntegrityError\)"):
        await repository.start(attempt)


async def test_a_lost_table_is_an_audit_write_error_and_nothing_is_half_written(
    repository, make_attempt, execute_sql, database_url
):
    execute_sql("DROP TABLE audit_events")
    attempt = make_attempt()

    with pytest.raises(AuditWriteError) as raised:
        await repository.start(attempt)

    assert str(raised.value).startswith("could not write the new attempt to the audit store")
    assert "postgres@" not in str(raised.value)
    assert database_url not in str(raised.value)
    assert execute_sql("SELECT count(*) AS n FROM attempts")[0].n == 0


async def test_a_change_that_cannot_append_leaves_the_attempt_unchanged(
    repository, make_attempt, execute_sql
):
    attempt = await repository.start(make_attempt())
    execute_sql("DROP TABLE audit_events")

    with pytest.raises(AuditWriteError, match=r"^could not write the abandoned event"):
        await repository.record(attempt.id, Abandoned())

    assert await repository.get(attempt.id) == attempt


async def test_a_read_of_a_lost_table_is_an_audit_read_error(repository, execute_sql):
    execute_sql("DROP TABLE run_claims")

    with pytest.raises(AuditReadError, match=r"^could not read the run claim from the audit store"):
        await repository.blocking_attempt(base_url="b", pipeline_id="p", run_id="r")


async def test_a_closed_database_no_longer_pings(database_url):
    db = Database.open(database_url)
    assert await db.ping() is True
    await db.close()
    assert await db.ping() is False


async def test_ping_of_an_unreachable_postgresql_is_false():
    db = Database.open("postgresql+psycopg://postgres:hunter2@127.0.0.1:1/nowhere")
    try:
        assert await db.ping() is False
    finally:
        await db.close()
    assert "hunter2" not in repr(db)


async def test_a_stored_source_reads_back_as_a_source(repository, make_attempt, execute_sql):
    attempt = await repository.start(make_attempt(source=Source.RETRY))

    got = await repository.get(attempt.id)

    assert got is not None
    assert got.source is Source.RETRY
    assert events_of(execute_sql, attempt.id)[0][1]["source"] == "retry"
