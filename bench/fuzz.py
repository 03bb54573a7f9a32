"""The bot under 10,000 mixed malformed, forged and denied signed requests (issue 9, SPEC §7).

Starts the real `vs-terminate-bot serve` against the local fakes, warms it up, then sends the
mix of `devkit.fuzz` and prints: requests sent, answers by kind and status, how many were 5xx,
the bot's resident memory before and after, whether any terminate call reached VectorShift,
and `audit verify`. Run it with `make fuzz` (or `PYTHONPATH=. .venv/bin/python bench/fuzz.py`).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from pathlib import Path

from devkit.fuzz import rss_mib, send
from devkit.scenario import AUDIT, POLICY, make_fakes
from devkit.stack import SIGNING_SECRET, LocalStack


async def main(count: int, warmup: int) -> int:
    with tempfile.TemporaryDirectory(prefix="vs-fuzz-") as workdir:
        slack, vectorshift = make_fakes()
        stack = LocalStack(
            Path(workdir), policy=POLICY, slack=slack, vectorshift=vectorshift, audit_channel=AUDIT
        )
        with stack:
            pid = stack.pid or 0
            url = f"{stack.url}/slack/events"
            response_url = slack.response_url(channel="C0INCIDENTS")
            await send(url, SIGNING_SECRET, response_url, warmup)
            before = rss_mib(pid)
            started = time.monotonic()
            report = await send(url, SIGNING_SECRET, response_url, count)
            elapsed = time.monotonic() - started
            await asyncio.sleep(2)  # let the recorded denials finish
            after = rss_mib(pid)
            verify = stack.cli("audit", "verify")
            terminate_calls = len(vectorshift.terminate_calls)
    print(f"requests: {report.sent} in {elapsed:.1f} s ({report.sent / elapsed:.0f}/s)")
    for (kind, status), n in sorted(report.statuses.items()):
        print(f"  {kind:<32} {status}  x{n}")
    print(f"5xx answers: {report.server_errors}; transport errors: {report.transport_errors}")
    print(
        f"resident memory: {before} MiB after {warmup} warm-up requests, {after} MiB after {count}"
    )
    verified = verify.stdout.strip() or verify.stderr.strip()
    print(f"terminate calls: {terminate_calls}; audit verify: {verified}")
    ok = report.server_errors == 0 and report.transport_errors == 0 and terminate_calls == 0
    return 0 if ok and verify.returncode == 0 else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--warmup", type=int, default=500)
    args = parser.parse_args()
    sys.exit(asyncio.run(main(args.count, args.warmup)))
