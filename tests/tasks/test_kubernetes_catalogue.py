"""The Kubernetes diagnostics catalogue (issue 7 §2) against the real kube-apiserver, run as
the worker's shipped Role: Warning events, HPAs at their maximum, Ingress backends and
resource usage. Healthy objects sit beside the broken ones and must not be flagged."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.kubernetes_events import read_warning_events
from tasks.kubernetes_ingress import read_ingress_backends
from tasks.kubernetes_reads import read_pod_usage
from tasks.kubernetes_scaling_reads import read_hpa_limits
from tasks.kubernetes_usage import read_resource_usage
from tests.fixtures.k8s_catalogue import Catalogue, seed
from tests.xdist_groups import CLUSTER_NODES

pytestmark = [
    pytest.mark.kubernetes,
    pytest.mark.usefixtures("prefect_api"),
    pytest.mark.xdist_group(CLUSTER_NODES),
]


def run(check: Any, target: KubernetesTarget, **kwargs: Any) -> Finding:
    # the decorator's own 3 retries, without their backoff (fewer retries through
    # with_options would make the last attempt raise instead of returning its finding)
    return check.with_options(retry_delay_seconds=0, retry_jitter_factor=0)(target, **kwargs)


@pytest.fixture(scope="module")
def catalogue(
    kube_config_path: str, kube_admin: client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Catalogue]:
    core = client.CoreV1Api(kube_admin)
    ns = f"fb-cat-{secrets.token_hex(4)}"
    core.create_namespace({"metadata": {"name": ns, "labels": {"firebreak.dev/test": "true"}}})
    try:
        yield seed(kube_admin, kube_config_path, ns, tmp_path_factory.mktemp("catalogue"))
    finally:
        core.delete_namespace(ns, propagation_policy="Background")


def assert_clean(finding: Finding, cat: Catalogue) -> None:
    assert cat.token not in finding.model_dump_json()


# ------------------------------------------------------------------------- warning events


@pytest.fixture(scope="module")
def events(catalogue: Catalogue, prefect_api: None) -> Finding:
    return run(read_warning_events, catalogue.worker)


def test_warning_events_of_the_window_come_newest_first(events: Finding, catalogue: Catalogue):
    assert events.status is FindingStatus.WARNING
    rows = events.evidence["events"]
    seen = [datetime.fromisoformat(r["last_seen"]) for r in rows]
    assert seen == sorted(seen, reverse=True)
    [seeded] = [r for r in rows if r["reason"] == catalogue.recent_event]
    assert seeded["object"] == "Pod/web-seeded"
    assert seeded["count"] == 3
    assert seeded["message"].startswith(catalogue.recent_event)
    backoff = [r for r in rows if r["reason"] == "BackOff"]  # written by the kubelet
    assert backoff and backoff[0]["object"].startswith("Pod/worker-")
    assert events.summary.startswith(f"{events.evidence['total']} Warning event(s)")
    assert f"newest: {rows[0]['reason']} on {rows[0]['object']}" in events.summary
    assert_clean(events, catalogue)


def test_normal_events_and_warnings_older_than_the_window_are_left_out(
    events: Finding, catalogue: Catalogue
):
    reasons = {r["reason"] for r in events.evidence["events"]}
    assert catalogue.old_event not in reasons
    assert catalogue.normal_event not in reasons
    assert not {"Scheduled", "Pulled", "Started"} & reasons


def test_a_wider_window_reaches_the_older_warning(catalogue: Catalogue):
    finding = run(read_warning_events, catalogue.worker, window=timedelta(hours=4))
    assert catalogue.old_event in finding.evidence["reasons"]


def test_watched_workloads_narrow_the_events_to_theirs(catalogue: Catalogue):
    target = catalogue.worker.model_copy(update={"workloads": ["worker"]})
    finding = run(read_warning_events, target)
    objects = {r["object"] for r in finding.evidence["events"]}
    assert objects and all(o.startswith("Pod/worker-") for o in objects)


def test_a_quiet_window_is_ok(catalogue: Catalogue):
    target = catalogue.worker.model_copy(update={"workloads": ["hog"]})  # only Normal events
    finding = run(read_warning_events, target)
    assert finding.status is FindingStatus.OK
    assert finding.summary == (
        f"no Warning event in namespace '{catalogue.namespace}' in the last 60 min"
    )


# --------------------------------------------------------------------------------- HPA


@pytest.fixture(scope="module")
def hpas(catalogue: Catalogue, prefect_api: None) -> Finding:
    return run(read_hpa_limits, catalogue.worker)


def test_hpa_at_its_maximum_cannot_scale_further(hpas: Finding):
    assert hpas.status is FindingStatus.WARNING
    assert hpas.evidence["at_max"] == ["busy"]
    busy = {r["name"]: r for r in hpas.evidence["hpas"]}["busy"]
    assert (busy["current_replicas"], busy["max_replicas"]) == (2, 2)
    assert busy["target"] == "Deployment/busy"
    assert "cannot scale further" in hpas.summary
    assert "busy (Deployment/busy) at 2/2 replicas" in hpas.summary


def test_hpa_with_room_to_grow_is_not_flagged(hpas: Finding):
    calm = {r["name"]: r for r in hpas.evidence["hpas"]}["calm"]
    assert calm["at_max"] is False
    assert (calm["current_replicas"], calm["max_replicas"]) == (1, 4)
    assert calm["cpu_percent"] is not None and calm["cpu_percent"] < 80
    assert "calm" not in hpas.summary


def test_hpa_conditions_from_the_controller_are_evidence(hpas: Finding):
    busy = {r["name"]: r for r in hpas.evidence["hpas"]}["busy"]
    types = {c["type"] for c in busy["conditions"]}
    assert {"AbleToScale", "ScalingActive"} <= types


def test_only_the_watched_workloads_hpas_are_judged(catalogue: Catalogue):
    target = catalogue.worker.model_copy(update={"workloads": ["calm"]})
    finding = run(read_hpa_limits, target)
    assert finding.status is FindingStatus.OK
    assert [r["name"] for r in finding.evidence["hpas"]] == ["calm"]
    assert "each below its maximum replicas" in finding.summary


# ----------------------------------------------------------------------------- Ingress


@pytest.fixture(scope="module")
def ingresses(catalogue: Catalogue, prefect_api: None) -> Finding:
    return run(read_ingress_backends, catalogue.worker)


def backends(finding: Finding, ingress: str) -> dict[str, dict[str, Any]]:
    return {r["path"]: r for r in finding.evidence["backends"] if r["ingress"] == ingress}


def test_ingress_backend_without_ready_endpoints_is_critical(ingresses: Finding):
    assert ingresses.status is FindingStatus.CRITICAL
    api = backends(ingresses, "shop")["/api"]
    assert (api["service"], api["exists"], api["ready"], api["not_ready"]) == ("api", True, 0, 1)
    assert api["problem"] == "service api has no ready endpoint (1 not ready)"
    assert "shop shop.example.test/api: service api has no ready endpoint" in ingresses.summary


def test_ingress_backend_naming_a_missing_service_is_critical(ingresses: Finding):
    gone = backends(ingresses, "legacy")["/"]
    assert gone["exists"] is False
    assert gone["problem"] == "service gone does not exist"
    assert "legacy legacy.example.test/: service gone does not exist" in ingresses.summary


def test_ingress_backends_with_ready_endpoints_are_not_flagged(ingresses: Finding):
    web = backends(ingresses, "shop")["/"]
    assert (web["service"], web["ready"], web["problem"]) == ("web", 2, None)
    site = backends(ingresses, "site")
    assert set(site) == {"(default)", "/"}
    assert all(r["problem"] is None for r in site.values())
    assert sorted(ingresses.evidence["broken"]) == ["legacy:gone", "shop:api"]
    assert "site" not in ingresses.summary
    assert ingresses.summary.startswith("2 of 5 Ingress backend(s)")


# ------------------------------------------------------------------------------- usage


@pytest.fixture(scope="module")
def usage(catalogue: Catalogue, prefect_api: None) -> Finding:
    return run(read_resource_usage, catalogue.admin_target)


def test_pod_near_its_memory_limit_is_a_warning_and_idle_pods_are_not(usage: Finding):
    assert usage.status is FindingStatus.WARNING
    [hog] = usage.evidence["hot_pods"]
    assert hog.startswith("hog-")
    row = next(r for r in usage.evidence["pods"] if r["pod"] == hog)
    assert row["memory_bytes"] == 95 * 2**20
    assert row["memory_limit_bytes"] == 100 * 2**20
    assert row["memory_ratio"] == 0.95
    assert f"pod {hog} at 95% of its memory limit" in usage.summary
    calm = [r for r in usage.evidence["pods"] if r["pod"].startswith("calm-")]
    assert calm and calm[0]["memory_ratio"] is None  # no limit: nothing to be near
    busy = [r for r in usage.evidence["pods"] if r["pod"].startswith("busy-")]
    assert busy and all(r["cpu_millicores"] == 500 for r in busy)


def test_node_usage_is_measured_against_allocatable(usage: Finding):
    nodes = {r["node"]: r for r in usage.evidence["nodes"]}
    node = nodes["fake-node-1"]  # 32 CPU, 128Gi: far from full
    assert node["cpu_ratio"] is not None and node["cpu_ratio"] < 0.9
    assert node["memory_ratio"] is not None and node["memory_ratio"] < 0.9
    assert usage.evidence["hot_nodes"] == []


def test_the_worker_role_reads_pod_usage_and_says_node_usage_needs_a_cluster_role(
    catalogue: Catalogue,
):
    finding = run(read_resource_usage, catalogue.worker)
    assert finding.status is FindingStatus.WARNING  # hog, from the namespaced pod metrics
    assert finding.evidence["nodes"] == []
    assert "firebreak-node-metrics ClusterRole" in finding.summary
    assert_clean(finding, catalogue)


def test_a_metrics_api_the_cluster_does_not_serve_is_skipped_not_unreachable(
    catalogue: Catalogue,
):
    # metrics.k8s.io/v1 exists nowhere: the real apiserver answers it as it answers every
    # metrics.k8s.io request on a cluster without metrics-server (404)
    finding = run(read_resource_usage, catalogue.worker, metrics_version="v1")
    assert finding.status is FindingStatus.SKIPPED
    assert finding.summary.startswith("metrics API not available")
    assert finding.evidence == {"http_status": 404, "api": "metrics.k8s.io/v1"}


def test_pod_usage_on_a_cluster_without_that_metrics_api_is_skipped_not_unreachable(
    catalogue: Catalogue,
):
    finding = run(read_pod_usage, catalogue.worker, metrics_version="v1")
    assert finding.status is FindingStatus.SKIPPED, finding.summary
    assert finding.evidence["http_status"] == 404 and finding.evidence["containers"] == []
