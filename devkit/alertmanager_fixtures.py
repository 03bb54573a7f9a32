"""Recording real Alertmanager webhook bodies as JSON fixtures: `tests/fixtures/alertmanager/`.

    .venv/bin/python -m devkit.alertmanager_fixtures tests/fixtures/alertmanager

runs each scenario below against the real `prometheus-alertmanager` (`AlertmanagerProcess`) and
a local `WebhookReceiver`, and writes the body Alertmanager posted, unedited, to `<name>.json`,
plus the request headers of the first delivery to `headers.json`. Timestamps, fingerprints and
the `externalURL` port are whatever that run produced; the README beside the fixtures says what
each one shows. Re-run it after an Alertmanager upgrade and diff.
"""

from __future__ import annotations

import json
import sys
import tempfile
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from devkit.alertmanager import Alert, AlertmanagerProcess, Delivery, WebhookReceiver

__all__ = ["capture", "main"]

TOKEN = "fixture-token-0123456789"  # noqa: S105 - a local receiver's token, not a credential
WAIT_S = 20.0
GENERATOR_URL = "http://prometheus.example:9090/graph?g0.expr=vs_run_seconds+%3E+10800&g0.tab=1"


def _alert(**labels: str) -> Alert:
    run = labels.get("vs_run") or labels.get("run") or labels.get("run_id") or "(unknown)"
    return Alert(
        labels={"alertname": "VectorShiftRunTooLong", "severity": "critical", **labels},
        annotations={
            "summary": "Nightly ETL has been running for over 3 h",
            "description": f"Run {run} of nightly-etl started more than 3 hours ago.",
        },
        starts_at=datetime.now(UTC),
        generator_url=GENERATOR_URL,
    )


def _run(run: str) -> Alert:
    return _alert(vs_pipeline="nightly-etl", vs_run=run)


def _firing(delivery: Delivery) -> bool:
    return delivery.status == "firing"


def _resolved(delivery: Delivery) -> bool:
    return delivery.status == "resolved"


def _with(predicate: Callable[[Delivery], bool], **statuses: int) -> Callable[[Delivery], bool]:
    # Matches a delivery whose alerts have exactly these per-alert status counts.
    def match(delivery: Delivery) -> bool:
        counts: dict[str, int] = {}
        for alert in delivery.body["alerts"]:
            counts[alert["status"]] = counts.get(alert["status"], 0) + 1
        return predicate(delivery) and counts == statuses

    return match


def capture(outdir: Path, workdir: Path) -> list[Path]:
    """Run every scenario and write its fixture.

    Args:
        outdir: Where the JSON files go.
        workdir: Scratch space for the Alertmanager processes.

    Returns:
        The files written.
    """
    written: list[Path] = []

    def save(name: str, data: Any) -> None:
        path = outdir / f"{name}.json"
        path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        written.append(path)

    def run(name: str, **options: Any) -> tuple[AlertmanagerProcess, WebhookReceiver]:
        receiver = WebhookReceiver()
        receiver.start()
        process = AlertmanagerProcess(
            workdir / name, webhook_url=receiver.url, token=TOKEN, **options
        )
        process.start()
        return process, receiver

    outdir.mkdir(parents=True, exist_ok=True)

    # One alert: firing, its repeat after repeat_interval, then resolved.
    am, rx = run("single")
    try:
        alert = _run("run-7f3a9c")
        am.push([alert])
        first = rx.deliveries.wait(_firing, timeout=WAIT_S)
        repeat = rx.deliveries.wait(_firing, timeout=WAIT_S, count=2)
        am.resolve([alert])
        resolved = rx.deliveries.wait(_resolved, timeout=WAIT_S)
    finally:
        am.stop()
        rx.stop()
    headers = {k: v for k, v in first.headers.items() if k.lower() != "host"}
    save("headers", headers)
    save("firing", first.body)
    save("repeat", repeat.body)
    save("resolved", resolved.body)

    # Three runs of one alertname: one notification; then one run resolves while two fire.
    am, rx = run("group")
    try:
        alerts = [_run(run) for run in ("run-0001", "run-0002", "run-0003")]
        am.push(alerts)
        group = rx.deliveries.wait(_firing, timeout=WAIT_S)
        am.resolve(alerts[:1])
        partly = rx.deliveries.wait(_with(_firing, firing=2, resolved=1), timeout=WAIT_S)
    finally:
        am.stop()
        rx.stop()
    save("group_firing", group.body)
    save("group_partly_resolved", partly.body)

    # webhook_config.max_alerts: 2 of 3 alerts sent, truncatedAlerts counts the rest.
    am, rx = run("truncated", max_alerts=2)
    try:
        am.push([_run(run) for run in ("run-0001", "run-0002", "run-0003")])
        truncated = rx.deliveries.wait(_firing, timeout=WAIT_S)
    finally:
        am.stop()
        rx.stop()
    save("truncated", truncated.body)

    # The label fallbacks of SPEC §4.7 in one group, and an alert with no run label at all.
    am, rx = run("labels")
    try:
        am.push(
            [
                _run("run-0001"),
                _alert(pipeline="nightly-etl", run="run-0002"),
                _alert(pipeline="nightly-etl", run_id="run-0003", slack_channel="C0INCIDENTS"),
                _alert(vs_pipeline="nightly-etl"),
            ]
        )
        labels = rx.deliveries.wait(_firing, timeout=WAIT_S)
    finally:
        am.stop()
        rx.stop()
    save("label_variants", labels.body)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point: `python -m devkit.alertmanager_fixtures OUTDIR`.

    Args:
        argv: The arguments after the program name (defaults to `sys.argv[1:]`).

    Returns:
        The exit status.
    """
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 1:
        sys.stderr.write("usage: python -m devkit.alertmanager_fixtures OUTDIR\n")
        return 2
    with tempfile.TemporaryDirectory(prefix="am-fixtures-") as scratch:
        for path in capture(Path(args[0]), Path(scratch)):
            sys.stdout.write(f"{path}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
