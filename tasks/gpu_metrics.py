"""AI/GPU service metrics from a Prometheus text-format page (runbook 004 "AI/GPU Service
Degradation": ``curl .../metrics | grep -E "(gpu_utilization|model_inference|queue_length)"``).

The page is parsed with ``prometheus_client``'s own parser, so labels, escaping, histograms
and summaries are read as Prometheus reads them. Each GPU is judged on its own (one hot GPU
beside idle ones is the finding), memory as used / (used + free) of the same GPU. Metric
names default to NVIDIA's DCGM exporter and the runbook's inference names; a service that
exports others passes its own `GpuMetricNames`. A configured metric the page lacks is named
in the finding; a page with none of them is "no data", never a silent ``ok``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from prometheus_client.metrics_core import Metric
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, Field

from blocks.http import HttpEndpoint
from incident.errors import PermanentError
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.http_reads import fetch, raise_for_status

__all__ = ["GpuMetricNames", "GpuThresholds", "histogram_quantile", "read_gpu_metrics"]


class GpuMetricNames(BaseModel):
    """Which metrics mean what on this page (defaults: DCGM exporter + runbook 004 names)."""

    gpu_utilization: str = Field("DCGM_FI_DEV_GPU_UTIL", description="Gauge, percent 0-100.")
    memory_used: str = Field("DCGM_FI_DEV_FB_USED", description="Gauge, framebuffer used (MiB).")
    memory_free: str = Field("DCGM_FI_DEV_FB_FREE", description="Gauge, framebuffer free (MiB).")
    inference_latency: str = Field(
        "model_inference_duration_seconds",
        description="Seconds: a histogram, a summary (its quantile label) or a gauge.",
    )
    queue_length: str = Field("inference_queue_length", description="Gauge, requests waiting.")


class GpuThresholds(BaseModel):
    """Where a reading becomes a warning or critical (runbook 004: GPU above 95 % is bad)."""

    utilization_warn: float = 90.0
    utilization_critical: float = 95.0
    memory_warn: float = Field(0.90, description="Fraction of framebuffer used.")
    memory_critical: float = 0.97
    latency_quantile: float = 0.99
    latency_warn_seconds: float = 1.0
    latency_critical_seconds: float = 5.0
    queue_warn: float = 10.0
    queue_critical: float = 50.0


def histogram_quantile(q: float, buckets: Iterable[tuple[float, float]]) -> float:
    """Prometheus' ``histogram_quantile`` over cumulative ``(upper bound, count)`` buckets:
    linear inside the bucket holding the rank; the last finite bound if it is past them."""
    ordered = sorted(buckets)
    if not ordered or ordered[-1][1] <= 0:
        return math.nan
    rank = q * ordered[-1][1]
    lower, below = 0.0, 0.0
    for upper, count in ordered:
        if count >= rank:
            if math.isinf(upper):
                return lower
            if count == below:
                return upper
            return lower + (upper - lower) * (rank - below) / (count - below)
        lower, below = upper, count
    return lower


def _key(labels: dict[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def _gauges(family: Metric) -> list[tuple[dict[str, str], float]]:
    return [(dict(s.labels), float(s.value)) for s in family.samples if s.name == family.name]


def _latencies(family: Metric, q: float) -> tuple[list[tuple[dict[str, str], float]], str]:
    """Per series the latency at quantile ``q``, and where it came from."""
    if family.type == "histogram":
        series: dict[tuple[tuple[str, str], ...], list[tuple[float, float]]] = {}
        for s in family.samples:
            if s.name == f"{family.name}_bucket":
                rest = {k: v for k, v in s.labels.items() if k != "le"}
                series.setdefault(_key(rest), []).append((float(s.labels["le"]), s.value))
        rows = [(dict(k), histogram_quantile(q, b)) for k, b in series.items()]
        return rows, "histogram buckets since the process started"
    if family.type == "summary":
        rows = [
            ({k: v for k, v in s.labels.items() if k != "quantile"}, float(s.value))
            for s in family.samples
            if s.name == family.name and float(s.labels.get("quantile", "nan")) == q
        ]
        return rows, f"the summary's quantile {q:g}"
    return _gauges(family), "a gauge"


def _verdict(value: float, warn: float, critical: float) -> str:
    if math.isnan(value):
        return "no data"
    return "critical" if value > critical else "warning" if value > warn else "ok"


def _gpu(labels: dict[str, str]) -> str:
    where = labels.get("Hostname") or labels.get("instance")
    name = (
        f"gpu {labels['gpu']}"
        if "gpu" in labels
        else ",".join(f"{k}={v}" for k, v in labels.items())
    )
    return f"{name} on {where}" if where else name or "(all)"


def _page(target: HttpEndpoint) -> dict[str, Metric]:
    token = target.bearer_token.get_secret_value() if target.bearer_token else None
    label = f"metrics endpoint {target.label}"
    with target.client() as client:
        answer = fetch(client, target.url, label=label, block="HttpEndpoint", secrets=(token,))
    raise_for_status(answer.response, label=label, block="HttpEndpoint")
    try:
        return {f.name: f for f in text_string_to_metric_families(answer.response.text)}
    except (ValueError, IndexError, KeyError) as exc:
        raise PermanentError(
            f"{label} did not answer the Prometheus text format ({exc}): check the URL "
            "(usually .../metrics) in its HttpEndpoint block"
        ) from None


@diagnostic("gpu_metrics", tags=("http", "gpu"))
def read_gpu_metrics(
    target: HttpEndpoint,
    names: GpuMetricNames | None = None,
    thresholds: GpuThresholds | None = None,
) -> Finding:
    """GPU utilisation and memory per GPU, inference latency and queue length, each against
    its threshold; the finding is as bad as its worst reading."""
    names, limits = names or GpuMetricNames(), thresholds or GpuThresholds()
    families = _page(target)
    readings: list[dict[str, Any]] = []
    missing: list[str] = []

    def add(
        metric: str,
        rows: list[tuple[dict[str, str], float]],
        warn: float,
        crit: float,
        shown: str,
        **extra: Any,
    ) -> None:
        for labels, value in rows:
            readings.append(
                {
                    "metric": metric,
                    "labels": labels,
                    "value": None if math.isnan(value) else round(value, 4),
                    "verdict": _verdict(value, warn, crit),
                    "shown": shown.format(value),
                    **extra,
                }
            )

    def family(name: str) -> Metric | None:
        found = families.get(name) or families.get(name.removesuffix("_total"))
        if found is None:
            missing.append(name)
        return found

    if (util := family(names.gpu_utilization)) is not None:
        add(
            "gpu_utilization",
            _gauges(util),
            limits.utilization_warn,
            limits.utilization_critical,
            "utilisation {:.0f}%",
        )
    used, free = family(names.memory_used), family(names.memory_free)
    if used is not None and free is not None:
        free_of = {_key(labels): value for labels, value in _gauges(free)}
        rows = [
            (labels, value / (value + free_of[_key(labels)]))
            for labels, value in _gauges(used)
            if value + free_of.get(_key(labels), math.nan) > 0
        ]
        add("gpu_memory", rows, limits.memory_warn, limits.memory_critical, "memory {:.0%} used")
    if (latency := family(names.inference_latency)) is not None:
        rows, basis = _latencies(latency, limits.latency_quantile)
        add(
            "inference_latency",
            rows,
            limits.latency_warn_seconds,
            limits.latency_critical_seconds,
            f"p{limits.latency_quantile * 100:g} inference latency {{:.3g}} s",
            basis=basis,
        )
    if (queue := family(names.queue_length)) is not None:
        add(
            "queue_length",
            _gauges(queue),
            limits.queue_warn,
            limits.queue_critical,
            "queue length {:.0f}",
        )

    evidence = {
        "url": target.url,
        "readings": readings,
        "missing": missing,
        "thresholds": limits.model_dump(),
        "names": names.model_dump(),
    }
    judged = [r for r in readings if r["verdict"] != "no data"]
    not_exported = f" Not exported: {', '.join(missing)}." if missing else ""
    if not judged:
        return Finding(
            check="gpu_metrics",
            target=target.label,
            status=FindingStatus.WARNING,
            summary=f"No data: {target.label} exports none of the configured GPU or inference "
            f"metrics.{not_exported}",
            evidence=evidence,
        )
    bad = [r for r in judged if r["verdict"] != "ok"]
    if any(r["verdict"] == "critical" for r in bad):
        status = FindingStatus.CRITICAL
    else:
        status = FindingStatus.WARNING if bad else FindingStatus.OK
    if bad:
        listed = "; ".join(
            f"{r['shown']}" + (f" ({_gpu(r['labels'])})" if r["labels"] else "") for r in bad[:5]
        )
        summary = f"{len(bad)} of {len(judged)} readings over threshold: {listed}."
    else:
        summary = f"All {len(judged)} GPU and inference readings within thresholds."
    return Finding(
        check="gpu_metrics",
        target=target.label,
        status=status,
        summary=summary + not_exported,
        evidence=evidence,
    )
