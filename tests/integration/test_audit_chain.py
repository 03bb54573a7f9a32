"""The tamper-evident chain (SPEC §6): exact hashed bytes, verify, tampering found, no forks."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from datetime import UTC, datetime

from bot.attempts.lifecycle import Abandoned, Finished, Outcome, Submitted
from bot.audit.chain import event_bytes, event_hash
from bot.audit.db import Database
from bot.audit.repository import AuditRepository, VerifyResult

KEY = b"integration-test-chain-key"  # the `repository` fixture's key


def test_the_hashed_bytes_are_canonical_json_of_the_event():
    at = datetime(2026, 11, 28, 21, 0, 5, 123, tzinfo=UTC)
    data = {"reason": "stuck – “quoted”", "http_status": 200, "error": None}

    content = event_bytes(
        event_id=7, attempt_id="att-1", at=at, outcome="failed", data=data, prev_hash="ab" * 32
    )

    assert (
        content
        == (
            '[7,"att-1","2026-11-28T21:00:05.000123Z","failed",'
            '{"error":null,"http_status":200,"reason":"stuck – “quoted”"},"' + "ab" * 32 + '"]'
        ).encode()
    )
    args = {
        "event_id": 7,
        "attempt_id": "att-1",
        "at": at,
        "outcome": "failed",
        "data": data,
        "prev_hash": "ab" * 32,
    }
    assert event_hash(KEY, **args) == hmac.new(KEY, content, hashlib.sha256).hexdigest()
    assert event_hash(None, **args) == hashlib.sha256(content).hexdigest()


async def write_history(repository, make_attempt, clock) -> list[str]:
    """Four events over two attempts; returns the attempt ids."""
    first = await repository.start(make_attempt())
    clock.advance(1)
    second = await repository.start(make_attempt(requested_at=clock()))
    clock.advance(1)
    submitted = Submitted(nonce=first.nonce, owner="host-1", reason="stuck")
    assert await repository.record(first.id, submitted) is not None
    clock.advance(1)
    finished = Finished(outcome=Outcome.SUCCEEDED, http_status=200)
    assert await repository.record(first.id, finished) is not None
    return [first.id, second.id]


async def test_an_untouched_chain_verifies_and_matches_its_head(repository, make_attempt, clock):
    await write_history(repository, make_attempt, clock)

    result = await repository.verify()
    count, head = await repository.chain_head()

    assert result == VerifyResult(ok=True, count=4, bad_event_id=None, problem=None, head=head)
    assert count == 4
    assert head is not None
    assert len(head) == 64


async def test_an_empty_chain_verifies(repository):
    assert await repository.verify() == VerifyResult(True, 0, None, None, None)
    assert await repository.chain_head() == (0, None)


async def test_events_link_to_the_previous_hash_in_id_order(
    repository, make_attempt, clock, execute_sql
):
    await write_history(repository, make_attempt, clock)

    rows = execute_sql("SELECT id, prev_hash, hash FROM audit_events ORDER BY id")

    assert [r.id for r in rows] == [1, 2, 3, 4]
    assert [r.prev_hash for r in rows] == [None, rows[0].hash, rows[1].hash, rows[2].hash]


async def test_an_edited_event_is_named(repository, make_attempt, clock, execute_sql):
    await write_history(repository, make_attempt, clock)
    data = json.loads(execute_sql("SELECT data FROM audit_events WHERE id = 3")[0].data)
    execute_sql(
        "UPDATE audit_events SET data = :d WHERE id = 3", d=json.dumps({**data, "reason": "fine"})
    )

    result = await repository.verify()

    assert (result.ok, result.bad_event_id, result.count) == (False, 3, 2)
    assert result.problem == "its hash does not match its content (edited, or another key)"


async def test_a_deleted_middle_event_is_named_by_the_event_after_the_gap(
    repository, make_attempt, clock, execute_sql
):
    await write_history(repository, make_attempt, clock)
    execute_sql("DELETE FROM audit_events WHERE id = 2")

    result = await repository.verify()

    assert (result.ok, result.bad_event_id, result.count) == (False, 3, 1)
    assert result.problem == "event 2 missing before it (deleted?)"


async def test_a_forged_hash_is_named(repository, make_attempt, clock, execute_sql):
    await write_history(repository, make_attempt, clock)
    execute_sql("UPDATE audit_events SET hash = :h WHERE id = 2", h="0" * 64)

    result = await repository.verify()

    assert (result.ok, result.bad_event_id, result.count) == (False, 2, 1)
    assert result.problem == "its hash does not match its content (edited, or another key)"


async def test_reordered_events_are_named(repository, make_attempt, clock, execute_sql):
    await write_history(repository, make_attempt, clock)
    two, three = execute_sql(
        "SELECT attempt_id, at, outcome, data, prev_hash, hash FROM audit_events"
        " WHERE id IN (2, 3) ORDER BY id"
    )
    for event_id, row in ((2, three), (3, two)):
        execute_sql(
            "UPDATE audit_events SET attempt_id = :attempt_id, at = :at, outcome = :outcome,"
            " data = :data, prev_hash = :prev_hash, hash = :hash WHERE id = :id",
            id=event_id,
            **row._asdict(),
        )

    result = await repository.verify()

    assert (result.ok, result.bad_event_id, result.count) == (False, 2, 1)
    assert result.problem == "its prev_hash is not the previous event's hash"


async def test_a_chain_rehashed_without_the_key_fails(
    database, repository, make_attempt, clock, execute_sql
):
    await write_history(repository, make_attempt, clock)
    rows = execute_sql("SELECT id, attempt_id, at, outcome, data FROM audit_events ORDER BY id")
    prev = None
    for row in rows:
        at = row.at if isinstance(row.at, datetime) else datetime.fromisoformat(row.at)
        forged = event_hash(
            None,
            event_id=row.id,
            attempt_id=row.attempt_id,
            at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
            outcome=row.outcome,
            data=json.loads(row.data),
            prev_hash=prev,
        )
        execute_sql(
            "UPDATE audit_events SET prev_hash = :p, hash = :h WHERE id = :id",
            p=prev,
            h=forged,
            id=row.id,
        )
        prev = forged

    keyed = await repository.verify()
    plain = await AuditRepository(database, hmac_key=None, clock=clock).verify()

    assert (keyed.ok, keyed.bad_event_id) == (False, 1)
    assert plain == VerifyResult(True, 4, None, None, prev)


async def test_verifying_with_another_key_fails_at_the_first_event(
    database, repository, make_attempt, clock
):
    await write_history(repository, make_attempt, clock)

    result = await AuditRepository(database, hmac_key=b"another key", clock=clock).verify()

    assert (result.ok, result.bad_event_id, result.count, result.head) == (False, 1, 0, None)


async def test_a_plain_chain_verifies_only_without_a_key(database, make_attempt, clock):
    plain = AuditRepository(database, hmac_key=None, clock=clock)
    await write_history(plain, make_attempt, clock)

    assert (await plain.verify()).ok is True
    keyed = await AuditRepository(database, hmac_key=KEY, clock=clock).verify()
    assert (keyed.ok, keyed.bad_event_id) == (False, 1)


async def test_an_edited_projection_is_found(repository, make_attempt, clock, execute_sql):
    first_id, _ = await write_history(repository, make_attempt, clock)
    execute_sql("UPDATE attempts SET outcome = 'failed' WHERE id = :id", id=first_id)

    result = await repository.verify()

    assert result.ok is False
    assert (result.count, result.bad_event_id) == (4, None)
    assert result.problem == f"attempt {first_id}: stored outcome differs from its events"


async def test_a_deleted_newest_event_is_found_through_the_projection(
    repository, make_attempt, execute_sql
):
    await repository.start(make_attempt())
    newest = await repository.start(make_attempt())
    execute_sql("DELETE FROM audit_events WHERE id = 2")

    result = await repository.verify()

    assert (result.ok, result.count, result.bad_event_id) == (False, 1, None)
    assert result.problem == f"attempt {newest.id} has state but no events"


async def test_two_handles_appending_at_once_keep_one_chain(database_url, make_attempt, clock):
    handles = [Database.open(database_url) for _ in range(2)]
    repos = [AuditRepository(db, hmac_key=KEY, clock=clock) for db in handles]
    per_handle = 25
    try:
        attempts = [[make_attempt() for _ in range(per_handle)] for _ in repos]

        async def append_all(repo: AuditRepository, mine) -> None:
            for attempt in mine:
                await repo.start(attempt)
                assert await repo.record(attempt.id, Abandoned()) is not None

        await asyncio.gather(*(append_all(r, a) for r, a in zip(repos, attempts, strict=True)))

        result = await repos[0].verify()
        assert result == VerifyResult(True, 2 * 2 * per_handle, None, None, result.head)
        assert await repos[1].chain_head() == (100, result.head)
    finally:
        for db in handles:
            await db.close()
