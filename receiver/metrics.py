"""What the receiver exports at ``/metrics`` (Prometheus text format, prometheus-client).

One registry per app, not the process-global one, so several receivers in one process
(tests, benchmarks) never count into each other.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

__all__ = ["CONTENT_TYPE_LATEST", "ReceiverMetrics"]

_START_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
_REQUEST_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


class ReceiverMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.requests = Counter(
            "firebreak_receiver_requests", "Requests by source and HTTP status",
            ["source", "status"], registry=r,
        )  # fmt: skip
        self.request_seconds = Histogram(
            "firebreak_receiver_request_seconds", "Time to answer a request, by source",
            ["source"], buckets=_REQUEST_BUCKETS, registry=r,
        )  # fmt: skip
        self.rejects = Counter(
            "firebreak_receiver_rejects", "Refused requests by source and reason",
            ["source", "reason"], registry=r,
        )  # fmt: skip
        self.incidents_started = Counter(
            "firebreak_receiver_incidents_started", "Incidents opened (alert groups claimed)",
            ["source"], registry=r,
        )  # fmt: skip
        self.alerts_attached = Counter(
            "firebreak_receiver_alerts_attached",
            "Alerts recorded into an incident that was already open", ["source"], registry=r,
        )  # fmt: skip
        self.alerts_duplicate = Counter(
            "firebreak_receiver_alerts_duplicate", "Re-sent alerts already recorded",
            ["source"], registry=r,
        )  # fmt: skip
        self.start_seconds = Histogram(
            "firebreak_receiver_start_run_seconds",
            "From an incident's first alert being persisted to its flow run existing",
            buckets=_START_BUCKETS, registry=r,
        )  # fmt: skip
        self.start_failures = Counter(
            "firebreak_receiver_start_failures", "Failed attempts to start a run, by kind",
            ["kind"], registry=r,
        )  # fmt: skip
        self.pending_starts = Gauge(
            "firebreak_receiver_pending_starts", "Runs persisted but not started yet", registry=r
        )
        self.prefect_api_up = Gauge(
            "firebreak_receiver_prefect_api_up", "1 when the Prefect API answered last", registry=r
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
