"""Prometheus instant queries (runbook 002 "High Error Rate" / "High Latency", runbook 000
phase 1 "check error rates"), each value compared with the policy's thresholds.

A finding carries the PromQL it ran, every series it got back (labels and value) and the
verdict of each, so a responder sees which service is failing and which are fine. A query
that returns nothing is reported as "no data" (a wrong metric name and a service nobody
scrapes look exactly like that), never as a silent ``ok``. Prometheus' own refusals
(``status: error``: a bad query, an execution error) are permanent and keep its message; a
server that is down, overloaded (503 timeouts, 5xx, 429) or unreachable is retried.
"""

from __future__ import annotations

import math
from typing import Any

from blocks.prometheus import PrometheusTarget
from incident.errors import PermanentError, TransientError
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.http_reads import fetch, raise_for_status

__all__ = [
    "error_rate_query",
    "latency_quantile_query",
    "measure_error_rate",
    "measure_latency_quantile",
    "query_prometheus",
    "run_instant_query",
]

_BLOCK = "PrometheusTarget"


def _label(target: PrometheusTarget) -> str:
    return f"Prometheus {target.label}"


def run_instant_query(target: PrometheusTarget, promql: str) -> list[dict[str, Any]]:
    """``GET /api/v1/query``: one row per series, ``{"labels": {...}, "value": float}``.

    A scalar answer is one row without labels. NaN and ±Inf stay floats (a ratio over no
    traffic is NaN); callers decide what they mean.
    """
    token = target.bearer_token.get_secret_value() if target.bearer_token else None
    with target.client() as client:
        answer = fetch(
            client,
            "/api/v1/query",
            params={"query": promql},
            label=_label(target),
            block=_BLOCK,
            secrets=(token,),
        )
    response = answer.response
    try:
        body = response.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("status") == "error":
        message = f"{_label(target)} rejected the query ({body.get('errorType')}): "
        message += f"{body.get('error')}; query: {promql}"
        error: TransientError | PermanentError
        if body.get("errorType") in ("timeout", "canceled", "unavailable") or (
            response.status_code >= 500
        ):
            error = TransientError(message)
        else:
            error = PermanentError(message + " (fix the query or its parameters)")
        error.status = response.status_code  # type: ignore[attr-defined]
        raise error
    raise_for_status(response, label=_label(target), block=_BLOCK)
    if not isinstance(body, dict) or "data" not in body:
        raise PermanentError(
            f"{_label(target)} answered something that is not the Prometheus API "
            f"(HTTP {response.status_code}): check the URL in its {_BLOCK} block"
        )
    data = body["data"]
    if data.get("resultType") == "scalar":
        return [{"labels": {}, "value": float(data["result"][1])}]
    if data.get("resultType") != "vector":
        raise PermanentError(
            f"the query answered a {data.get('resultType')}, not an instant vector: use an "
            f"instant-vector expression (no [range] at the top level); query: {promql}"
        )
    return [{"labels": s.get("metric", {}), "value": float(s["value"][1])} for s in data["result"]]


def _for_json(value: float) -> float | str | None:
    """NaN is "no value" and ±Inf stays readable ("+Inf": the quantile is past every bucket)."""
    if math.isnan(value):
        return None
    return f"{value:+}" if math.isinf(value) else value


def _verdict(value: float, warn_above: float | None, critical_above: float | None) -> str:
    if math.isnan(value):
        return "no data"
    if critical_above is not None and value > critical_above:
        return "critical"
    if warn_above is not None and value > warn_above:
        return "warning"
    return "ok"


def _describe(labels: dict[str, str]) -> str:
    shown = {k: v for k, v in labels.items() if k != "__name__"}
    return ",".join(f"{k}={v}" for k, v in sorted(shown.items())) or "(all series)"


def _judge(
    check: str,
    target: PrometheusTarget,
    promql: str,
    *,
    what: str,
    warn_above: float | None,
    critical_above: float | None,
    no_data: FindingStatus,
    unit: str = "",
) -> Finding:
    rows = run_instant_query(target, promql)
    evidence: dict[str, Any] = {
        "query": promql,
        "warn_above": warn_above,
        "critical_above": critical_above,
        "series": [],
    }
    for row in rows:
        row["verdict"] = _verdict(row["value"], warn_above, critical_above)
        evidence["series"].append({**row, "value": _for_json(row["value"])})
    judged = [r for r in rows if r["verdict"] != "no data"]
    if not judged:
        why = "no series" if not rows else "only NaN values (no traffic in the window)"
        return Finding(
            check=check,
            target=target.label,
            status=no_data,
            summary=(
                f"No data for {what} ({why}): check the metric names and that Prometheus "
                "scrapes the service."
            ),
            evidence=evidence,
        )
    worst = max(judged, key=lambda r: r["value"])
    bad = [r for r in judged if r["verdict"] in ("warning", "critical")]
    if any(r["verdict"] == "critical" for r in bad):
        status = FindingStatus.CRITICAL
    elif bad:
        status = FindingStatus.WARNING
    else:
        status = FindingStatus.OK
    shown = f"{worst['value']:.3g}{unit}"
    if bad:
        over = ", ".join(f"{_describe(r['labels'])} {r['value']:.3g}{unit}" for r in bad[:5])
        summary = f"{what} above threshold for {len(bad)} of {len(judged)} series: {over}."
    else:
        summary = f"{what} within thresholds for {len(judged)} series (highest {shown})."
    return Finding(
        check=check, target=target.label, status=status, summary=summary, evidence=evidence
    )


