"""The performance benchmark of SPEC §8: this app against a bare Bolt `AsyncApp`, with ratios.

One invocation (`make bench`, or `.venv/bin/python bench/run.py`) measures, on this machine:

1. ack path: signed `/vs-terminate help`, closed loop at 32 and 128 concurrent: p50, p99, max,
   throughput and server CPU µs per ack, against `bench/baseline.py --mode ack`;
2. modal capacity: signed `/vs-terminate <pipeline> <run>` at fixed arrival rates (open loop,
   escalating until a rate fails, then one bisection): the highest rate at which ≥ 99 % of
   modals open (views.open reaches FakeSlack and is accepted) within 3 s of the trigger id being
   minted and acks stay under 100 ms p99, against `bench/baseline.py --mode modal`; then the
   bot's shedding counters from `/metrics`;
3. end to end: 200 concurrent terminations of distinct runs in distinct channels against
   FakeVectorShift with 200 ms latency: time until all 200 results are posted, p99 per
   termination, with the first verification poll's fixed delay excluded (SPEC §8);
4. resident memory (VmRSS) of every server after its last phase.

It prints a table and writes everything to `bench/results/latest.json`; the exit status is 0
only when every target is met. The bot runs as the real `vs-terminate-bot serve` process started
by `devkit.stack.LocalStack`; the baselines run as `bench/baseline.py` processes; FakeSlack and
FakeVectorShift run in background threads of this process, and the load generator (aiohttp, not
httpx: httpcore's pool is pathologically slow with hundreds of requests in flight) runs on this
process's event loop. Everything listens on 127.0.0.1. Every loop is bounded in count and time;
the whole run stays under 4 minutes.

The servers share the machine with this process and with anything else running on it, so every
measured window also records the CPU this process used (`gen CPU%`) and the CPU every other
process used (`other CPU%`, from `/proc/stat`); a busy machine is flagged in the report.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import aiohttp

from bot.attempts.context import VERIFY_DELAYS_S
from bot.slack.ids import CONFIRM_CALLBACK, EVENTS_PATH, REASON_ACTION, REASON_BLOCK
from devkit.fakes.slack_api import FakeSlack
from devkit.fakes.vectorshift_api import FakeVectorShift
from devkit.payloads import sign, slash_command_body, view_submission_body
from devkit.stack import BOT_TOKEN, SIGNING_SECRET, LocalStack, free_port

BENCH_DIR: Final = Path(__file__).resolve().parent
RESULTS_DIR: Final = BENCH_DIR / "results"
WORK_DIR: Final = RESULTS_DIR / "run"
"""The bot's working directory (policy, SQLite audit database, server.log); wiped per run."""

PIPELINE_ID: Final = "65f1c0ffee0123456789abcd"
PIPELINE_NAME: Final = "Bench pipeline"
ADMIN: Final = "U0BENCHAD"
CHANNEL: Final = "C0BENCH01"
E2E_COUNT: Final = 200
E2E_USERS: Final = tuple(f"U0E2E{i:04d}" for i in range(E2E_COUNT))
E2E_CHANNELS: Final = tuple(f"C0E2E{i:04d}" for i in range(E2E_COUNT))

VS_LATENCY_S: Final = 0.2
"""FakeVectorShift's added latency on every answer, in every phase (SPEC §8 names it for e2e)."""
TRIGGER_WINDOW_S: Final = 3.0
"""Slack's trigger_id lifetime; FakeSlack refuses older ones with `expired_trigger_id`."""
FIRST_POLL_DELAY_S: Final = VERIFY_DELAYS_S[0]
"""The bot's fixed pause before its first verification poll, excluded from e2e (SPEC §8)."""

ACK_CONCURRENCY: Final = (32, 128)
MODAL_RATES: Final = (10, 20, 40, 80, 160, 320)
SMOKE_SECONDS: Final = 0.5
SMOKE_CHECKS: Final = (".completed", ".all_200_succeeded", ".no_network_call_on_help_path")
"""What `--smoke` holds the run to: correctness, never speed."""
REQUEST_TIMEOUT_S: Final = 10.0
TIME_BUDGET_S: Final = 225.0
"""Past this the optional steps (higher rates, bisection) are skipped; SPEC wants < 4 min."""
IDLE_TIMEOUT_S: Final = 20.0
E2E_RESULT_TIMEOUT_S: Final = 25.0
E2E_SETTLE_S: Final = 0.5
"""After the last result post, how long calls that follow it (the result modal) may take."""
GENERATOR_LAG_WARN_MS: Final = 20.0
BUSY_MACHINE_PCT: Final = 15.0
"""Other processes using more than this share of one core during a window make it noisy."""

TARGET_P99_32_MS: Final = 100.0
TARGET_MAX_128_MS: Final = 1000.0
TARGET_THROUGHPUT_RATIO: Final = 0.75
TARGET_MODAL_RATIO: Final = 0.5
TARGET_CPU_PER_MODAL_RATIO: Final = 2.5
CPU_COMPARE_RATE: Final = 80.0
"""SPEC §8: server CPU per opened modal at most 2.5× the modal baseline's at the same rate."""
TARGET_ACK_P99_MS: Final = 100.0
TARGET_OPENED: Final = 0.99
TARGET_E2E_S: Final = 2.0 + VS_LATENCY_S

CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")


def policy_text() -> str:
    """The bot's policy: the bench admin anywhere; the e2e users by a rule on the bench pipeline."""
    who = ", ".join(f'"{user}"' for user in E2E_USERS)
    return (
        f'admins = ["{ADMIN}"]\n\n'
        "[[rules]]\n"
        'name = "bench-oncall"\n'
        f"who = [{who}]\n"
        f'pipelines = ["{PIPELINE_ID}"]\n'
        'channels = ["*"]\n'
    )


# -- measuring -------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of a process, all threads, from `/proc/<pid>/stat`."""
    stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii")
    fields = stat[stat.rindex(")") + 2 :].split()
    # After "pid (comm) ", fields[0] is field 3 (state): utime is field 14, stime field 15.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def machine_busy_seconds() -> float:
    """CPU time every core spent busy since boot (all but idle and iowait), from `/proc/stat`."""
    line = Path("/proc/stat").read_text(encoding="ascii").splitlines()[0]
    ticks = [int(value) for value in line.split()[1:9]]
    idle, iowait = ticks[3], ticks[4]
    return (sum(ticks) - idle - iowait) / CLOCK_TICKS


def rss_mib(pid: int) -> float | None:
    """`VmRSS` of a process in MiB, or None when it is gone."""
    try:
        status = Path(f"/proc/{pid}/status").read_text(encoding="ascii")
    except OSError:
        return None
    match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
    return round(int(match.group(1)) / 1024, 1) if match else None


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1); NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def ms(seconds: float) -> float:
    """Seconds to milliseconds, rounded for the report."""
    return math.nan if math.isnan(seconds) else round(seconds * 1000, 1)


def ratio(value: float | None, base: float | None) -> float:
    """value / base, NaN when either is missing, NaN or base is zero."""
    if value is None or base is None or base == 0 or math.isnan(base) or math.isnan(value):
        return math.nan
    return round(value / base, 2)


