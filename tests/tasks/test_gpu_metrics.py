"""AI/GPU metrics (runbook 004) read from a local ``/metrics`` page: DCGM exporter lines as
the exporter writes them, inference metrics as ``prometheus_client`` writes them."""

from __future__ import annotations

import math

import pytest
from prometheus_client import CollectorRegistry, Gauge, Histogram, generate_latest

from blocks.http import HttpEndpoint
from incident.models import FindingStatus
from tasks.gpu_metrics import GpuMetricNames, GpuThresholds, histogram_quantile, read_gpu_metrics

pytestmark = pytest.mark.prefect

TOKEN = "Hunter2-metrics-token"
PROM_TEXT = "text/plain; version=0.0.4; charset=utf-8"
_LABELS = (
    'gpu="{gpu}",UUID="GPU-{gpu}a1b2c3d4",device="nvidia{gpu}",'
    'modelName="NVIDIA A100-SXM4-80GB",Hostname="gpu-node-1",'
    'DCGM_FI_DRIVER_VERSION="535.104.05",container="llm",namespace="production",pod="llm-0"'
)


def dcgm(gpus: dict[int, tuple[float, float, float]]) -> str:
    """DCGM exporter output for GPUs ``{index: (utilisation %, MiB used, MiB free)}``."""
    lines = {
        "DCGM_FI_DEV_GPU_UTIL": "GPU utilization (in %).",
        "DCGM_FI_DEV_FB_USED": "Framebuffer memory used (in MiB).",
        "DCGM_FI_DEV_FB_FREE": "Framebuffer memory free (in MiB).",
    }
    out = []
    for position, (name, help_text) in enumerate(lines.items()):
        out += [f"# HELP {name} {help_text}", f"# TYPE {name} gauge"]
        for gpu, values in gpus.items():
            out.append(f"{name}{{{_LABELS.format(gpu=gpu)}}} {values[position]:g}")
    return "\n".join(out) + "\n"


def inference(models: dict[str, tuple[float, int]]) -> str:
    """Inference metrics for ``{model: (seconds per request, queue length)}``."""
    registry = CollectorRegistry()
    latency = Histogram(
        "model_inference_duration_seconds",
        "Inference time",
        ["model"],
        registry=registry,
        buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
    )
    queue = Gauge("inference_queue_length", "Requests waiting", ["model"], registry=registry)
    for model, (seconds, waiting) in models.items():
        for _ in range(100):
            latency.labels(model).observe(seconds)
        queue.labels(model).set(waiting)
    return generate_latest(registry).decode()


def serve(http_stub, body: str) -> str:
    return http_stub.reply("/metrics", body=body, content_type=PROM_TEXT)


def quick(check):
    return check.with_options(retry_delay_seconds=0)


def readings(finding, metric):
    return {
        r["labels"].get("gpu") or r["labels"].get("model"): r
        for r in finding.evidence["readings"]
        if r["metric"] == metric
    }


def test_a_saturated_gpu_is_flagged_beside_a_healthy_one(prefect_api, http_stub):
    body = dcgm({0: (98, 79_500, 2_420), 1: (35, 20_000, 61_920)})
    body += inference({"llm": (7.0, 64), "embedder": (0.02, 1)})
    target = HttpEndpoint(url=serve(http_stub, body), name="llm-service", bearer_token=TOKEN)
    finding = read_gpu_metrics(target)
    assert finding.status is FindingStatus.CRITICAL
    util, memory = readings(finding, "gpu_utilization"), readings(finding, "gpu_memory")
    assert (util["0"]["verdict"], util["1"]["verdict"]) == ("critical", "ok")
    assert memory["0"]["value"] == pytest.approx(79_500 / 81_920, abs=1e-3)
    assert (memory["0"]["verdict"], memory["1"]["verdict"]) == ("critical", "ok")
    latency, queue = readings(finding, "inference_latency"), readings(finding, "queue_length")
    assert latency["llm"]["verdict"] == "critical" and latency["embedder"]["verdict"] == "ok"
    assert (queue["llm"]["verdict"], queue["embedder"]["verdict"]) == ("critical", "ok")
    assert finding.summary.startswith("4 of 8 readings over threshold: utilisation 98% (gpu 0")
    assert "gpu 1" not in finding.summary and "embedder" not in finding.summary
    assert http_stub.requests[-1]["Authorization"] == f"Bearer {TOKEN}"


