"""Prometheus instant queries against a real Prometheus scraping a local exporter, and its
failure modes against a local server that answers as each test says."""

from __future__ import annotations

import json

import pytest

from blocks.prometheus import PrometheusTarget
from incident.models import FindingStatus
from tasks.prometheus_query import (
    error_rate_query,
    measure_error_rate,
    measure_latency_quantile,
    query_prometheus,
)

pytestmark = pytest.mark.prefect

TOKEN = "Hunter2-prom-token"


def quick(check):
    return check.with_options(retry_delay_seconds=0)


def by_service(finding):
    return {s["labels"]["service"]: s for s in finding.evidence["series"]}


def test_the_error_rate_flags_the_failing_services_and_not_the_healthy_one(
    prefect_api, prometheus_server
):
    finding = measure_error_rate(
        prometheus_server.target(), by=("service",), warn_above=0.01, critical_above=0.05
    )
    assert finding.status is FindingStatus.CRITICAL
    series = by_service(finding)
    assert series["checkout"]["verdict"] == "critical"
    assert series["checkout"]["value"] == pytest.approx(0.3, abs=0.02)
    assert series["search"]["verdict"] == "warning"
    assert series["catalog"] == {**series["catalog"], "value": 0.0, "verdict": "ok"}
    assert finding.evidence["query"] == error_rate_query(by=("service",))
    assert "2 of 3 series" in finding.summary and "service=checkout" in finding.summary
    assert "catalog" not in finding.summary


def test_a_healthy_service_alone_is_ok_and_says_so(prefect_api, prometheus_server):
    finding = measure_error_rate(prometheus_server.target(), 'service="catalog"')
    assert finding.status is FindingStatus.OK
    assert finding.summary == "5xx error rate within thresholds for 1 series (highest 0)."


def test_the_p99_latency_per_service_is_judged_against_its_thresholds(
    prefect_api, prometheus_server
):
    finding = measure_latency_quantile(
        prometheus_server.target(), 0.99, by=("service",), warn_above=0.5, critical_above=2.0
    )
    series = by_service(finding)
    assert finding.status is FindingStatus.CRITICAL
    assert series["checkout"]["verdict"] == "critical" and 2.5 <= series["checkout"]["value"] <= 5
    assert series["search"]["verdict"] == "warning" and 0.5 <= series["search"]["value"] <= 1
    assert series["catalog"]["verdict"] == "ok" and series["catalog"]["value"] <= 0.05
    assert "histogram_quantile(0.99" in finding.evidence["query"]
    assert "p99 latency above threshold for 2 of 3 series" in finding.summary


def test_a_query_for_a_metric_nobody_exports_says_no_data(prefect_api, prometheus_server):
    finding = measure_error_rate(prometheus_server.target(), metric="no_such_requests_total")
    assert finding.status is FindingStatus.WARNING
    assert finding.summary.startswith("No data for 5xx error rate (no series)")
    assert finding.evidence["series"] == []


def test_a_custom_query_carries_the_query_values_and_labels(prefect_api, prometheus_server):
    finding = query_prometheus(
        prometheus_server.target(), 'up{job="web"}', what="targets up", warn_above=2
    )
    assert finding.status is FindingStatus.OK
    [series] = finding.evidence["series"]
    assert series["labels"]["job"] == "web" and series["value"] == 1.0
    assert finding.evidence["query"] == 'up{job="web"}'


def test_a_bad_query_is_permanent_with_prometheus_own_message(prefect_api, prometheus_server):
    finding = quick(query_prometheus)(
        prometheus_server.target(), "sum(rate(http_requests_total[5m]"
    )
    assert finding.status is FindingStatus.UNREACHABLE
    assert "rejected the query (bad_data)" in finding.summary
    assert "parse error" in finding.summary
    assert finding.evidence["attempts"] == 1 and finding.evidence["transient"] is False
    assert finding.evidence["http_status"] == 400


def test_a_range_vector_query_is_refused_with_what_to_do(prefect_api, prometheus_server):
    finding = quick(query_prometheus)(prometheus_server.target(), "http_requests_total[1m]")
    assert finding.status is FindingStatus.UNREACHABLE
    assert "instant-vector expression" in finding.summary


def test_a_closed_port_is_unreachable_without_the_token(prefect_api, closed_port):
    target = PrometheusTarget(url=f"http://127.0.0.1:{closed_port}", bearer_token=TOKEN)
    finding = quick(measure_error_rate)(target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert (
        "PrometheusTarget block" in finding.summary
        and "gave up after 4 attempts" in finding.summary
    )
    assert TOKEN not in finding.model_dump_json()


def test_a_prometheus_answering_500_is_retried_then_unreachable(prefect_api, http_stub):
    http_stub.reply("/api/v1/query", status=500, body="internal error")
    target = PrometheusTarget(url=http_stub.url(""), bearer_token=TOKEN)
    finding = quick(measure_latency_quantile)(target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert finding.evidence["http_status"] == 500 and finding.evidence["attempts"] == 4
    assert len(http_stub.requests) == 4
    assert http_stub.requests[0]["Authorization"] == f"Bearer {TOKEN}"
    assert TOKEN not in finding.model_dump_json()


def test_a_prometheus_that_never_answers_times_out_as_unreachable(prefect_api, http_stub):
    http_stub.reply("/api/v1/query", hang=True)
    target = PrometheusTarget(url=http_stub.url(""), timeout_seconds=0.3, bearer_token=TOKEN)
    finding = quick(measure_error_rate)(target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert "did not answer within 0.3 s" in finding.summary
    assert TOKEN not in finding.model_dump_json()


def test_a_query_timeout_inside_prometheus_is_transient(prefect_api, http_stub):
    body = {"status": "error", "errorType": "timeout", "error": "query timed out in eval"}
    http_stub.reply("/api/v1/query", status=503, body=json.dumps(body))
    finding = quick(measure_error_rate)(PrometheusTarget(url=http_stub.url("")))
    assert finding.evidence["transient"] is True and finding.evidence["attempts"] == 4
    assert "query timed out in eval" in finding.summary


def test_a_refused_token_is_permanent_and_not_shown(prefect_api, http_stub):
    http_stub.reply("/api/v1/query", status=403, body="forbidden")
    target = PrometheusTarget(url=http_stub.url(""), bearer_token=TOKEN)
    finding = quick(measure_error_rate)(target)
    assert finding.evidence["attempts"] == 1 and finding.evidence["http_status"] == 403
    assert "check the token in its PrometheusTarget block" in finding.summary
    assert TOKEN not in finding.model_dump_json()


def test_a_url_that_is_not_a_prometheus_api_says_so(prefect_api, http_stub):
    http_stub.reply("/api/v1/query", status=200, body="<html>login</html>")
    finding = quick(measure_error_rate)(PrometheusTarget(url=http_stub.url("")))
    assert finding.status is FindingStatus.UNREACHABLE
    assert "is not the Prometheus API" in finding.summary


def test_a_rate_limiting_prometheus_is_retried_as_transient(prefect_api, http_stub):
    http_stub.reply("/api/v1/query", status=429, body="slow down")
    finding = quick(measure_error_rate)(PrometheusTarget(url=http_stub.url("")))
    assert finding.status is FindingStatus.UNREACHABLE
    assert "rate limiting" in finding.summary
    assert finding.evidence["transient"] is True and finding.evidence["attempts"] == 4
