"""Fixtures of the in-process level: `bot` is the real runtime against the fakes, on SQLite."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from harness import InProcessBot, running_bot


@pytest.fixture
async def bot(tmp_path: Path, sqlite_url: str) -> AsyncIterator[InProcessBot]:
    """The bot with the standard scenario's policy, people and pipelines."""
    async with running_bot(tmp_path, sqlite_url) as running:
        yield running