def test_a_healthy_ai_service_is_ok(prefect_api, http_stub):
    body = dcgm({0: (40, 10_000, 71_920)}) + inference({"llm": (0.3, 2)})
    finding = read_gpu_metrics(HttpEndpoint(url=serve(http_stub, body)))
    assert finding.status is FindingStatus.OK
    assert finding.summary == "All 4 GPU and inference readings within thresholds."
    assert finding.evidence["missing"] == []


def test_thresholds_come_from_parameters(prefect_api, http_stub):
    body = dcgm({0: (80, 10_000, 71_920)}) + inference({"llm": (0.3, 2)})
    strict = GpuThresholds(utilization_warn=70, utilization_critical=90)
    finding = read_gpu_metrics(HttpEndpoint(url=serve(http_stub, body)), thresholds=strict)
    assert finding.status is FindingStatus.WARNING
    assert "utilisation 80% (gpu 0 on gpu-node-1)" in finding.summary


def test_other_metric_names_and_a_summary_latency_are_read(prefect_api, http_stub):
    registry = CollectorRegistry()
    Gauge("vllm:num_requests_waiting", "Waiting", registry=registry).set(12)
    body = generate_latest(registry).decode()
    # prometheus_client's Summary exports no quantiles; servers that compute them write this
    body += "# TYPE llm_latency_seconds summary\n"
    body += 'llm_latency_seconds{quantile="0.5"} 0.8\nllm_latency_seconds{quantile="0.99"} 6.5\n'
    body += "llm_latency_seconds_count 10\nllm_latency_seconds_sum 12\n"
    names = GpuMetricNames(
        queue_length="vllm:num_requests_waiting", inference_latency="llm_latency_seconds"
    )
    finding = read_gpu_metrics(HttpEndpoint(url=serve(http_stub, body)), names=names)
    assert finding.status is FindingStatus.CRITICAL
    [latency_reading] = [
        r for r in finding.evidence["readings"] if r["metric"] == "inference_latency"
    ]
    assert latency_reading["value"] == 6.5 and latency_reading["basis"].startswith("the summary")
    assert "queue length 12" in finding.summary
    assert "Not exported: DCGM_FI_DEV_GPU_UTIL, DCGM_FI_DEV_FB_USED" in finding.summary


def test_a_page_without_any_configured_metric_says_no_data(prefect_api, http_stub):
    registry = CollectorRegistry()
    Gauge("process_open_fds", "fds", registry=registry).set(12)
    finding = read_gpu_metrics(
        HttpEndpoint(url=serve(http_stub, generate_latest(registry).decode()))
    )
    assert finding.status is FindingStatus.WARNING
    assert finding.summary.startswith("No data:")
    assert "DCGM_FI_DEV_GPU_UTIL" in finding.evidence["missing"]


def test_a_page_that_is_not_the_text_format_is_a_permanent_error(prefect_api, http_stub):
    url = http_stub.reply("/metrics", body="<html>login</html>", content_type="text/html")
    finding = quick(read_gpu_metrics)(HttpEndpoint(url=url))
    assert finding.status is FindingStatus.UNREACHABLE
    assert "did not answer the Prometheus text format" in finding.summary
    assert finding.evidence["attempts"] == 1


@pytest.mark.parametrize("failure", ["500", "hang", "closed"])
def test_a_metrics_page_that_cannot_be_read_is_unreachable_without_the_token(
    prefect_api, http_stub, closed_port, failure
):
    if failure == "closed":
        url = f"http://127.0.0.1:{closed_port}/metrics"
    else:
        url = http_stub.reply("/metrics", status=500, body="oops", hang=failure == "hang")
    target = HttpEndpoint(url=url, bearer_token=TOKEN, timeout_seconds=0.3)
    finding = quick(read_gpu_metrics)(target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert finding.evidence["attempts"] == 4 and finding.evidence["transient"] is True
    assert TOKEN not in finding.model_dump_json()


def test_histogram_quantile_interpolates_like_prometheus():
    buckets = [(0.1, 50.0), (0.5, 90.0), (1.0, 100.0), (math.inf, 100.0)]
    assert histogram_quantile(0.5, buckets) == pytest.approx(0.1)
    assert histogram_quantile(0.7, buckets) == pytest.approx(0.3)
    assert histogram_quantile(0.99, [(1.0, 0.0), (math.inf, 10.0)]) == 1.0
    assert math.isnan(histogram_quantile(0.99, [(1.0, 0.0), (math.inf, 0.0)]))
