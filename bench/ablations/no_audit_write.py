"""Ablation `no_audit_write`: a confirmation's attempt is not written (see README.md)."""

from collections.abc import Callable

from bot.attempts.lifecycle import Attempt
from bot.audit import repository


async def start_unless_held(
    self: repository.AuditRepository,
    attempt: Attempt,
    *,
    duplicate: Callable[[Attempt], Attempt],
) -> tuple[Attempt, Attempt | None]:
    """Stand-in for `AuditRepository.start_unless_held`: the attempt as given, unwritten."""
    return attempt, None


repository.AuditRepository.start_unless_held = start_unless_held  # type: ignore[method-assign]
