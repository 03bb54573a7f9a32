"""A mixed stream of malformed, forged and denied Slack requests, and what the bot made of it.

Used by `bench/fuzz.py` (10,000 requests, with the bot's resident memory before and after) and
by an end-to-end test (a smaller count, with bounds). Every request is one a hostile or broken
client could send: signed garbage, JSON nested past the parser's limit, payloads of the wrong
shape, unreadable or forged signatures, and denied clicks on very large messages (which must
leave nothing behind in the bot's memory). Everything goes to 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlencode

import aiohttp

from devkit.payloads import block_actions_body, sign, slash_command_body

MALLORY = "U0MALLORY01"
CHANNEL = "C0INCIDENTS"
LARGE_MESSAGE = [
    {"type": "section", "text": {"type": "plain_text", "text": f"{i:02d} " + "x" * 2990}}
    for i in range(50)
]
"""A message as large as Slack allows: 50 sections of 3,000 characters (~150 kB of JSON)."""


def rss_mib(pid: int) -> float | None:
    """`VmRSS` of a process in MiB, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return round(int(match.group(1)) / 1024, 1) if match else None


@dataclass
class FuzzReport:
    """What came back: status codes by kind of request, and what went wrong in transport."""

    statuses: Counter[tuple[str, int]] = field(default_factory=Counter)
    transport_errors: int = 0

    @property
    def sent(self) -> int:
        """How many requests got an answer."""
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        """How many answers were a 5xx."""
        return sum(n for (_, status), n in self.statuses.items() if status >= 500)


Request = tuple[str, bytes, dict[str, str]]


def _signed(kind: str, body: str, secret: str) -> Request:
    return kind, body.encode("utf-8", "surrogateescape"), sign(body, secret)


def requests(secret: str, response_url: str) -> Iterator[Request]:
    """An endless, repeating mix of the requests a broken or hostile client sends."""
    deep = "[" * 50_000 + "]" * 50_000
    makers: list[Callable[[int], Request]] = [
        lambda n: _signed(
            "denied_click_on_large_message",
            block_actions_body(
                "vs_terminate",
                f"nightly-etl run-fuzz-{n:06d}",
                user_id=MALLORY,
                channel_id=CHANNEL,
                message_ts=f"1700000000.{n:06d}",
                trigger_id=f"{n}.1.abc",
                response_url=response_url,
                message_blocks=LARGE_MESSAGE,
                message_text="a large alert",
            ),
            secret,
        ),
        lambda n: _signed(
            "denied_command",
            slash_command_body(
                f"nightly-etl run-fuzz-{n:06d} why",
                user_id=MALLORY,
                channel_id=CHANNEL,
                response_url=response_url,
            ),
            secret,
        ),
        lambda n: _signed("not_json", "payload=%7Bnot-json" + str(n), secret),
        lambda _: _signed("deep_json", "payload=" + deep, secret),
        lambda _: _signed("list_payload", "payload=" + json.dumps([1, 2, 3]), secret),
        lambda _: _signed(
            "wrong_shape",
            urlencode({"payload": json.dumps({"type": "block_actions", "actions": None})}),
            secret,
        ),
        lambda n: _signed("binary", bytes(range(256)).decode("latin-1") * (1 + n % 4), secret),
        lambda n: (
            "unreadable_timestamp",
            b"command=%2Fvs-terminate&text=history",
            {
                **sign("command=%2Fvs-terminate&text=history", secret),
                "X-Slack-Request-Timestamp": ("abc", "1.5", "", "1e10")[n % 4],
            },
        ),
        lambda n: (
            "forged_signature",
            f"command=%2Fvs-terminate&text=history&user_id=U0ADMIN{n:04d}".encode(),
            {
                **sign("command=%2Fvs-terminate&text=history", secret),
                "X-Slack-Signature": "v0=" + "0" * 64,
            },
        ),
    ]
    for n in itertools.count():
        yield makers[n % len(makers)](n)


async def send(
    url: str, secret: str, response_url: str, count: int, *, concurrency: int = 16
) -> FuzzReport:
    """POST `count` requests of the mix to `url` (the bot's `/slack/events`)."""
    report = FuzzReport()
    stream = requests(secret, response_url)
    lock = asyncio.Lock()
    left = count
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(timeout=timeout) as session:

        async def worker() -> None:
            nonlocal left
            while True:
                async with lock:
                    if left == 0:
                        return
                    left -= 1
                    kind, body, headers = next(stream)
                try:
                    async with session.post(url, data=body, headers=headers) as response:
                        await response.read()
                        report.statuses[(kind, response.status)] += 1
                except (aiohttp.ClientError, TimeoutError):
                    report.transport_errors += 1

        await asyncio.gather(*(worker() for _ in range(concurrency)))
    return report