class Clock:
    """The run's overall time budget."""

    def __init__(self, budget_s: float) -> None:
        self.started = time.monotonic()
        self.budget_s = budget_s

    def elapsed(self) -> float:
        """Seconds since the bench started."""
        return time.monotonic() - self.started

    def left(self) -> float:
        """Seconds left in the budget."""
        return self.budget_s - self.elapsed()


@dataclass
class CpuWindow:
    """CPU used by the server, by this process and by everything else over one window."""

    pid: int
    started: float = field(default_factory=time.perf_counter)
    server: float = 0.0
    own: float = 0.0
    machine: float = 0.0

    def __post_init__(self) -> None:
        self.server = cpu_seconds(self.pid)
        self.own = time.process_time()
        self.machine = machine_busy_seconds()

    def finish(self) -> dict[str, float]:
        """Elapsed seconds and CPU seconds of the server, this process and the others."""
        elapsed = time.perf_counter() - self.started
        server = cpu_seconds(self.pid) - self.server
        own = time.process_time() - self.own
        others = max(0.0, machine_busy_seconds() - self.machine - server - own)
        return {"elapsed": elapsed, "server": server, "own": own, "others": others}


def cpu_shares(cpu: dict[str, float]) -> dict[str, float]:
    """A window's CPU as percentages of one core."""
    elapsed = cpu["elapsed"] or math.nan
    return {
        "server_cpu_pct": round(100 * cpu["server"] / elapsed),
        "generator_cpu_pct": round(100 * cpu["own"] / elapsed),
        "other_cpu_pct": round(100 * cpu["others"] / elapsed),
    }


@dataclass
class Server:
    """A server under test: its root URL and process id."""

    name: str
    url: str
    pid: int

    @property
    def events_url(self) -> str:
        """Where signed Slack requests go."""
        return self.url + EVENTS_PATH


@dataclass
class Sample:
    """One request's outcome as the load generator saw it."""

    latency_s: float
    status: int
    body: bytes = b""
    lag_s: float = 0.0
    """How late the open-loop generator sent it relative to its schedule."""


async def post(
    session: aiohttp.ClientSession, url: str, body: bytes, headers: dict[str, str]
) -> Sample:
    """Sends one signed request; status 0 means no answer (connection error or timeout)."""
    started = time.perf_counter()
    try:
        async with session.post(url, data=body, headers=headers) as response:
            content = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError):
        content, status = b"", 0
    return Sample(time.perf_counter() - started, status, content)


