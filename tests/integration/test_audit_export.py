"""`audit export` (SPEC §3, §6): filters, record shape and order, JSON lines, CSV defusing."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

from bot.attempts.lifecycle import AUDIT_FIELDS, Approved, Finished, Outcome, Source, Submitted
from bot.audit.export import write_csv, write_jsonl

START = datetime(2026, 11, 28, 21, 0, tzinfo=UTC)  # the `clock` fixture's start


async def seed(repository, make_attempt, clock):
    """Three attempts a minute apart; the first ends succeeded."""
    a = await repository.start(make_attempt(pipeline_id="P1", pipeline_name="Nightly ETL"))
    clock.advance(60)
    b = await repository.start(
        make_attempt(
            requested_at=clock(),
            pipeline_id="P2",
            pipeline_name="Hourly sync",
            user_id="U0BOB",
            outcome=Outcome.DENIED,
            completed_at=clock(),
        )
    )
    clock.advance(60)
    c = await repository.start(make_attempt(requested_at=clock(), pipeline_id="P1", run_id="r-c"))
    clock.advance(5)
    submitted = Submitted(nonce=a.nonce, owner="host-1", reason="=cost spike")
    assert await repository.record(a.id, submitted) is not None
    finished = Finished(outcome=Outcome.SUCCEEDED, http_status=200, api_status="success")
    assert await repository.record(a.id, finished) is not None
    return a, b, c


async def test_export_returns_every_attempt_in_requested_order_with_exact_fields(
    repository, make_attempt, clock
):
    a, b, c = await seed(repository, make_attempt, clock)

    records = await repository.export()

    assert [r["id"] for r in records] == [a.id, b.id, c.id]
    assert all(tuple(r) == AUDIT_FIELDS for r in records)
    assert records[0] == {
        "id": a.id,
        "request_id": a.request_id,
        "requested_at": "2026-11-28T21:00:00.000000Z",
        "completed_at": "2026-11-28T21:02:05.000000Z",
        "team_id": "T0TEAM",
        "enterprise_id": None,
        "user_id": "U0ALICE",
        "user_name": "alice",
        "channel_id": "C0INCIDENTS",
        "thread_ts": None,
        "source": "slash_command",
        "pipeline_id": "P1",
        "pipeline_name": "Nightly ETL",
        "run_id": a.run_id,
        "reason": "=cost spike",
        "rule": "data-oncall",
        "outcome": "succeeded",
        "http_status": 200,
        "api_status": "success",
        "error": None,
        "verified_status": None,
        "action": "terminate",
        "approved_by": None,
        "approved_at": None,
    }


async def test_an_approved_attempt_exports_its_approvers_and_when(
    repository, make_attempt, advance, clock
):
    waiting = await advance(await repository.start(make_attempt()), Outcome.AWAITING_APPROVAL)
    clock.advance(90)
    await repository.record(waiting.id, Approved(approver="U0BOSS", owner="host-1"))
    clock.advance(30)
    await repository.record(waiting.id, Finished(outcome=Outcome.SUCCEEDED))

    [record] = await repository.export()

    assert (record["outcome"], record["approved_by"], record["approved_at"]) == (
        "succeeded",
        "U0BOSS",
        "2026-11-28T21:01:30.000000Z",
    )
    assert (await repository.verify()).ok


async def test_export_filters_narrow_the_records(repository, make_attempt, clock):
    a, b, c = await seed(repository, make_attempt, clock)

    async def ids(**filters):
        return [r["id"] for r in await repository.export(**filters)]

    assert await ids(since=START + timedelta(seconds=60)) == [b.id, c.id]
    assert await ids(until=START + timedelta(seconds=60)) == [a.id]
    assert await ids(pipeline="P1") == [a.id, c.id]
    assert await ids(pipeline="Hourly sync") == [b.id]
    assert await ids(run="r-c") == [c.id]
    assert await ids(user="U0BOB") == [b.id]
    assert await ids(outcome="succeeded") == [a.id]
    assert await ids(outcome=Outcome.DENIED, user="U0ALICE") == []


def test_jsonl_writes_one_object_per_line_in_field_order():
    record = {name: None for name in AUDIT_FIELDS} | {
        "id": "att-1",
        "requested_at": datetime(2026, 11, 28, 21, 0, tzinfo=UTC),
        "source": Source.BUTTON,
        "http_status": 404,
        "reason": "naïve “quote”",
    }
    out = io.StringIO()

    count = write_jsonl([record, {"id": "att-2"}], out)

    lines = out.getvalue().splitlines()
    assert count == 2
    assert list(json.loads(lines[0])) == list(AUDIT_FIELDS)
    assert json.loads(lines[0])["requested_at"] == "2026-11-28T21:00:00.000000Z"
    assert json.loads(lines[0])["source"] == "button"
    assert '"reason": "naïve “quote”"' in lines[0]
    assert json.loads(lines[1]) == {
        name: ("att-2" if name == "id" else None) for name in AUDIT_FIELDS
    }


def test_csv_has_the_audit_header_and_defuses_formula_cells():
    dangerous = ["=1+1", "+SUM(A1)", "-2", "@cmd", "\tTAB", "\rCR"]
    records = [
        {"id": f"att-{i}", "reason": text, "http_status": 500, "error": None}
        for i, text in enumerate(dangerous)
    ] + [{"id": "att-safe", "reason": "a = b, fine", "http_status": None}]
    out = io.StringIO()

    count = write_csv(records, out)

    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert count == 7
    assert rows[0] == list(AUDIT_FIELDS)
    reason = AUDIT_FIELDS.index("reason")
    status = AUDIT_FIELDS.index("http_status")
    assert [row[reason] for row in rows[1:]] == [
        "'=1+1",
        "'+SUM(A1)",
        "'-2",
        "'@cmd",
        "'\tTAB",
        "'\rCR",
        "a = b, fine",
    ]
    assert [row[status] for row in rows[1:]] == ["500"] * 6 + [""]
    assert rows[1][AUDIT_FIELDS.index("error")] == ""


async def test_exported_csv_of_stored_attempts_round_trips(repository, make_attempt, clock):
    await seed(repository, make_attempt, clock)
    out = io.StringIO()

    write_csv(await repository.export(), out)

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert [(r["outcome"], r["reason"], r["requested_at"]) for r in rows] == [
        ("succeeded", "'=cost spike", "2026-11-28T21:00:00.000000Z"),
        ("denied", "", "2026-11-28T21:01:00.000000Z"),
        ("awaiting_confirmation", "", "2026-11-28T21:02:00.000000Z"),
    ]
