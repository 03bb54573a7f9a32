"""The audit chain's hashed bytes and hash function: the one definition (SPEC §6).

An event's hash covers, as canonical JSON (sorted keys, no spaces, UTF-8), the array

    [id, attempt_id, at, outcome, data, prev_hash]

where `at` is ISO-8601 UTC with microseconds and a `Z` (`iso_utc`), `data` is the event's
changed audit fields as a JSON object and `prev_hash` is the previous event's hash (`null` for
the first). The hash is HMAC-SHA256 under `VS_AUDIT_HMAC_KEY` when set, else plain SHA-256, as
64 lowercase hex digits. Anyone holding the key (or none, for a plain chain) can recompute it
from an events dump with these few lines.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from datetime import UTC, datetime


def iso_utc(value: datetime) -> str:
    """Format an aware datetime as ISO-8601 UTC with microseconds: `2026-11-28T21:00:00.000000Z`.

    Raises:
        ValueError: for a naive datetime.
    """
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("audit datetimes must be timezone-aware")
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: object) -> str:
    """Serialise JSON-ready data the one way the chain accepts: sorted keys, no whitespace.

    Raises:
        TypeError: for a value JSON cannot represent.
        ValueError: for NaN or infinity.
    """
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def event_bytes(
    *,
    event_id: int,
    attempt_id: str,
    at: datetime,
    outcome: str,
    data: Mapping[str, object],
    prev_hash: str | None,
) -> bytes:
    """The exact bytes an event's hash covers.

    Args:
        event_id: the event's chain position.
        attempt_id: the attempt the event belongs to.
        at: when it was appended (aware).
        outcome: the attempt's outcome after the event.
        data: the changed audit fields, JSON-ready.
        prev_hash: the previous event's hash, None for the first event.

    Returns:
        UTF-8 canonical JSON of `[id, attempt_id, at, outcome, data, prev_hash]`.
    """
    content = [event_id, attempt_id, iso_utc(at), outcome, dict(data), prev_hash]
    return canonical_json(content).encode("utf-8")


def event_hash(
    key: bytes | None,
    *,
    event_id: int,
    attempt_id: str,
    at: datetime,
    outcome: str,
    data: Mapping[str, object],
    prev_hash: str | None,
) -> str:
    """Hash one event: HMAC-SHA256 under `key`, or SHA-256 when there is no key.

    Args:
        key: the chain key (`VS_AUDIT_HMAC_KEY`), or None for a plain chain.
        event_id: see `event_bytes`.
        attempt_id: see `event_bytes`.
        at: see `event_bytes`.
        outcome: see `event_bytes`.
        data: see `event_bytes`.
        prev_hash: see `event_bytes`.

    Returns:
        64 lowercase hex digits.
    """
    content = event_bytes(
        event_id=event_id,
        attempt_id=attempt_id,
        at=at,
        outcome=outcome,
        data=data,
        prev_hash=prev_hash,
    )
    if key:
        return hmac.new(key, content, hashlib.sha256).hexdigest()
    return hashlib.sha256(content).hexdigest()


def hashes_equal(a: str | None, b: str | None) -> bool:
    """Compare two stored hashes in constant time (None only equals None)."""
    if a is None or b is None:
        return a is b
    return hmac.compare_digest(a.encode("ascii", "replace"), b.encode("ascii", "replace"))
