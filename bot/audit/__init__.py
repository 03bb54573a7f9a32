"""The audit store (SPEC §6): append-only event chain, attempt projection, run claims, alerts.

    models      tables and their naming convention (the schema Alembic migrates)
    db          `Database`: a sync engine confined to one worker thread behind an async API
    chain       the hashed bytes of an event, and nothing else
    repository  `AuditRepository`: every read and write the app makes
    export      jsonl/csv writers for `audit export` (pure)
    migrate     Alembic entry points (`upgrade_to_head`, `current_revision`, …)

Errors: a failed write raises `bot.errors.AuditWriteError` (the caller fails closed); a failed
read raises `AuditReadError` below. Neither message carries the database URL.
"""

from __future__ import annotations

from bot.errors import BotError


class AuditReadError(BotError):
    """The audit store could not be read; `str()` names the failing operation, never the URL."""
