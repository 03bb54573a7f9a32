"""Prometheus metrics: the counters, histogram and gauges `GET /metrics` exposes (SPEC §3, §8).

Each `Metrics` owns its own `CollectorRegistry` instead of prometheus_client's global one, so a
test (or a benchmark running two runtimes in one process) can build as many as it likes without
"Duplicated timeseries" errors. Series names carry the `vs_terminate_` namespace:

    vs_terminate_attempts_total{action,outcome}             attempts by action and final outcome
    vs_terminate_alerts_total{source,result}                alerts by format and what became of them
    vs_terminate_vectorshift_requests_total{operation,status}  status = HTTP code or "error"
    vs_terminate_vectorshift_latency_seconds{operation}    histogram
    vs_terminate_slack_api_errors_total{method,error}       Slack Web API error codes
    vs_terminate_acks_total{kind}                           acks sent, by interaction kind
    vs_terminate_shed_total{reason}                         work refused under overload
    vs_terminate_background_tasks                           post-ack tasks running now
    vs_terminate_background_queue_limit                     the most that may run at once

Label values must come from small fixed sets (outcome names, operation names, HTTP codes, Slack's
error codes), never from user input, or the series count grows without bound. Counters whose
label values are known up front are created at zero for each (`start_at_zero`, called by the
composition root), so `rate()` and alert rules see a series before its first event.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

NAMESPACE: Final = "vs_terminate"
LATENCY_BUCKETS_S: Final = (0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 8.0, 13.0)
"""VectorShift answers in hundreds of milliseconds when healthy; the top buckets show calls that
ran into the terminate deadline, which sits well under Slack's limits."""


class Metrics:
    """Every metric the bot records, registered on a registry of its own.

    Args:
        registry: where to register; a fresh `CollectorRegistry` when omitted.
    """

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.attempts_total = Counter(
            "attempts",
            "Attempts (terminate, pause, resume) by action and outcome.",
            ["action", "outcome"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.alerts_total = Counter(
            "alerts",
            "Alerts received, by source format and what became of each (refused: the request).",
            ["source", "result"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.vectorshift_requests_total = Counter(
            "vectorshift_requests",
            "VectorShift API calls by operation and HTTP status (or 'error' when none came back).",
            ["operation", "status"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.vectorshift_latency_seconds = Histogram(
            "vectorshift_latency_seconds",
            "VectorShift API call duration by operation.",
            ["operation"],
            buckets=LATENCY_BUCKETS_S,
            namespace=NAMESPACE,
            registry=r,
        )
        self.slack_api_errors_total = Counter(
            "slack_api_errors",
            "Slack Web API calls that failed, by method and Slack error code.",
            ["method", "error"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.acks_total = Counter(
            "acks",
            "Slack requests acknowledged, by kind.",
            ["kind"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.shed_total = Counter(
            "shed",
            "Work refused under overload (the user was told to try again), by reason.",
            ["reason"],
            namespace=NAMESPACE,
            registry=r,
        )
        self.background_tasks = Gauge(
            "background_tasks",
            "Post-ack background tasks running now.",
            namespace=NAMESPACE,
            registry=r,
        )
        self.background_queue_limit = Gauge(
            "background_queue_limit",
            "The most post-ack background tasks allowed to run at once.",
            namespace=NAMESPACE,
            registry=r,
        )

    @staticmethod
    def start_at_zero(counter: Counter, **values: Iterable[str]) -> None:
        """Create `counter`'s series for every combination of the given label values, at zero.

        Args:
            counter: a counter with exactly these labels.
            values: each label's possible values.
        """
        names = list(values)
        for combination in itertools.product(*(list(v) for v in values.values())):
            counter.labels(**dict(zip(names, combination, strict=True)))

    def render(self) -> tuple[bytes, str]:
        """The Prometheus text exposition of every metric.

        Returns:
            The body and its `Content-Type`.
        """
        return generate_latest(self.registry), CONTENT_TYPE_LATEST