def client_session(limit: int) -> aiohttp.ClientSession:
    """A load-generator session; `limit=0` leaves the connection count unbounded (open loop)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=limit),
        timeout=aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S),
    )


# -- processes -------------------------------------------------------------------------------


class Baseline:
    """`bench/baseline.py` as a child process against the shared FakeSlack."""

    def __init__(self, slack_api_url: str, mode: str, log: Path) -> None:
        self.mode = mode
        self.url = f"http://127.0.0.1:{free_port()}"
        self._log_path = log
        self._log = log.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                str(BENCH_DIR / "baseline.py"),
                "--port",
                self.url.rsplit(":")[-1],
                "--slack-api-url",
                slack_api_url,
                "--mode",
                mode,
            ],
            env=os.environ | {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_SIGNING_SECRET": SIGNING_SECRET},
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )

    async def ready(self, timeout_s: float = 30.0) -> Server:
        """Waits until it answers HTTP (Bolt's adapter says 404 to a GET).

        Raises:
            RuntimeError: it exited or did not answer in time (its output attached).
        """
        deadline = time.monotonic() + timeout_s
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=2)) as session:
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"baseline ({self.mode}) exited: {self.log()}")
                with contextlib.suppress(aiohttp.ClientError, TimeoutError):
                    async with session.get(self.url + EVENTS_PATH) as response:
                        await response.read()
                        return Server(f"baseline-{self.mode}", self.url, self.process.pid)
                await asyncio.sleep(0.1)
        raise RuntimeError(f"baseline ({self.mode}) did not start in time: {self.log()}")

    def log(self) -> str:
        """The tail of what the baseline printed."""
        return self._log_path.read_text(encoding="utf-8", errors="replace")[-2000:]

    def stop(self) -> None:
        """SIGTERM, then SIGKILL; only this child. Idempotent."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        if not self._log.closed:
            self._log.close()


class Profiler:
    """`py-spy record` on the bot for one phase (only with `--profile`; py-spy is not a dependency).

    Samples at 100 Hz without pausing the process (`--nonblocking`), per thread, idle threads
    excluded, as collapsed stacks; `summary()` turns them into the hottest frames.
    """

    def __init__(self, pid: int, path: Path) -> None:
        self.path = path
        py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        self._process = subprocess.Popen(
            [
                py_spy,
                "record",
                "-p",
                str(pid),
                "-f",
                "raw",
                "-o",
                str(path),
                "-r",
                "100",
                "--nonblocking",
                "--threads",
                "--nolineno",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )

    def stop(self) -> None:
        """Stops sampling; py-spy writes its file on SIGINT."""
        if self._process.poll() is None:
            self._process.send_signal(signal.SIGINT)
            try:
                self._process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait(timeout=5)

    def summary(self, top: int = 10) -> dict[str, Any]:
        """Samples per thread, the hottest leaf frames (self time) and the hottest `bot/` frames."""
        try:
            lines = self.path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return {"error": f"no profile written to {self.path}"}
        threads: dict[str, int] = {}
        leaf: dict[str, int] = {}
        inclusive: dict[str, int] = {}
        total = 0
        for line in lines:
            stack, _, count_text = line.rpartition(" ")
            if not stack or not count_text.isdigit():
                continue
            count, frames = int(count_text), stack.split(";")
            total += count
            threads[frames[0]] = threads.get(frames[0], 0) + count
            leaf[frames[-1]] = leaf.get(frames[-1], 0) + count
            for frame in set(frames[1:]):
                # The entry point and the loop are in every stack; they say nothing.
                if "(bot/" in frame and "bot/cli.py" not in frame and "bot/__main__" not in frame:
                    inclusive[frame] = inclusive.get(frame, 0) + count

        def shares(counts: dict[str, int]) -> list[tuple[str, float]]:
            best = sorted(counts.items(), key=lambda item: -item[1])[:top]
            return [(name, round(100 * n / total, 1)) for name, n in best] if total else []

        return {
            "samples": total,
            "threads": shares(threads),
            "self": shares(leaf),
            "bot_inclusive": shares(inclusive),
            "raw": str(self.path),
        }


def metrics_text(server: Server) -> str:
    """The bot's `/metrics` body."""
    with urllib.request.urlopen(f"{server.url}/metrics", timeout=5) as response:  # noqa: S310
        return str(response.read().decode())


def metric_series(text: str, name: str) -> dict[str, float]:
    """Every series of one metric: labels text (`reason="queue_full"`, or "") → value."""
    pattern = re.compile(rf"^{re.escape(name)}(?:\{{(.*)\}})? (\S+)$", re.MULTILINE)
    return {labels: float(value) for labels, value in pattern.findall(text)}


async def bot_metric(server: Server, name: str) -> dict[str, float]:
    """One metric of the bot, read without blocking the load generator's loop."""
    return metric_series(await asyncio.to_thread(metrics_text, server), name)


async def wait_bot_idle(server: Server, timeout_s: float = IDLE_TIMEOUT_S) -> bool:
    """Waits until the bot runs no post-ack task (its `background_tasks` gauge is 0)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        running = await bot_metric(server, "vs_terminate_background_tasks")
        if running.get("", 1.0) == 0.0:
            return True
        await asyncio.sleep(0.2)
    return False


# -- 1. ack path -----------------------------------------------------------------------------


@dataclass
class Window:
    """A closed-loop measurement window's samples and CPU."""

    samples: list[Sample]
    cpu: dict[str, float]


async def closed_loop(
    server: Server, body: str, *, concurrency: int, duration_s: float, warmup_s: float
) -> Window:
    """`concurrency` workers each send the same signed body back to back for `duration_s`."""
    data, headers = body.encode(), sign(body, SIGNING_SECRET)
    async with client_session(concurrency) as session:

        async def worker(until: float, sink: list[Sample]) -> None:
            while time.perf_counter() < until:
                sink.append(await post(session, server.events_url, data, headers))

        if warmup_s:
            warm_end = time.perf_counter() + warmup_s
            await asyncio.gather(*(worker(warm_end, []) for _ in range(concurrency)))
        samples: list[Sample] = []
        window = CpuWindow(server.pid)
        end = time.perf_counter() + duration_s
        await asyncio.gather(*(worker(end, samples) for _ in range(concurrency)))
        return Window(samples, window.finish())


def ack_row(server: Server, concurrency: int, windows: Sequence[Window]) -> dict[str, Any]:
    """One table row from a server's windows at one concurrency (samples and CPU pooled)."""
    samples = [s for w in windows for s in w.samples]
    cpu = {k: sum(w.cpu[k] for w in windows) for k in ("elapsed", "server", "own", "others")}
    latencies = [s.latency_s for s in samples]
    ok = sum(1 for s in samples if s.status == 200)
    return {
        "server": server.name,
        "concurrency": concurrency,
        "requests": len(samples),
        "errors": len(samples) - ok,
        "p50_ms": ms(percentile(latencies, 0.50)),
        "p99_ms": ms(percentile(latencies, 0.99)),
        "max_ms": ms(max(latencies, default=math.nan)),
        "throughput_rps": round(ok / cpu["elapsed"], 1),
        "cpu_us_per_ack": round(cpu["server"] / ok * 1e6) if ok else math.nan,
        **cpu_shares(cpu),
    }


async def ack_phase(
    app: Server, base: Server, slack: FakeSlack, vs: FakeVectorShift, duration_s: float
) -> dict[str, Any]:
    """Phase 1: help-path acks at each concurrency.

    Each level runs app, baseline, baseline, app (half the duration each) and pools the two
    windows per server, so drift and other processes' bursts weigh on both alike.
    """
    body = slash_command_body(
        "help",
        user_id=ADMIN,
        channel_id=CHANNEL,
        response_url=slack.response_url(channel=CHANNEL, user_id=ADMIN),
        trigger_id=slack.mint_trigger_id(ADMIN),
        user_name="benchad",
    )
    slack_before, vs_before = len(slack.calls()), _vs_calls(vs)
    rows: list[dict[str, Any]] = []
    for concurrency in ACK_CONCURRENCY:
        windows: dict[str, list[Window]] = {app.name: [], base.name: []}
        for index, server in enumerate((app, base, base, app)):
            warmup = 0.5 if index < 2 else 0.0
            windows[server.name].append(
                await closed_loop(
                    server,
                    body,
                    concurrency=concurrency,
                    duration_s=duration_s / 2,
                    warmup_s=warmup,
                )
            )
        rows += [ack_row(s, concurrency, windows[s.name]) for s in (app, base)]
    network = {"slack": len(slack.calls()) - slack_before, "vectorshift": _vs_calls(vs) - vs_before}
    by = {(r["server"], r["concurrency"]): r for r in rows}
    ratios = {
        str(c): {
            name: ratio(by[(app.name, c)][key], by[(base.name, c)][key])
            for name, key in (
                ("throughput", "throughput_rps"),
                ("cpu_per_ack", "cpu_us_per_ack"),
                ("p99", "p99_ms"),
            )
        }
        for c in ACK_CONCURRENCY
    }
    at32, at128 = by[(app.name, 32)], by[(app.name, 128)]
    checks = {
        "p99_at_32_le_100ms": at32["p99_ms"] <= TARGET_P99_32_MS and at32["errors"] == 0,
        "no_ack_over_1s_at_128": at128["max_ms"] <= TARGET_MAX_128_MS and at128["errors"] == 0,
        "throughput_ge_0.75x_baseline": all(
            r["throughput"] >= TARGET_THROUGHPUT_RATIO for r in ratios.values()
        ),
        "no_network_call_on_help_path": network == {"slack": 0, "vectorshift": 0},
    }
    return {"rows": rows, "ratios": ratios, "network_calls": network, "checks": checks}


def _vs_calls(vs: FakeVectorShift) -> int:
    return len(vs.terminate_calls) + len(vs.status_calls) + len(vs.lookups)


# -- 2. modal capacity -----------------------------------------------------------------------


@dataclass
class Step:
    """One open-loop step at a fixed arrival rate."""

    server: str
    rate: float
    sent: int = 0
    acked: int = 0
    shed: int = 0
    opened: int = 0
    expired: int = 0
    ack_p50_ms: float = math.nan
    ack_p99_ms: float = math.nan
    ack_max_ms: float = math.nan
    open_p50_ms: float = math.nan
    open_p99_ms: float = math.nan
    generator_lag_p99_ms: float = math.nan
    cpu: dict[str, float] = field(default_factory=dict)
    cpu_ms_per_modal: float = math.nan
    """Server CPU over the step (sends and the 3 s after) per modal opened in time."""
    passed: bool = False
    notes: list[str] = field(default_factory=list)


async def open_loop_step(
    server: Server,
    slack: FakeSlack,
    vs: FakeVectorShift | None,
    *,
    rate: float,
    duration_s: float,
    label: str,
) -> Step:
    """Sends `rate` commands per second for `duration_s` on a fixed schedule, then counts modals.

    A modal counts when FakeSlack accepted a `views.open` with the request's trigger id at most
    3 s after the trigger id was minted (just before the request was sent).
    """
    count = max(1, round(rate * duration_s))
    runs = [f"{label}-{i:05d}" for i in range(count)]
    if vs is not None:
        for run in runs:
            vs.add_run(PIPELINE_ID, run)
    response_url = slack.response_url(channel=CHANNEL, user_id=ADMIN)
    triggers: list[str] = [""] * count
    samples: list[Sample | None] = [None] * count
    window = CpuWindow(server.pid)
    async with client_session(0) as session:

        async def fire(index: int, scheduled: float) -> None:
            trigger = slack.mint_trigger_id(ADMIN)
            triggers[index] = trigger
            body = slash_command_body(
                f"{PIPELINE_ID} {runs[index]}",
                user_id=ADMIN,
                channel_id=CHANNEL,
                response_url=response_url,
                trigger_id=trigger,
                user_name="benchad",
            )
            lag = time.perf_counter() - scheduled
            headers = sign(body, SIGNING_SECRET)
            sample = await post(session, server.events_url, body.encode(), headers)
            sample.lag_s = lag
            samples[index] = sample

        tasks: list[asyncio.Task[None]] = []
        start = time.perf_counter() + 0.05
        for index in range(count):
            scheduled = start + index / rate
            delay = scheduled - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(fire(index, scheduled)))
        await asyncio.gather(*tasks)
    # Every trigger is dead 3 s after minting: wait that long past the last one, no longer.
    wanted = set(triggers)
    last_mint = max(slack.trigger_issued_at(t) or 0.0 for t in triggers)
    while time.monotonic() < last_mint + TRIGGER_WINDOW_S + 0.3:
        if len(_opens(slack, wanted)) >= count:
            break
        await asyncio.sleep(0.1)
    step = _score_step(Step(server=server.name, rate=rate), slack, triggers, samples)
    used = window.finish()
    step.cpu = cpu_shares(used)
    if step.opened:
        step.cpu_ms_per_modal = round(1000 * used["server"] / step.opened, 2)
    return step


def _opens(slack: FakeSlack, wanted: set[str]) -> dict[str, Any]:
    return {
        str(c.args.get("trigger_id")): c
        for c in slack.calls("views.open")
        if c.args.get("trigger_id") in wanted
    }


def _score_step(
    step: Step, slack: FakeSlack, triggers: list[str], samples: Sequence[Sample | None]
) -> Step:
    step.sent = len(triggers)
    done = [s for s in samples if s is not None]
    acks = [s.latency_s for s in done]
    step.acked = sum(1 for s in done if s.status == 200)
    # A modal command is acked with an empty body; text there is the "busy" answer (or a denial).
    step.shed = sum(1 for s in done if s.status == 200 and s.body.strip())
    opens = _opens(slack, set(triggers))
    open_times = []
    for trigger in triggers:
        call, issued = opens.get(trigger), slack.trigger_issued_at(trigger)
        if call is None or issued is None:
            continue
        if call.error == "expired_trigger_id":
            step.expired += 1
        elif call.error is None and call.at - issued <= TRIGGER_WINDOW_S:
            step.opened += 1
            open_times.append(call.at - issued)
    step.ack_p50_ms = ms(percentile(acks, 0.50))
    step.ack_p99_ms = ms(percentile(acks, 0.99))
    step.ack_max_ms = ms(max(acks, default=math.nan))
    step.open_p50_ms = ms(percentile(open_times, 0.50))
    step.open_p99_ms = ms(percentile(open_times, 0.99))
    step.generator_lag_p99_ms = ms(percentile([s.lag_s for s in done], 0.99))
    fraction = step.opened / step.sent if step.sent else 0.0
    fast = step.ack_p99_ms < TARGET_ACK_P99_MS
    step.passed = step.acked == step.sent and fraction >= TARGET_OPENED and fast
    if step.acked < step.sent:
        step.notes.append(f"{step.sent - step.acked} acks not 200")
    if fraction < TARGET_OPENED:
        step.notes.append(f"only {fraction:.1%} opened in time")
    if step.ack_p99_ms >= TARGET_ACK_P99_MS:
        step.notes.append("ack p99 ≥ 100 ms")
    if step.shed:
        step.notes.append(f"{step.shed} answered busy")
    if step.generator_lag_p99_ms > GENERATOR_LAG_WARN_MS:
        step.notes.append(f"generator late by {step.generator_lag_p99_ms:g} ms p99")
    return step


async def capacity(
    server: Server,
    slack: FakeSlack,
    vs: FakeVectorShift | None,
    *,
    clock: Clock,
    step_s: float,
    idle: Callable[[], Awaitable[bool]],
    reserve_s: float,
) -> dict[str, Any]:
    """Escalates the arrival rate until a step fails, then bisects once between pass and fail."""
    label = server.name.split("-")[0]
    # Warm caches (users.info, pipeline name, database connections) outside the measurement.
    await open_loop_step(server, slack, vs, rate=10, duration_s=1.0, label=f"{label}-warm")
    await idle()
    steps: list[Step] = []
    passed_rate, failed_rate = 0.0, math.nan

    def room() -> bool:
        return clock.left() > reserve_s + step_s + TRIGGER_WINDOW_S + 3

    for rate in MODAL_RATES:
        if not room():
            steps.append(Step(server=server.name, rate=rate, notes=["skipped: time budget"]))
            break
        step = await open_loop_step(
            server, slack, vs, rate=rate, duration_s=step_s, label=f"{label}-{rate}"
        )
        steps.append(step)
        await idle()
        if not step.passed:
            failed_rate = rate
            break
        passed_rate = rate
    if not math.isnan(failed_rate) and passed_rate > 0 and room():
        middle = (passed_rate + failed_rate) / 2
        step = await open_loop_step(
            server, slack, vs, rate=middle, duration_s=step_s, label=f"{label}-{middle:g}"
        )
        steps.append(step)
        await idle()
        if step.passed:
            passed_rate = middle
    return {
        "server": server.name,
        "capacity_per_s": passed_rate,
        "lower_bound_only": math.isnan(failed_rate),
        "steps": [dict(s.__dict__) for s in steps],
    }


async def modal_phase(
    app: Server,
    base: Server,
    slack: FakeSlack,
    vs: FakeVectorShift,
    *,
    clock: Clock,
    step_s: float,
) -> dict[str, Any]:
    """Phase 2: modal capacity of app and baseline, then the bot's shedding counters."""

    async def app_idle() -> bool:
        return await wait_bot_idle(app)

    async def base_idle() -> bool:
        await asyncio.sleep(0.3)
        return True

    # Reserve time for the baseline's escalation and for the end-to-end phase.
    mine = await capacity(app, slack, vs, clock=clock, step_s=step_s, idle=app_idle, reserve_s=60)
    metrics = await asyncio.to_thread(metrics_text, app)
    theirs = await capacity(
        base, slack, None, clock=clock, step_s=step_s, idle=base_idle, reserve_s=25
    )
    value = ratio(mine["capacity_per_s"], theirs["capacity_per_s"])
    cpu = cpu_per_modal(mine["steps"], theirs["steps"])
    return {
        "app": mine,
        "baseline": theirs,
        "ratio": value,
        "cpu_per_modal": cpu,
        "shedding": {
            "shed_total": metric_series(metrics, "vs_terminate_shed_total"),
            "acks_total": metric_series(metrics, "vs_terminate_acks_total"),
            "background_queue_limit": metric_series(metrics, "vs_terminate_background_queue_limit"),
        },
        "checks": {
            "capacity_ge_0.5x_baseline": not math.isnan(value) and value >= TARGET_MODAL_RATIO,
            "cpu_per_modal_le_2.5x_baseline": not math.isnan(cpu["ratio"])
            and cpu["ratio"] <= TARGET_CPU_PER_MODAL_RATIO,
        },
    }


def cpu_per_modal(mine: list[dict[str, Any]], theirs: list[dict[str, Any]]) -> dict[str, Any]:
    """CPU per opened modal at the same arrival rate: the highest rate up to `CPU_COMPARE_RATE`
    both sides passed (a fixed rate, so runs compare with each other: per-modal CPU falls as the
    rate rises and fixed costs spread)."""
    passed = {s["rate"]: s for s in theirs if s["passed"]}
    shared = [
        s for s in mine if s["passed"] and s["rate"] in passed and s["rate"] <= CPU_COMPARE_RATE
    ]
    if not shared:
        return {"rate": math.nan, "app_ms": math.nan, "baseline_ms": math.nan, "ratio": math.nan}
    step = max(shared, key=lambda s: s["rate"])
    app_ms, base_ms = step["cpu_ms_per_modal"], passed[step["rate"]]["cpu_ms_per_modal"]
    return {
        "rate": step["rate"],
        "app_ms": app_ms,
        "baseline_ms": base_ms,
        "ratio": ratio(app_ms, base_ms),
    }


# -- 3. end to end ---------------------------------------------------------------------------


async def e2e_phase(app: Server, slack: FakeSlack, vs: FakeVectorShift) -> dict[str, Any]:
    """Phase 3: open 200 confirmation modals, then submit all 200 at once and time the results."""
    runs = [f"e2e-{i:04d}" for i in range(E2E_COUNT)]
    for user, run in zip(E2E_USERS, runs, strict=True):
        slack.ensure_user(user)
        vs.add_run(PIPELINE_ID, run)
    before = await bot_metric(app, "vs_terminate_attempts_total")
    views = await _open_confirmations(app, slack, runs)
    result: dict[str, Any] = {"modals_ready": len(views)}
    if not views:
        result["error"] = "no confirmation modal opened; nothing submitted"
        return result
    reason = {REASON_BLOCK: {REASON_ACTION: {"type": "plain_text_input", "value": "bench e2e"}}}
    bodies = []
    for index, view in sorted(views.items()):
        body = view_submission_body(
            CONFIRM_CALLBACK,
            str(view.get("private_metadata", "")),
            reason,
            user_id=E2E_USERS[index],
            view_id=str(view["id"]),
            view=view,
            user_name=E2E_USERS[index].lower(),
        )
        bodies.append((index, str(view["id"]), body.encode(), sign(body, SIGNING_SECRET)))
    sent_at: dict[int, float] = {}
    window = CpuWindow(app.pid)
    async with client_session(0) as session:

        async def submit(index: int, view_id: str, data: bytes, headers: dict[str, str]) -> Sample:
            sent_at[index] = time.monotonic()
            sample = await post(session, app.events_url, data, headers)
            _apply_response_action(slack, view_id, sample)
            return sample

        started = time.monotonic()
        acks = await asyncio.gather(*(submit(*b) for b in bodies))
    channels = {E2E_CHANNELS[index]: index for index, *_ in bodies}
    posted = await _wait_posts(slack, channels, since=started, timeout_s=E2E_RESULT_TIMEOUT_S)
    cpu = cpu_shares(window.finish())
    wanted_runs = set(runs)
    await asyncio.sleep(E2E_SETTLE_S)  # the result modal's update may follow the post
    slack_calls = Counter(c.method for c in slack.calls() if c.at >= started)
    vs_calls = Counter(
        "status" for c in vs.status_calls if c.run_id in wanted_runs and c.at >= started
    ) + Counter("terminate" for c in vs.terminate_calls if c.run_id in wanted_runs)
    after = await bot_metric(app, "vs_terminate_attempts_total")
    per = [posted[c] - sent_at[i] - FIRST_POLL_DELAY_S for c, i in channels.items() if c in posted]
    all_posted = (max(posted.values()) - started) if posted else math.nan
    result |= {
        "submitted": len(bodies),
        "submit_acks_update": sum(1 for a in acks if a.status == 200 and b'"update"' in a.body),
        "submit_ack_p99_ms": ms(percentile([a.latency_s for a in acks], 0.99)),
        "submit_ack_max_ms": ms(max((a.latency_s for a in acks), default=math.nan)),
        "terminate_calls": sum(1 for c in vs.terminate_calls if c.run_id in wanted_runs),
        "results_posted": len(posted),
        "outcomes": {k: after[k] - before.get(k, 0.0) for k in after if after[k] != before.get(k)},
        "first_poll_delay_s": FIRST_POLL_DELAY_S,
        "all_posted_s": round(all_posted, 3),
        "all_posted_excl_first_poll_s": round(all_posted - FIRST_POLL_DELAY_S, 3),
        "per_termination_p50_excl_first_poll_s": round(percentile(per, 0.50), 3),
        "per_termination_p99_excl_first_poll_s": round(percentile(per, 0.99), 3),
        "per_termination_max_excl_first_poll_s": round(max(per, default=math.nan), 3),
        "vectorshift_latency_s": VS_LATENCY_S,
        "cpu": cpu,
        "calls_per_termination": {
            "slack": {m: round(n / len(bodies), 2) for m, n in sorted(slack_calls.items())},
            "vectorshift": {m: round(n / len(bodies), 2) for m, n in sorted(vs_calls.items())},
        },
    }
    # Labelled by action and outcome: count every action's successes (they are all terminates).
    succeeded = sum(
        n for labels, n in result["outcomes"].items() if 'outcome="succeeded"' in labels
    )
    result["checks"] = {
        "all_200_succeeded": succeeded == E2E_COUNT,
        "all_200_posted_within_2s_plus_latency": len(posted) == E2E_COUNT
        and all_posted - FIRST_POLL_DELAY_S <= TARGET_E2E_S,
    }
    return result


async def _open_confirmations(
    app: Server, slack: FakeSlack, runs: Sequence[str]
) -> dict[int, dict[str, Any]]:
    """Each e2e user types the command in their channel; returns their confirm views by index.

    Commands go out 8 at a time so this set-up does not turn into a second capacity test
    (the bot answers "busy" past its opening limit); a user whose modal did not become a
    confirmation view is tried again, up to four rounds.
    """
    views: dict[int, dict[str, Any]] = {}
    gate = asyncio.Semaphore(8)
    async with client_session(8) as session:

        async def command(index: int) -> None:
            async with gate:
                user, channel = E2E_USERS[index], E2E_CHANNELS[index]
                body = slash_command_body(
                    f"{PIPELINE_ID} {runs[index]}",
                    user_id=user,
                    channel_id=channel,
                    response_url=slack.response_url(channel=channel, user_id=user),
                    trigger_id=slack.mint_trigger_id(user),
                    user_name=user.lower(),
                )
                await post(session, app.events_url, body.encode(), sign(body, SIGNING_SECRET))

        for _round in range(4):
            pending = {i for i in range(len(runs)) if i not in views}
            if not pending:
                break
            await asyncio.gather(*(command(i) for i in sorted(pending)))
            deadline = time.monotonic() + 15.0
            while pending and time.monotonic() < deadline:
                for index in sorted(pending):
                    view = slack.current_view(E2E_USERS[index])
                    if view is not None and view.get("callback_id") == CONFIRM_CALLBACK:
                        views[index] = view
                        pending.discard(index)
                if pending:
                    await asyncio.sleep(0.25)
    return views


def _apply_response_action(slack: FakeSlack, view_id: str, sample: Sample) -> None:
    """Does to the fake what Slack does with a submission's `response_action: update`."""
    with contextlib.suppress(ValueError, KeyError):
        answer = json.loads(sample.body or b"{}")
        if isinstance(answer, dict) and answer.get("response_action") == "update":
            slack.replace_view(view_id, answer["view"])


async def _wait_posts(
    slack: FakeSlack, channels: dict[str, int], *, since: float, timeout_s: float
) -> dict[str, float]:
    """When the first `chat.postMessage` reached each channel (monotonic), within `timeout_s`."""
    deadline = time.monotonic() + timeout_s
    posted: dict[str, float] = {}
    while time.monotonic() < deadline:
        for call in slack.calls("chat.postMessage"):
            channel = call.args.get("channel")
            if channel in channels and call.at >= since and call.error is None:
                posted.setdefault(str(channel), call.at)
        if len(posted) == len(channels):
            break
        await asyncio.sleep(0.1)
    return posted


# -- report ----------------------------------------------------------------------------------


def _fmt(value: object, width: int) -> str:
    if isinstance(value, float):
        return ("—" if math.isnan(value) else f"{value:g}").rjust(width)
    return str(value).rjust(width)


def _table(
    headers: Sequence[str], rows: Sequence[Sequence[object]], widths: Sequence[int]
) -> Iterator[str]:
    yield "  " + " ".join(h.rjust(w) for h, w in zip(headers, widths, strict=True))
    for row in rows:
        yield "  " + " ".join(_fmt(v, w) for v, w in zip(row, widths, strict=True))


def _calls(per_method: dict[str, float]) -> str:
    return ", ".join(f"{n:g} {m}" for m, n in per_method.items()) or "none"


def _mark(ok: bool) -> str:
    return "PASS" if ok else "FAIL"


def _times(value: float) -> str:
    return "—" if math.isnan(value) else f"{value:g}×"


def _report_ack(ack: dict[str, Any], duration_s: float) -> list[str]:
    lines = [
        f"1. Ack path: signed `/vs-terminate help`, closed loop, {duration_s:g} s per level "
        "(app, baseline, baseline, app; baseline = bare AsyncApp that only acks)"
    ]
    headers = (
        "conc",
        "server",
        "requests",
        "errors",
        "p50 ms",
        "p99 ms",
        "max ms",
        "req/s",
        "CPU µs/ack",
        "srv CPU%",
        "gen CPU%",
        "other%",
    )
    widths = (4, 13, 8, 6, 7, 7, 7, 7, 10, 8, 8, 6)
    rows: list[list[object]] = []
    for r in ack["rows"]:
        rows.append(
            [
                r["concurrency"],
                r["server"],
                r["requests"],
                r["errors"],
                r["p50_ms"],
                r["p99_ms"],
                r["max_ms"],
                r["throughput_rps"],
                r["cpu_us_per_ack"],
                r["server_cpu_pct"],
                r["generator_cpu_pct"],
                r["other_cpu_pct"],
            ]
        )
        if r["server"].startswith("baseline"):
            q = ack["ratios"][str(r["concurrency"])]
            rows.append(
                [
                    r["concurrency"],
                    "app/baseline",
                    "",
                    "",
                    "",
                    _times(q["p99"]),
                    "",
                    _times(q["throughput"]),
                    _times(q["cpu_per_ack"]),
                    "",
                    "",
                    "",
                ]
            )
    lines += _table(headers, rows, widths)
    c, net = ack["checks"], ack["network_calls"]
    lines += [
        f"  p99 ≤ 100 ms at 32: {_mark(c['p99_at_32_le_100ms'])}; "
        f"no ack over 1 s at 128: {_mark(c['no_ack_over_1s_at_128'])}; "
        f"throughput ≥ 0.75× baseline: {_mark(c['throughput_ge_0.75x_baseline'])}",
        f"  no network call on the help path: {_mark(c['no_network_call_on_help_path'])} "
        f"({net['slack']} Slack, {net['vectorshift']} VectorShift calls during the phase)",
    ]
    return lines


def _report_modal(modal: dict[str, Any], step_s: float) -> list[str]:
    lines = [
        f"2. Modal capacity: signed `/vs-terminate <pipeline> <run>`, open loop, {step_s:g} s per "
        "rate; pass = all acked, ≥ 99 % of views.open accepted within 3 s of the trigger, "
        "ack p99 < 100 ms (times in ms)"
    ]
    headers = (
        "server",
        "rate/s",
        "sent",
        "opened",
        "expired",
        "shed",
        "ack p50",
        "ack p99",
        "ack max",
        "open p50",
        "open p99",
        "srv CPU%",
        "gen CPU%",
        "other%",
        "ms/modal",
        "result",
    )
    widths = (14, 6, 5, 6, 7, 4, 7, 7, 7, 8, 8, 8, 8, 6, 8, 6)
    rows: list[list[object]] = []
    notes: list[str] = []
    for side in ("app", "baseline"):
        for s in modal[side]["steps"]:
            cpu = s["cpu"] or {}
            rows.append(
                [
                    s["server"],
                    s["rate"],
                    s["sent"],
                    s["opened"],
                    s["expired"],
                    s["shed"],
                    s["ack_p50_ms"],
                    s["ack_p99_ms"],
                    s["ack_max_ms"],
                    s["open_p50_ms"],
                    s["open_p99_ms"],
                    cpu.get("server_cpu_pct", ""),
                    cpu.get("generator_cpu_pct", ""),
                    cpu.get("other_cpu_pct", ""),
                    s.get("cpu_ms_per_modal", ""),
                    ("pass" if s["passed"] else "FAIL") if s["sent"] else "skip",
                ]
            )
            if s["notes"]:
                notes.append(f"    {s['server']} @ {s['rate']:g}/s: {'; '.join(s['notes'])}")
    lines += _table(headers, rows, widths)
    lines += notes
    a, b = modal["app"], modal["baseline"]
    lines.append(
        f"  capacity: app {'≥ ' if a['lower_bound_only'] else ''}{a['capacity_per_s']:g}/s, "
        f"baseline {'≥ ' if b['lower_bound_only'] else ''}{b['capacity_per_s']:g}/s → "
        f"{_times(modal['ratio'])} (target ≥ 0.5×: "
        f"{_mark(modal['checks']['capacity_ge_0.5x_baseline'])})"
    )
    if b["lower_bound_only"]:
        lines.append("  the baseline never failed, so its capacity is a lower bound")
    cpu = modal["cpu_per_modal"]
    lines.append(
        f"  server CPU per opened modal at {cpu['rate']:g}/s (both passed; fixed for comparisons): "
        f"app {cpu['app_ms']:g} ms, baseline {cpu['baseline_ms']:g} ms → {_times(cpu['ratio'])} "
        f"(target ≤ {TARGET_CPU_PER_MODAL_RATIO:g}×: "
        f"{_mark(modal['checks']['cpu_per_modal_le_2.5x_baseline'])})"
    )
    shed = modal["shedding"]
    lines += [
        "  bot /metrics after the overload steps: vs_terminate_shed_total "
        + (", ".join(f"{{{k}}} {v:g}" for k, v in shed["shed_total"].items()) or "(no series)"),
        "    vs_terminate_acks_total "
        + (", ".join(f"{{{k}}} {v:g}" for k, v in shed["acks_total"].items()) or "(no series)"),
    ]
    return lines


def _report_e2e(e2e: dict[str, Any]) -> list[str]:
    lines = [
        f"3. End to end: {E2E_COUNT} terminations, distinct runs and channels, FakeVectorShift "
        f"latency {VS_LATENCY_S * 1000:g} ms, all submitted at once"
    ]
    if "error" in e2e:
        return [*lines, f"  {e2e['error']} (modals ready: {e2e['modals_ready']})"]
    outcomes = ", ".join(f"{k} +{v:g}" for k, v in e2e["outcomes"].items()) or "none"
    check = e2e["checks"]["all_200_posted_within_2s_plus_latency"]
    cpu = e2e["cpu"]
    lines += [
        f"  confirmation modals ready {e2e['modals_ready']}/{E2E_COUNT}; submissions acked with "
        f"update {e2e['submit_acks_update']}/{e2e['submitted']} (ack p99 "
        f"{_fmt(e2e['submit_ack_p99_ms'], 0)} ms, max {_fmt(e2e['submit_ack_max_ms'], 0)} ms)",
        f"  terminate calls {e2e['terminate_calls']}; results posted "
        f"{e2e['results_posted']}/{e2e['submitted']}; attempts by outcome: {outcomes} "
        f"(all {E2E_COUNT} succeeded: {_mark(e2e['checks']['all_200_succeeded'])})",
        f"  all results posted {_fmt(e2e['all_posted_s'], 0)} s after the first submit; "
        f"minus the {FIRST_POLL_DELAY_S:g} s first-poll delay "
        f"{_fmt(e2e['all_posted_excl_first_poll_s'], 0)} s "
        f"(target ≤ 2 s + {VS_LATENCY_S:g} s latency = {TARGET_E2E_S:g} s: {_mark(check)})",
        "  per termination, submit → result posted, minus the first-poll delay: p50 "
        f"{_fmt(e2e['per_termination_p50_excl_first_poll_s'], 0)} s, p99 "
        f"{_fmt(e2e['per_termination_p99_excl_first_poll_s'], 0)} s, max "
        f"{_fmt(e2e['per_termination_max_excl_first_poll_s'], 0)} s",
        "  calls per termination after the submit: Slack "
        + _calls(e2e["calls_per_termination"]["slack"])
        + "; VectorShift "
        + _calls(e2e["calls_per_termination"]["vectorshift"]),
        f"  CPU while terminating: bot {cpu['server_cpu_pct']}%, bench process "
        f"{cpu['generator_cpu_pct']}%, others {cpu['other_cpu_pct']}% (of one core)",
    ]
    return lines


def _report_memory(memory: dict[str, float | None]) -> list[str]:
    lines = ["4. Resident memory (VmRSS) after each server's last phase"]
    lines += [f"  {name:<15} {_fmt(value or math.nan, 6)} MiB" for name, value in memory.items()]
    relative = ratio(memory.get("app"), memory.get("baseline-modal"))
    lines.append(f"  app/baseline-modal {_times(relative)}")
    limit = memory_limit_mib(memory)
    lines.append(
        f"  target ≤ 1.5 × baseline-modal + 30 MiB = {limit:.1f} MiB: {_mark(memory_ok(memory))}"
    )
    return lines


def memory_limit_mib(memory: dict[str, float | None]) -> float:
    """SPEC §8: the bot's RSS may be 1.5× the modal baseline's plus 30 MiB."""
    base = memory.get("baseline-modal")
    return math.nan if base is None else 1.5 * base + 30


def memory_ok(memory: dict[str, float | None]) -> bool:
    """Whether the bot's RSS after the run is within SPEC §8's limit."""
    app = memory.get("app")
    return app is not None and app <= memory_limit_mib(memory)


def _report_extras(results: dict[str, Any]) -> list[str]:
    lines: list[str] = []
    log = results.get("server_log")
    if log and (log["errors"] or log["warnings"]):
        lines.append(
            f"bot log: {log['errors']} ERROR and {log['warnings']} WARNING records; most frequent:"
        )
        lines += [f"  {entry['count']:>5} × {entry['message']}" for entry in log["top"]]
        lines += [f"  raised: {exception}" for exception in log["exceptions"]]
        lines.append("")
    for name, profile in results.get("profiles", {}).items():
        if "error" in profile:
            lines += [f"profile {name}: {profile['error']}", ""]
            continue
        lines.append(
            f"profile {name}: py-spy, {profile['samples']} samples of busy threads "
            f"({profile['raw']})"
        )
        lines += [f"  thread {share:5.1f}%  {frame}" for frame, share in profile["threads"]]
        lines += [f"  self   {share:5.1f}%  {frame}" for frame, share in profile["self"]]
        lines += [f"  bot/   {share:5.1f}%  {frame}" for frame, share in profile["bot_inclusive"]]
        lines.append("")
    return lines


def _busy_windows(results: dict[str, Any]) -> list[str]:
    busy = [
        f"ack {r['server']} @ {r['concurrency']}: {r['other_cpu_pct']}%"
        for r in results.get("ack_path", {}).get("rows", [])
        if r["other_cpu_pct"] > BUSY_MACHINE_PCT
    ]
    for side in ("app", "baseline"):
        for s in results.get("modal_capacity", {}).get(side, {}).get("steps", []):
            if s["cpu"] and s["cpu"]["other_cpu_pct"] > BUSY_MACHINE_PCT:
                busy.append(f"modal {s['server']} @ {s['rate']:g}/s: {s['cpu']['other_cpu_pct']}%")
    return busy


def report(results: dict[str, Any]) -> list[str]:
    """The human-readable report."""
    env, config = results["environment"], results["config"]
    lines = [
        f"vs-terminate benchmark — {env['cpus']} CPUs ({env['cpu_model']}), Python "
        f"{env['python']}, {env['started_at']}, commit {env['commit']}",
        "bot and baselines are separate processes; the load generator, FakeSlack and "
        "FakeVectorShift share the bench process",
        "CPU% columns are % of one core over the window: srv = the server under test, gen = the "
        "bench process, other = every other process on the machine",
        "",
    ]
    for name in ("ack_path", "modal_capacity", "end_to_end"):
        if "error" in results.get(name, {}) and "modals_ready" not in results[name]:
            lines += [f"{name}: the phase failed: {results[name]['error']}", ""]
    if "rows" in results.get("ack_path", {}):
        lines += [*_report_ack(results["ack_path"], config["ack_duration_s"]), ""]
    if "app" in results.get("modal_capacity", {}):
        lines += [*_report_modal(results["modal_capacity"], config["step_s"]), ""]
    if "modals_ready" in results.get("end_to_end", {}):
        lines += [*_report_e2e(results["end_to_end"]), ""]
    if "memory_mib" in results:
        lines += [*_report_memory(results["memory_mib"]), ""]
    busy = _busy_windows(results)
    if busy:
        lines += [
            f"WARNING: other processes used over {BUSY_MACHINE_PCT:g}% of a core during: "
            + "; ".join(busy),
            "  those numbers are noisy; rerun on a quiet machine before trusting them",
            "",
        ]
    lines += _report_extras(results)
    lines.append(f"finished in {results['elapsed_s']:.0f} s; JSON: {results['json_path']}")
    return lines


# -- main ------------------------------------------------------------------------------------


def _commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=BENCH_DIR,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except OSError:
        return "unknown"
    dirty = subprocess.run(
        ["git", "status", "--porcelain", "--untracked-files=no"],
        cwd=BENCH_DIR,
        capture_output=True,
        text=True,
        timeout=5,
        check=False,
    ).stdout.strip()
    return (out.stdout.strip() or "unknown") + ("+dirty" if dirty else "")


def _cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.machine()


def _json_ready(value: Any) -> Any:
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _json_ready(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(v) for v in value]
    return value


def _log_problems(log: str, limit: int = 8) -> dict[str, Any]:
    """The bot's WARNING and ERROR records grouped by message (ids masked), most frequent first."""
    counts: dict[str, int] = {}
    for line in log.splitlines():
        for level in (" ERROR ", " WARNING "):
            if level in line:
                message = line.split(level, 1)[1]
                message = re.sub(r"\[[0-9a-f]{12}\]", "[…]", message)
                message = re.sub(r"\b[UCVW]0[A-Z0-9]{3,}\b", "<id>", message)
                key = f"{level.strip()} {message}"
                counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: -item[1])
    raised = re.findall(r"^(\w+(?:Error|Exception)): (.*)$", log, re.MULTILINE)
    return {
        "errors": sum(n for k, n in counts.items() if k.startswith("ERROR")),
        "warnings": sum(n for k, n in counts.items() if k.startswith("WARNING")),
        "top": [{"count": n, "message": k} for k, n in ranked[:limit]],
        "exceptions": sorted({f"{name}: {text}" for name, text in raised})[:limit],
    }


