"""bot.metrics: every series renders in Prometheus text, on a registry of its own."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.metrics import Metrics


def samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    body, _ = metrics.render()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(body.decode())
        for s in family.samples
    }


def test_render_contains_every_recorded_series_with_its_labels_and_value() -> None:
    m = Metrics()
    m.attempts_total.labels(action="terminate", outcome="succeeded").inc()
    m.attempts_total.labels(action="terminate", outcome="succeeded").inc()
    m.attempts_total.labels(action="pause", outcome="denied").inc()
    m.alerts_total.labels(source="alertmanager", result="posted").inc(4)
    m.vectorshift_requests_total.labels(operation="terminate", status="200").inc()
    m.vectorshift_requests_total.labels(operation="run_status", status="error").inc()
    m.vectorshift_latency_seconds.labels(operation="terminate").observe(0.25)
    m.slack_api_errors_total.labels(method="chat.postMessage", error="not_in_channel").inc()
    m.acks_total.labels(kind="command").inc()
    m.shed_total.labels(reason="queue_full").inc(3)
    m.background_tasks.set(7)
    m.background_queue_limit.set(256)

    got = samples(m)

    terminated = (("action", "terminate"), ("outcome", "succeeded"))
    assert got[("vs_terminate_attempts_total", terminated)] == 2
    assert got[("vs_terminate_attempts_total", (("action", "pause"), ("outcome", "denied")))] == 1
    posted = (("result", "posted"), ("source", "alertmanager"))
    assert got[("vs_terminate_alerts_total", posted)] == 4
    assert (
        got[
            (
                "vs_terminate_vectorshift_requests_total",
                (("operation", "terminate"), ("status", "200")),
            )
        ]
        == 1
    )
    assert (
        got[
            (
                "vs_terminate_vectorshift_requests_total",
                (("operation", "run_status"), ("status", "error")),
            )
        ]
        == 1
    )
    terminate = (("operation", "terminate"),)
    assert got[("vs_terminate_vectorshift_latency_seconds_count", terminate)] == 1
    assert got[("vs_terminate_vectorshift_latency_seconds_sum", terminate)] == 0.25
    assert (
        got[("vs_terminate_vectorshift_latency_seconds_bucket", (("le", "0.2"), *terminate))] == 0
    )
    assert (
        got[("vs_terminate_vectorshift_latency_seconds_bucket", (("le", "0.3"), *terminate))] == 1
    )
    assert (
        got[
            (
                "vs_terminate_slack_api_errors_total",
                (("error", "not_in_channel"), ("method", "chat.postMessage")),
            )
        ]
        == 1
    )
    assert got[("vs_terminate_acks_total", (("kind", "command"),))] == 1
    assert got[("vs_terminate_shed_total", (("reason", "queue_full"),))] == 3
    assert got[("vs_terminate_background_tasks", ())] == 7
    assert got[("vs_terminate_background_queue_limit", ())] == 256


def test_render_returns_the_prometheus_text_content_type() -> None:
    body, content_type = Metrics().render()

    assert content_type.startswith("text/plain; version=")
    assert b"# TYPE vs_terminate_attempts_total counter" in body
    assert b"# TYPE vs_terminate_vectorshift_latency_seconds histogram" in body
    assert b"# TYPE vs_terminate_background_tasks gauge" in body


def test_start_at_zero_creates_every_combination_before_any_event() -> None:
    m = Metrics()
    m.start_at_zero(m.alerts_total, source=["native", "grafana"], result=["posted", "failed"])

    got = {k: v for k, v in samples(m).items() if k[0] == "vs_terminate_alerts_total"}

    assert got == {
        ("vs_terminate_alerts_total", (("result", r), ("source", s))): 0.0
        for s in ("native", "grafana")
        for r in ("posted", "failed")
    }


def test_two_instances_count_independently() -> None:
    first, second = Metrics(), Metrics()
    first.acks_total.labels(kind="action").inc()

    assert samples(first)[("vs_terminate_acks_total", (("kind", "action"),))] == 1
    assert ("vs_terminate_acks_total", (("kind", "action"),)) not in samples(second)
