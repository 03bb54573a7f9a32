"""AuditRepository on SQLite and PostgreSQL: attempts, events, queries, alert messages, failures."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from bot.audit import AuditReadError
from bot.audit.db import Database
from bot.domain import AUDIT_FIELDS, Outcome, Source
from bot.errors import AuditWriteError

START = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)  # the `clock` fixture's start

FINAL_AT = START + timedelta(seconds=42)


def events_of(execute_sql, attempt_id: str) -> list[tuple[str, dict[str, object]]]:
    rows = execute_sql(
        "SELECT outcome, data FROM audit_events WHERE attempt_id = :a ORDER BY id", a=attempt_id
    )
    return [(row.outcome, json.loads(row.data)) for row in rows]


async def test_added_attempt_reads_back_equal(repository, make_attempt):
    attempt = make_attempt()

    stored = await repository.add(attempt)

    assert stored == attempt
    assert await repository.get(attempt.id) == attempt


async def test_datetimes_are_stored_and_returned_in_utc(repository, make_attempt):
    east = timezone(timedelta(hours=5, minutes=30))
    attempt = make_attempt(requested_at=datetime(2026, 11, 29, 2, 30, tzinfo=east))

    await repository.add(attempt)
    got = await repository.get(attempt.id)

    assert got is not None
    assert got.requested_at == datetime(2026, 11, 28, 21, 0, tzinfo=UTC)
    assert got.requested_at.tzinfo is UTC


async def test_get_of_an_unknown_attempt_is_none(repository):
    assert await repository.get("nope") is None


async def test_update_applies_changes_and_appends_one_event(repository, make_attempt, execute_sql):
    attempt = await repository.add(make_attempt())

    updated = await repository.update(
        attempt.id, outcome=Outcome.PENDING, reason="runaway costs", view_id="V123"
    )

    assert updated is not None
    assert (updated.outcome, updated.reason, updated.view_id) == (
        Outcome.PENDING,
        "runaway costs",
        "V123",
    )
    assert await repository.get(attempt.id) == updated
    assert events_of(execute_sql, attempt.id)[1:] == [
        ("pending", {"outcome": "pending", "reason": "runaway costs"})
    ]


async def test_first_event_carries_every_audit_field_and_nothing_else(
    repository, make_attempt, execute_sql
):
    attempt = await repository.add(make_attempt())

    [(outcome, data)] = events_of(execute_sql, attempt.id)

    assert outcome == "awaiting_confirmation"
    assert sorted(data) == sorted(AUDIT_FIELDS)
    assert data["requested_at"] == "2026-11-28T21:00:00.000000Z"
    assert data["source"] == "slash_command"
    assert "response_url" not in data
    assert "nonce" not in data


async def test_update_with_an_unexpected_outcome_writes_nothing(
    repository, make_attempt, execute_sql
):
    attempt = await repository.add(make_attempt(outcome=Outcome.ABANDONED))

    result = await repository.update(
        attempt.id, expect={Outcome.AWAITING_CONFIRMATION}, outcome=Outcome.PENDING
    )

    assert result is None
    assert await repository.get(attempt.id) == attempt
    assert len(events_of(execute_sql, attempt.id)) == 1


async def test_update_with_a_wrong_nonce_writes_nothing(repository, make_attempt, execute_sql):
    attempt = await repository.add(make_attempt(nonce="right-nonce"))

    result = await repository.update(
        attempt.id, expect_nonce="wrong-nonce", outcome=Outcome.PENDING
    )

    assert result is None
    assert await repository.get(attempt.id) == attempt
    assert len(events_of(execute_sql, attempt.id)) == 1


async def test_update_with_the_right_nonce_and_outcome_applies_once(repository, make_attempt):
    attempt = await repository.add(make_attempt(nonce="right-nonce"))
    guard = {"expect": {Outcome.AWAITING_CONFIRMATION}, "expect_nonce": "right-nonce"}

    first = await repository.update(attempt.id, **guard, outcome=Outcome.PENDING)
    replay = await repository.update(attempt.id, **guard, outcome=Outcome.PENDING)

    assert first is not None
    assert first.outcome is Outcome.PENDING
    assert replay is None


async def test_update_of_a_missing_attempt_returns_none(repository, execute_sql):
    assert await repository.update("nope", outcome=Outcome.FAILED) is None
    assert execute_sql("SELECT count(*) AS n FROM audit_events")[0].n == 0


async def test_a_final_outcome_stamps_completed_at_from_the_clock(repository, make_attempt, clock):
    attempt = await repository.add(make_attempt(outcome=Outcome.PENDING))
    clock.advance(42)

    done = await repository.update(attempt.id, outcome=Outcome.SUCCEEDED, http_status=200)

    assert done is not None
    assert done.completed_at == FINAL_AT
    assert done.http_status == 200


async def test_a_given_completed_at_is_kept(repository, make_attempt, clock):
    attempt = await repository.add(make_attempt(outcome=Outcome.PENDING))
    clock.advance(100)

    done = await repository.update(
        attempt.id, outcome=Outcome.FAILED, completed_at=FINAL_AT, error="bad key"
    )

    assert done is not None
    assert done.completed_at == FINAL_AT


async def test_changing_only_server_side_fields_writes_no_event(
    repository, make_attempt, execute_sql
):
    attempt = await repository.add(make_attempt(outcome=Outcome.PENDING))
    lease = START + timedelta(minutes=5)

    updated = await repository.update(
        attempt.id, view_id="V999", lease_owner="host-1", lease_until=lease
    )

    assert updated is not None
    assert (updated.view_id, updated.lease_owner, updated.lease_until) == ("V999", "host-1", lease)
    assert await repository.get(attempt.id) == updated
    assert len(events_of(execute_sql, attempt.id)) == 1


async def test_an_unknown_field_is_refused_before_anything_is_written(repository, make_attempt):
    attempt = await repository.add(make_attempt())

    with pytest.raises(TypeError, match="'colour' is not a changeable Attempt field"):
        await repository.update(attempt.id, colour="red")
    with pytest.raises(ValueError, match="'exploded' is not a valid Outcome"):
        await repository.update(attempt.id, outcome="exploded")

    assert await repository.get(attempt.id) == attempt


async def test_projection_equals_the_fold_of_its_events(
    repository, make_attempt, execute_sql, clock
):
    attempt = await repository.add(make_attempt())
    await repository.update(attempt.id, reason="stuck", view_id="V1")
    clock.advance(5)
    await repository.update(attempt.id, outcome=Outcome.PENDING, lease_owner="me")
    clock.advance(5)
    await repository.update(
        attempt.id, outcome=Outcome.SUCCEEDED, http_status=200, api_status="success"
    )
    await repository.update(attempt.id, verified_status="completed")

    folded: dict[str, object] = {}
    for _, data in events_of(execute_sql, attempt.id):
        folded.update(data)
    final = await repository.get(attempt.id)

    assert final is not None
    assert folded == {
        **{
            name: (value.value if hasattr(value, "value") else value)
            for name, value in final.audit_record().items()
            if name not in {"requested_at", "completed_at"}
        },
        "requested_at": "2026-11-28T21:00:00.000000Z",
        "completed_at": "2026-11-28T21:00:10.000000Z",
    }
    assert [o for o, _ in events_of(execute_sql, attempt.id)] == [
        "awaiting_confirmation",
        "awaiting_confirmation",
        "pending",
        "succeeded",
        "succeeded",
    ]


async def test_budget_times_counts_only_attempts_that_reached_the_api(
    repository, make_attempt, clock
):
    times = {}
    for outcome in Outcome:
        times[outcome] = clock.advance(60)
        await repository.add(make_attempt(outcome=outcome, requested_at=clock()))
    await repository.add(make_attempt(outcome=Outcome.FAILED, user_id="U0BOB"))
    await repository.add(make_attempt(outcome=Outcome.FAILED, rule="other-rule"))
    await repository.add(
        make_attempt(outcome=Outcome.FAILED, requested_at=START - timedelta(hours=2))
    )

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
    a = await repository.add(make_attempt(pipeline_id="P1", run_id="r1"))
    clock.advance(1)
    b = await repository.add(make_attempt(pipeline_id="P2", run_id="r1", requested_at=clock()))
    clock.advance(1)
    c = await repository.add(make_attempt(pipeline_id="P1", run_id="r2", requested_at=clock()))
    clock.advance(1)
    d = await repository.add(make_attempt(pipeline_id="P3", run_id="r1", requested_at=clock()))

    assert [x.id for x in await repository.history(pipeline_ids=None)] == [d.id, c.id, b.id, a.id]
    assert [x.id for x in await repository.history(pipeline_ids=["P1", "P2"])] == [c.id, b.id, a.id]
    assert [x.id for x in await repository.history(pipeline_ids={"P1"}, run_id="r1")] == [a.id]
    assert [x.id for x in await repository.history(pipeline_ids=None, limit=2)] == [d.id, c.id]
    assert await repository.history(pipeline_ids=[]) == []


async def test_expired_awaiting_lists_only_old_attempts_still_awaiting(
    repository, make_attempt, clock
):
    old = await repository.add(make_attempt())
    await repository.add(make_attempt(outcome=Outcome.ABANDONED))
    clock.advance(31 * 60)
    await repository.add(make_attempt(requested_at=clock()))

    got = await repository.expired_awaiting(older_than=clock() - timedelta(minutes=30))

    assert [a.id for a in got] == [old.id]


async def test_orphaned_pending_lists_pending_attempts_whose_lease_ran_out(
    repository, make_attempt
):
    expired = await repository.add(
        make_attempt(outcome=Outcome.PENDING, lease_owner="gone", lease_until=START)
    )
    await repository.add(
        make_attempt(
            outcome=Outcome.PENDING, lease_owner="alive", lease_until=START + timedelta(minutes=5)
        )
    )
    await repository.add(
        make_attempt(outcome=Outcome.FAILED, lease_owner="gone", lease_until=START)
    )
    await repository.add(make_attempt(outcome=Outcome.PENDING))

    got = await repository.orphaned_pending(now=START + timedelta(seconds=1))

    assert [a.id for a in got] == [expired.id]


async def test_saving_an_alert_again_replaces_its_ts(repository):
    key = {"channel": "C0INCIDENTS", "pipeline": "nightly-etl", "run_id": "run1"}
    assert await repository.alert_ts(**key) is None

    await repository.save_alert(**key, ts="1700000000.000100")
    await repository.save_alert(**key, ts="1700000000.000200")
    await repository.save_alert(**{**key, "run_id": "run2"}, ts="1700000000.000300")

    assert await repository.alert_ts(**key) == "1700000000.000200"
    assert await repository.alert_ts(**{**key, "run_id": "run2"}) == "1700000000.000300"


async def test_a_duplicate_attempt_id_is_an_audit_write_error(repository, make_attempt):
    attempt = await repository.add(make_attempt())

    with pytest.raises(AuditWriteError, match=r"new attempt .*\(IntegrityError\)"):
        await repository.add(attempt)


async def test_a_lost_table_is_an_audit_write_error_and_nothing_is_half_written(
    repository, make_attempt, execute_sql, database_url
):
    execute_sql("DROP TABLE audit_events")
    attempt = make_attempt()

    with pytest.raises(AuditWriteError) as raised:
        await repository.add(attempt)

    assert str(raised.value).startswith("could not write the new attempt to the audit store")
    assert "postgres@" not in str(raised.value)
    assert database_url not in str(raised.value)
    assert execute_sql("SELECT count(*) AS n FROM attempts")[0].n == 0


async def test_an_update_that_cannot_append_leaves_the_attempt_unchanged(
    repository, make_attempt, execute_sql
):
    attempt = await repository.add(make_attempt())
    execute_sql("DROP TABLE audit_events")

    with pytest.raises(AuditWriteError):
        await repository.update(attempt.id, outcome=Outcome.DENIED)

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


async def test_a_source_change_is_validated(repository, make_attempt):
    attempt = await repository.add(make_attempt())

    updated = await repository.update(attempt.id, source="retry")

    assert updated is not None
    assert updated.source is Source.RETRY