def _preamble(args: argparse.Namespace) -> dict[str, Any]:
    """The machine and the settings, recorded with the results."""
    return {
        "environment": {
            "cpus": os.cpu_count(),
            "cpu_model": _cpu_model(),
            "python": platform.python_version(),
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": _commit(),
        },
        "config": {
            "ack_duration_s": args.duration,
            "step_s": args.step,
            "modal_rates": list(MODAL_RATES),
            "vectorshift_latency_s": VS_LATENCY_S,
            "trigger_window_s": TRIGGER_WINDOW_S,
            "profiled": args.profile,
        },
    }


@dataclass
class Recorder:
    """Runs the phases: each one's result or failure is recorded and the run goes on."""

    results: dict[str, Any]
    profile: bool
    profiles: dict[str, Any] = field(default_factory=dict)

    async def phase(self, name: str, pid: int, work: Awaitable[dict[str, Any]]) -> None:
        """Runs one phase (under py-spy when profiling) and stores what it returned or raised."""
        profiler = Profiler(pid, RESULTS_DIR / f"profile-{name}.txt") if self.profile else None
        try:
            self.results[name] = await work
        except Exception as exc:
            self.results[name] = {"error": f"{type(exc).__name__}: {exc}"}
        finally:
            if profiler is not None:
                await asyncio.to_thread(profiler.stop)
                self.profiles[name] = profiler.summary()