@diagnostic("prometheus_query", tags=("prometheus",))
def query_prometheus(
    target: PrometheusTarget,
    promql: str,
    *,
    what: str = "query value",
    warn_above: float | None = None,
    critical_above: float | None = None,
    no_data: FindingStatus = FindingStatus.WARNING,
) -> Finding:
    """Any instant query, each series judged against the thresholds (above = worse).

    Example:
        ```python
        query_prometheus(target, 'sum(up{job="api"})', what="api targets down", ...)
        ```
    """
    return _judge(
        "prometheus_query",
        target,
        promql,
        what=what,
        warn_above=warn_above,
        critical_above=critical_above,
        no_data=no_data,
    )


def _grouping(by: tuple[str, ...]) -> str:
    return f" by ({', '.join(by)})" if by else ""


def error_rate_query(
    selector: str = "",
    *,
    by: tuple[str, ...] = (),
    window: str = "5m",
    metric: str = "http_requests_total",
    status_label: str = "status",
) -> str:
    """The share of requests answered 5xx, per ``by`` group.

    A group with traffic and no 5xx has no numerator series, and plain division would drop
    it: the healthy service would vanish from the evidence. ``or ... * 0`` gives it a 0.
    """
    errors = ",".join(filter(None, [selector, f'{status_label}=~"5.."']))
    total = f"sum{_grouping(by)} (rate({metric}{{{selector}}}[{window}]))"
    failing = f"sum{_grouping(by)} (rate({metric}{{{errors}}}[{window}]))"
    return f"({failing} or {total} * 0) / {total}"


def latency_quantile_query(
    quantile: float = 0.99,
    selector: str = "",
    *,
    by: tuple[str, ...] = (),
    window: str = "5m",
    metric: str = "http_request_duration_seconds",
) -> str:
    """``histogram_quantile`` over a histogram's buckets, per ``by`` group."""
    groups = ", ".join(("le", *by))
    return (
        f"histogram_quantile({quantile}, sum by ({groups}) "
        f"(rate({metric}_bucket{{{selector}}}[{window}])))"
    )


@diagnostic("error_rate", tags=("prometheus",))
def measure_error_rate(
    target: PrometheusTarget,
    selector: str = "",
    *,
    by: tuple[str, ...] = (),
    window: str = "5m",
    warn_above: float = 0.01,
    critical_above: float = 0.05,
    metric: str = "http_requests_total",
    status_label: str = "status",
) -> Finding:
    """Runbook 002 "High Error Rate": ``rate(http_requests_total{status=~"5.."}[5m])`` as a
    share of all requests, per ``by`` group (e.g. ``("service",)``), against the thresholds
    (fractions: 0.05 is 5 %)."""
    promql = error_rate_query(
        selector, by=by, window=window, metric=metric, status_label=status_label
    )
    return _judge(
        "error_rate",
        target,
        promql,
        what="5xx error rate",
        warn_above=warn_above,
        critical_above=critical_above,
        no_data=FindingStatus.WARNING,
    )


@diagnostic("latency_quantile", tags=("prometheus",))
def measure_latency_quantile(
    target: PrometheusTarget,
    quantile: float = 0.99,
    selector: str = "",
    *,
    by: tuple[str, ...] = (),
    window: str = "5m",
    warn_above: float = 0.5,
    critical_above: float = 2.0,
    metric: str = "http_request_duration_seconds",
) -> Finding:
    """Runbook 002 "High Latency": the p95/p99 request duration (seconds) from the
    histogram's buckets, per ``by`` group, against the thresholds."""
    promql = latency_quantile_query(quantile, selector, by=by, window=window, metric=metric)
    return _judge(
        "latency_quantile",
        target,
        promql,
        what=f"p{quantile * 100:g} latency",
        warn_above=warn_above,
        critical_above=critical_above,
        no_data=FindingStatus.WARNING,
        unit=" s",
    )
