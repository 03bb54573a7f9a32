"""A/B: the bot at two or more git revisions, CPU per opened modal at one fixed rate, alternating.

`bench/run.py` measures everything once per invocation; on a shared 2-core machine the same
code's CPU per modal moves by a third between invocations, which hides changes of 5-10 %. This
script answers one question better: is revision B cheaper per modal than revision A? It runs
every revision's bot (each exported with `git archive` into its own directory, so the bench and
fakes are today's and only `bot/` differs) side by side with the modal baseline, and for
`--rounds` rounds sends each of them `--rate` signed `/vs-terminate <pipeline> <run>` per second
for `--step` seconds, in alternating order, with the same fakes and the same accounting as
`run.py`'s modal-capacity phase. It prints every round, then per revision the median of its
per-round ratios to the first revision and to the baseline (ratios within a round share the
machine's state of that moment, so they move far less than the CPU figures themselves), and the
plain medians.

`REV+NAME` runs `REV` with the ablation `bench/ablations/NAME` (see its README): one piece of
the modal path replaced by a stand-in that costs nearly nothing, to see what that piece costs.

    PYTHONPATH=. .venv/bin/python bench/ab.py f83a5fa HEAD            # 6 rounds at 80/s
    PYTHONPATH=. .venv/bin/python bench/ab.py --rounds 8 --rate 160 HEAD~1 HEAD
    PYTHONPATH=. .venv/bin/python bench/ab.py --rounds 8 HEAD HEAD+no_status HEAD+no_audit_write

Everything listens on 127.0.0.1; exported trees live under `bench/results/ab/`.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import shutil
import statistics
import subprocess
import sys
import tarfile
from collections.abc import Sequence
from pathlib import Path
from typing import Final

from run import (
    ADMIN,
    PIPELINE_ID,
    PIPELINE_NAME,
    RESULTS_DIR,
    TRIGGER_WINDOW_S,
    VS_LATENCY_S,
    Baseline,
    Server,
    open_loop_step,
    policy_text,
    wait_bot_idle,
)

from devkit.fakes.slack_api import FakeSlack
from devkit.fakes.vectorshift_api import FakeVectorShift
from devkit.stack import LocalStack

AB_DIR: Final = RESULTS_DIR / "ab"
ABLATIONS: Final = Path(__file__).resolve().parent / "ablations"
EXPORTED: Final = ("bot", "migrations", "pyproject.toml")
"""What a revision's bot needs to run: its package, and the migrations its `migrate` applies."""


def bot_env(side: str, into: Path) -> dict[str, str]:
    """The bot's environment for `REV[+ABLATION…]`: `REV` exported, the ablations on top."""
    revision, *ablations = side.split("+")
    for name in ablations:
        if not (ABLATIONS / f"{name}.py").is_file():
            raise SystemExit(f"no ablation {name!r} in {ABLATIONS}")
    tree = str(export(revision, into))
    if not ablations:
        return {"PYTHONPATH": tree}
    return {"PYTHONPATH": f"{ABLATIONS}:{tree}", "VS_BENCH_ABLATIONS": ",".join(ablations)}


def export(revision: str, into: Path) -> Path:
    """Write `revision`'s bot (and what it needs) into `into`; returns that directory."""
    into.mkdir(parents=True)
    archive = subprocess.run(
        ["git", "archive", "--format=tar", revision, *EXPORTED],
        check=True,
        capture_output=True,
    ).stdout
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(into, filter="data")
    return into


async def measure(revisions: Sequence[str], *, rounds: int, rate: float, step_s: float) -> None:
    """Run the rounds and print them; every process started is stopped."""
    shutil.rmtree(AB_DIR, ignore_errors=True)
    stacks: list[LocalStack] = []
    baseline: Baseline | None = None
    try:
        sides: list[tuple[Server, FakeSlack, FakeVectorShift | None]] = []
        for index, revision in enumerate(revisions):
            env = bot_env(revision, AB_DIR / f"tree-{index}")
            stack = LocalStack(
                AB_DIR / f"run-{index}",
                policy=policy_text(),
                slack=FakeSlack(trigger_ttl_s=TRIGGER_WINDOW_S),
                vectorshift=FakeVectorShift(latency_s=VS_LATENCY_S),
                env=env,
            )
            stacks.append(stack)
            await asyncio.to_thread(stack.start)
            stack.slack.ensure_user(ADMIN)
            stack.vectorshift.add_pipeline(PIPELINE_ID, PIPELINE_NAME)
            if stack.pid is None:
                raise RuntimeError(f"the bot at {revision} did not start")
            sides.append((Server(revision, stack.url, stack.pid), stack.slack, stack.vectorshift))
        baseline = Baseline(stacks[0].slack.api_url, "modal", AB_DIR / "baseline-modal.log")
        sides.append((await baseline.ready(), stacks[0].slack, None))
        for server, slack, vs in sides:
            # Warm caches and connections outside the measurement, as run.py does.
            await open_loop_step(server, slack, vs, rate=10, duration_s=1.0, label="warm")
        results: dict[str, list[float]] = {server.name: [] for server, _, _ in sides}
        for number in range(rounds):
            order = sides if number % 2 == 0 else list(reversed(sides))
            shown = []
            for server, slack, vs in order:
                step = await open_loop_step(
                    server, slack, vs, rate=rate, duration_s=step_s, label=f"ab{number}"
                )
                if vs is not None:
                    await wait_bot_idle(server)
                results[server.name].append(step.cpu_ms_per_modal)
                shown.append(
                    f"{server.name} {step.cpu_ms_per_modal} ms ({step.opened}/{step.sent})"
                )
            print(f"round {number + 1}: " + ", ".join(shown), flush=True)
        first, base_name = results[sides[0][0].name], sides[-1][0].name
        base = statistics.median(results[base_name])
        for name, values in results.items():
            to_first = statistics.median(v / f for v, f in zip(values, first, strict=True))
            to_base = statistics.median(
                v / b for v, b in zip(values, results[base_name], strict=True)
            )
            middle = statistics.median(values)
            print(
                f"{name}: per round {to_first:.3f}× {sides[0][0].name}, {to_base:.2f}× baseline;"
                f" median {middle:.2f} ms per opened modal ({middle / base:.2f}× baseline's median)"
            )
    finally:
        if baseline is not None:
            baseline.stop()
        for stack in stacks:
            await asyncio.to_thread(stack.stop)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("revisions", nargs="+", help="git revisions of the bot to compare")
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--rate", type=float, default=80.0, help="modals per second")
    parser.add_argument("--step", type=float, default=4.0, help="seconds per step")
    args = parser.parse_args(argv)
    asyncio.run(measure(args.revisions, rounds=args.rounds, rate=args.rate, step_s=args.step))
    return 0


if __name__ == "__main__":
    sys.exit(main())
