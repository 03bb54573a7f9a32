"""`audit export` output: audit records as JSON lines or CSV (SPEC §3, §6); pure, no I/O but `out`.

Both writers take the records `AuditRepository.export` returns (exactly `AUDIT_FIELDS`, in
order) and keep that order: JSON keys and the CSV header are `AUDIT_FIELDS`. CSV cells that a
spreadsheet would read as a formula (starting with `=`, `+`, `-`, `@`, tab or carriage return)
are prefixed with `'` (OWASP "CSV injection").
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping
from datetime import datetime
from enum import Enum
from typing import Final, TextIO

from bot.attempts.lifecycle import AUDIT_FIELDS
from bot.audit.chain import iso_utc

FORMULA_STARTS: Final = ("=", "+", "-", "@", "\t", "\r")


def write_jsonl(records: Iterable[Mapping[str, object]], out: TextIO) -> int:
    """Write one JSON object per line, keys in `AUDIT_FIELDS` order.

    Args:
        records: audit records (missing fields are written as null).
        out: a text stream.

    Returns:
        The number of records written.
    """
    count = 0
    for record in records:
        line = {name: _plain(record.get(name)) for name in AUDIT_FIELDS}
        out.write(json.dumps(line, ensure_ascii=False) + "\n")
        count += 1
    return count


def write_csv(records: Iterable[Mapping[str, object]], out: TextIO) -> int:
    """Write a CSV with the header `AUDIT_FIELDS`, one row per record, formulas defused.

    Args:
        records: audit records (missing fields and None are written as empty cells).
        out: a text stream opened with `newline=""` when it is a file.

    Returns:
        The number of records written (the header not counted).
    """
    writer = csv.writer(out)
    writer.writerow(AUDIT_FIELDS)
    count = 0
    for record in records:
        writer.writerow([_cell(record.get(name)) for name in AUDIT_FIELDS])
        count += 1
    return count


def _plain(value: object) -> object:
    if isinstance(value, datetime):
        return iso_utc(value)
    if isinstance(value, Enum):
        return value.value
    return value


def _cell(value: object) -> str:
    value = _plain(value)
    if value is None:
        return ""
    text = str(value)
    if isinstance(value, str) and text.startswith(FORMULA_STARTS):
        return "'" + text
    return text
