"""End-to-end fixtures: the real `vs-terminate-bot serve` process against the local fakes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from scenario import make_stack

from devkit.stack import LocalStack


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[LocalStack]:
    """The bot on SQLite with the standard policy."""
    running = make_stack(tmp_path)
    running.start()
    try:
        yield running
    finally:
        running.stop()
