"""Malformed, forged and denied requests: never a 5xx, never a call, and memory stays bounded.

A smaller run of `bench/fuzz.py`'s mix against the real process. Denied clicks on the largest
messages Slack allows must leave nothing behind: before the fix each one kept its ~150 kB
message in a cache of 2,000 entries.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from scenario import make_stack

from devkit.fuzz import rss_mib, send
from devkit.stack import SIGNING_SECRET

pytestmark = pytest.mark.e2e

COUNT = 2700


async def test_a_mixed_stream_of_bad_requests_gets_no_5xx_calls_nothing_and_keeps_memory_flat(
    tmp_path: Path,
) -> None:
    with make_stack(tmp_path) as stack:
        assert stack.pid is not None
        url = f"{stack.url}/slack/events"
        response_url = stack.slack.response_url(channel="C0INCIDENTS")
        await send(url, SIGNING_SECRET, response_url, 300)
        before = rss_mib(stack.pid)
        report = await send(url, SIGNING_SECRET, response_url, COUNT)
        await asyncio.sleep(1)
        after = rss_mib(stack.pid)
        verify = await asyncio.to_thread(stack.cli, "audit", "verify")
    assert before is not None and after is not None
    print(f"\n{report.sent} requests, {report.server_errors} 5xx; RSS {before} → {after} MiB")
    assert report.sent == COUNT and report.transport_errors == 0
    assert report.server_errors == 0, report.statuses
    assert stack.vectorshift.terminate_calls == []
    assert verify.returncode == 0, verify.stderr
    # 300 denied clicks on ~150 kB messages: kept, they took +45 MiB (measured on the code
    # before the fix); kept nothing, the growth is the allocator's noise.
    assert after - before < 15, (before, after)
