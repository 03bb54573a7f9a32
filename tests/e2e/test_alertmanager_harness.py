"""The real Alertmanager harness: what Debian's prometheus-alertmanager posts to a webhook (§4.7).

Each test starts `/usr/bin/prometheus-alertmanager` on a free 127.0.0.1 port against a local
`WebhookReceiver` and waits on the receiver's journal, never on a fixed sleep. The timers are the
harness's small defaults (group_wait 200ms, group_interval 1s, repeat_interval 1s), so the whole
module takes seconds. devkit/ALERTMANAGER_NOTES.md explains the behaviour asserted here.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from devkit.alertmanager import RECEIVER, Alert, AlertmanagerProcess, Delivery, WebhookReceiver

pytestmark = pytest.mark.e2e

TOKEN = "am-harness-token-0123456789"
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time.Time: how a firing alert's endsAt is sent
WAIT_S = 15.0


@pytest.fixture
def receiver() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as running:
        yield running


def run_alert(run: str, **labels: str) -> Alert:
    return Alert(
        labels={
            "alertname": "RunTooLong",
            "severity": "critical",
            "vs_pipeline": "nightly-etl",
            "vs_run": run,
            "slack_channel": "C0INCIDENTS",
            **labels,
        },
        annotations={"summary": "Nightly ETL running for 3 h", "description": f"{run} is stuck"},
        starts_at=datetime.now(UTC),
        generator_url="http://127.0.0.1:9090/graph?g0.expr=vs_run_seconds+%3E+10800",
    )


def firing(delivery: Delivery) -> bool:
    return delivery.status == "firing"


def test_pushed_alert_reaches_the_receiver_with_the_bearer_token(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    alert = run_alert("run-1")
    with AlertmanagerProcess(tmp_path, webhook_url=receiver.url, token=TOKEN) as am:
        am.push([alert])
        delivery = receiver.deliveries.wait(firing, timeout=WAIT_S)
        external_url = am.url
    assert not am.ready()
    assert am.pid is None

    assert delivery.path == "/hook"
    assert delivery.headers["Authorization"] == f"Bearer {TOKEN}"
    assert delivery.headers["Content-Type"] == "application/json"
    assert re.fullmatch(r"Alertmanager/\d+\.\d+\.\d+", delivery.headers["User-Agent"])
    body = delivery.body
    assert {key: body[key] for key in body if key != "alerts"} == {
        "receiver": RECEIVER,
        "status": "firing",
        "groupLabels": {"alertname": "RunTooLong"},
        "commonLabels": dict(alert.labels),
        "commonAnnotations": dict(alert.annotations),
        "externalURL": external_url,
        "version": "4",
        "groupKey": '{}:{alertname="RunTooLong"}',
        "truncatedAlerts": 0,
    }
    [sent] = body["alerts"]
    assert set(sent) == {
        "status",
        "labels",
        "annotations",
        "startsAt",
        "endsAt",
        "generatorURL",
        "fingerprint",
    }
    assert sent["status"] == "firing"
    assert sent["labels"] == dict(alert.labels)
    assert sent["annotations"] == dict(alert.annotations)
    assert sent["endsAt"] == ZERO_TIME
    assert sent["generatorURL"] == alert.generator_url
    assert re.fullmatch(r"[0-9a-f]{16}", sent["fingerprint"])


def test_a_group_of_alerts_arrives_as_one_notification(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    alerts = [run_alert(f"run-{n}") for n in (1, 2, 3)]
    with AlertmanagerProcess(tmp_path, webhook_url=receiver.url, token=TOKEN) as am:
        am.push(alerts)
        delivery = receiver.deliveries.wait(firing, timeout=WAIT_S)

    body = delivery.body
    runs = sorted(sent["labels"]["vs_run"] for sent in body["alerts"])
    assert runs == ["run-1", "run-2", "run-3"]
    assert len({sent["fingerprint"] for sent in body["alerts"]}) == 3
    assert body["groupLabels"] == {"alertname": "RunTooLong"}
    assert "vs_run" not in body["commonLabels"]
    assert body["commonLabels"]["vs_pipeline"] == "nightly-etl"
    assert body["commonAnnotations"] == {"summary": "Nightly ETL running for 3 h"}


def test_max_alerts_cuts_the_group_and_says_how_many_were_left_out(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    alerts = [run_alert(f"run-{n}") for n in (1, 2, 3)]
    with AlertmanagerProcess(tmp_path, webhook_url=receiver.url, token=TOKEN, max_alerts=2) as am:
        am.push(alerts)
        delivery = receiver.deliveries.wait(firing, timeout=WAIT_S)

    assert len(delivery.body["alerts"]) == 2
    assert delivery.body["truncatedAlerts"] == 1


def test_firing_alert_repeats_then_its_resolution_arrives(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    alert = run_alert("run-1")
    with AlertmanagerProcess(tmp_path, webhook_url=receiver.url, token=TOKEN) as am:
        am.push([alert])
        first = receiver.deliveries.wait(firing, timeout=WAIT_S)
        repeat = receiver.deliveries.wait(firing, timeout=WAIT_S, count=2)
        am.resolve([alert])
        resolved = receiver.deliveries.wait(lambda d: not firing(d), timeout=WAIT_S)

    # The repeat is the same notification again: nothing tells it apart from the first.
    assert repeat.body == first.body
    assert repeat.at - first.at >= 1.0  # repeat_interval
    assert resolved.headers["Authorization"] == f"Bearer {TOKEN}"
    body = resolved.body
    assert (body["status"], body["groupKey"]) == ("resolved", first.body["groupKey"])
    [sent] = body["alerts"]
    assert sent["status"] == "resolved"
    assert sent["fingerprint"] == first.body["alerts"][0]["fingerprint"]
    assert sent["startsAt"] == first.body["alerts"][0]["startsAt"]
    assert sent["endsAt"] != ZERO_TIME


def test_a_4xx_answer_is_not_retried_but_sent_again_at_the_next_group_interval(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.respond_with(401, times=1)
    with AlertmanagerProcess(
        tmp_path, webhook_url=receiver.url, token=TOKEN, group_interval="3s"
    ) as am:
        am.push([run_alert("run-1")])
        refused = receiver.deliveries.wait(firing, timeout=WAIT_S)
        accepted = receiver.deliveries.wait(firing, timeout=WAIT_S, count=2)
        log = am.wait_for_log("unexpected status code 401")

    assert (refused.answered, accepted.answered) == (401, 200)
    assert accepted.body == refused.body
    assert accepted.at - refused.at >= 2.5  # the next flush, not a retry
    assert (
        'level=error component=dispatcher msg="Notify for alerts failed" num_alerts=1 '
        f'err="{RECEIVER}/webhook[0]: notify retry canceled due to unrecoverable error after '
        f"1 attempts: unexpected status code 401: {receiver.url}: "
    ) in log


def test_a_5xx_answer_is_retried_at_once_with_backoff(
    tmp_path: Path, receiver: WebhookReceiver
) -> None:
    receiver.respond_with(500, times=1)
    with AlertmanagerProcess(
        tmp_path, webhook_url=receiver.url, token=TOKEN, group_interval="3s"
    ) as am:
        am.push([run_alert("run-1")])
        failed = receiver.deliveries.wait(firing, timeout=WAIT_S)
        retried = receiver.deliveries.wait(firing, timeout=WAIT_S, count=2)
        log = am.wait_for_log('msg="Notify success"')

    assert (failed.answered, retried.answered) == (500, 200)
    assert retried.at - failed.at < 2.0  # backoff starts near 0.5 s, well before the next flush
    assert (
        f"level=warn component=dispatcher receiver={RECEIVER} integration=webhook[0] "
        'msg="Notify attempt failed, will retry later" attempts=1 '
        f'err="unexpected status code 500: {receiver.url}: '
    ) in log
    assert 'msg="Notify success" attempts=2' in log  # logged at info only after a retry