async def _phases(
    stack: LocalStack,
    args: argparse.Namespace,
    clock: Clock,
    recorder: Recorder,
    baselines: list[Baseline],
) -> None:
    slack, vs = stack.slack, stack.vectorshift
    await asyncio.to_thread(stack.start)
    slack.ensure_user(ADMIN)
    vs.add_pipeline(PIPELINE_ID, PIPELINE_NAME)
    # LocalStack exposes no pid (yet): prefer a public one if it appears, else its Popen.
    process = stack._process
    pid = getattr(stack, "pid", None) or (process.pid if process is not None else None)
    if not isinstance(pid, int):
        raise RuntimeError("LocalStack started no process")
    app = Server("app", stack.url, pid)
    memory: dict[str, float | None] = {}

    baselines.append(Baseline(slack.api_url, "ack", WORK_DIR / "baseline-ack.log"))
    base = await baselines[-1].ready()
    await recorder.phase("ack_path", app.pid, ack_phase(app, base, slack, vs, args.duration))
    memory["baseline-ack"] = rss_mib(base.pid)
    baselines[-1].stop()

    baselines.append(Baseline(slack.api_url, "modal", WORK_DIR / "baseline-modal.log"))
    base = await baselines[-1].ready()
    work = modal_phase(app, base, slack, vs, clock=clock, step_s=args.step)
    await recorder.phase("modal_capacity", app.pid, work)
    memory["baseline-modal"] = rss_mib(base.pid)
    baselines[-1].stop()

    await wait_bot_idle(app)
    await recorder.phase("end_to_end", app.pid, e2e_phase(app, slack, vs))
    await wait_bot_idle(app)
    memory["app"] = rss_mib(app.pid)
    recorder.results["memory_mib"] = {
        k: memory[k] for k in ("app", "baseline-ack", "baseline-modal")
    }
    recorder.results["server_log"] = _log_problems(stack.log())


async def run(args: argparse.Namespace) -> dict[str, Any]:
    """Runs every phase and returns the results; every process it started is stopped."""
    clock = Clock(TIME_BUDGET_S)
    shutil.rmtree(WORK_DIR, ignore_errors=True)
    WORK_DIR.mkdir(parents=True)
    stack = LocalStack(
        WORK_DIR,
        policy=policy_text(),
        slack=FakeSlack(trigger_ttl_s=TRIGGER_WINDOW_S),
        vectorshift=FakeVectorShift(latency_s=VS_LATENCY_S),
    )
    recorder = Recorder(_preamble(args), profile=args.profile)
    baselines: list[Baseline] = []
    try:
        await _phases(stack, args, clock, recorder, baselines)
    finally:
        for baseline in baselines:
            baseline.stop()
        await asyncio.to_thread(stack.stop)
    results = recorder.results
    if recorder.profiles:
        results["profiles"] = recorder.profiles
    results["elapsed_s"] = round(clock.elapsed(), 1)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns 0 when every target is met, 1 otherwise."""
    parser = argparse.ArgumentParser(description="vs-terminate benchmark (SPEC §8)")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per ack-path level")
    parser.add_argument("--step", type=float, default=4.0, help="seconds per modal-capacity rate")
    parser.add_argument("--output", type=Path, default=RESULTS_DIR / "latest.json")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="sample the bot with py-spy during each phase (pip install py-spy into .venv; "
        "the numbers then include py-spy's cost)",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="a short run that keeps the benchmark working (CI): 0.5 s per level and rate, and "
        "the exit status reflects only what is not about speed (every phase completed, every "
        "termination succeeded, no network call on the help path)",
    )
    args = parser.parse_args(argv)
    if args.smoke:
        args.duration, args.step = SMOKE_SECONDS, SMOKE_SECONDS
    # Three event loops share this process's GIL (generator, FakeSlack, FakeVectorShift); a
    # shorter switch interval keeps the generator's schedule from waiting on the fakes' turns.
    sys.setswitchinterval(0.001)
    results = asyncio.run(run(args))
    checks: dict[str, bool] = {}
    for name in ("ack_path", "modal_capacity", "end_to_end"):
        outcome = results.get(name, {})
        if "checks" not in outcome:
            checks[f"{name}.completed"] = False
        for check, ok in outcome.get("checks", {}).items():
            checks[f"{name}.{check}"] = ok
    if "memory_mib" in results:
        checks["memory.rss_le_1.5x_baseline_plus_30mib"] = memory_ok(results["memory_mib"])
    results["checks"] = checks
    results["json_path"] = str(args.output)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(_json_ready(results), indent=2) + "\n", encoding="utf-8")
    for line in report(results):
        print(line)
    print("targets: " + ", ".join(f"{k} {_mark(v)}" for k, v in checks.items()))
    if args.smoke:
        # Timings from a half-second run on a shared CI machine mean nothing: judge only that
        # every phase ran and did the right thing.
        broken = [k for k, ok in checks.items() if not ok and k.endswith(SMOKE_CHECKS)]
        print("smoke: " + ("PASS" if not broken else "FAIL: " + ", ".join(broken)))
        return 0 if checks and not broken else 1
    return 0 if checks and all(checks.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
