"""Node conditions against the real kube-apiserver, and how every catalogue check fails.

The fake kubelet's node is always Ready; the broken nodes are real Node objects beside it,
registered through the API as a kubelet registers its own (status included), their
heartbeat renewed before each read so the node lifecycle controller does not turn their
conditions Unknown underneath the test.
"""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import kmock as km
import pytest
import yaml
from kubernetes import client
from kubernetes.client.rest import ApiException

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.kubernetes_events import read_warning_events
from tasks.kubernetes_ingress import read_ingress_backends
from tasks.kubernetes_nodes import NODE_RBAC_MANIFEST, read_node_conditions
from tasks.kubernetes_scaling_reads import read_hpa_limits
from tasks.kubernetes_usage import read_resource_usage
from tests.fixtures.k8s_audit import wait_for
from tests.fixtures.k8s_catalogue import worker_identity
from tests.xdist_groups import CLUSTER_NODES

pytestmark = [pytest.mark.usefixtures("prefect_api"), pytest.mark.xdist_group(CLUSTER_NODES)]

REPO = Path(__file__).resolve().parents[2]
CHECKS = [
    read_warning_events,
    read_node_conditions,
    read_hpa_limits,
    read_ingress_backends,
    read_resource_usage,
]


def run(check: Any, target: KubernetesTarget) -> Finding:
    # the decorator's own 3 retries, without their backoff (fewer retries through
    # with_options would make the last attempt raise instead of returning its finding)
    return check.with_options(retry_delay_seconds=0, retry_jitter_factor=0)(target)


def _conditions(ready: str, ready_reason: str, **pressure: str) -> list[dict[str, Any]]:
    t = datetime.now(UTC).isoformat()

    def c(kind: str, status: str, reason: str) -> dict[str, Any]:
        return {
            "type": kind,
            "status": status,
            "reason": reason,
            "message": f"{kind} {status} (seeded by the catalogue test)",
            "lastHeartbeatTime": t,
            "lastTransitionTime": t,
        }

    return [
        c("Ready", ready, ready_reason),
        *(
            c(kind, pressure.get(kind, "False"), f"Seeded{kind}")
            for kind in ("MemoryPressure", "DiskPressure", "PIDPressure")
        ),
    ]


SEEDED = {  # node suffix -> its conditions
    "down": lambda: _conditions("False", "KubeletNotReady"),
    "pressed": lambda: _conditions("True", "KubeletReady", MemoryPressure="True"),
    "fine": lambda: _conditions("True", "KubeletReady"),
}


@pytest.fixture(scope="module")
def nodes(kube_admin: client.ApiClient) -> Iterator[Callable[[], dict[str, str]]]:
    """Three extra Nodes (NotReady, MemoryPressure, healthy); returns a refresher that
    re-posts their status with a fresh heartbeat and gives {suffix: node name}."""
    core = client.CoreV1Api(kube_admin)
    prefix = f"fb-node-{secrets.token_hex(3)}"
    names = {suffix: f"{prefix}-{suffix}" for suffix in SEEDED}
    for suffix, name in names.items():
        core.create_node(
            {
                "metadata": {"name": name, "labels": {"firebreak.dev/test": "true"}},
                "status": {
                    "conditions": SEEDED[suffix](),
                    "capacity": {"cpu": "4", "memory": "8Gi", "pods": "10"},
                    "allocatable": {"cpu": "4", "memory": "8Gi", "pods": "10"},
                },
            }
        )

    def refresh() -> dict[str, str]:
        for suffix, name in names.items():
            core.patch_node_status(name, {"status": {"conditions": SEEDED[suffix]()}})
        return names

    try:
        yield refresh
    finally:
        for name in names.values():
            try:
                core.delete_node(name)
            except ApiException as exc:
                if exc.status != 404:
                    raise


@pytest.fixture(scope="module")
def namespace(kube_admin: client.ApiClient) -> Iterator[str]:
    core = client.CoreV1Api(kube_admin)
    ns = f"fb-nodes-{secrets.token_hex(4)}"
    core.create_namespace({"metadata": {"name": ns, "labels": {"firebreak.dev/test": "true"}}})
    try:
        yield ns
    finally:
        core.delete_namespace(ns, propagation_policy="Background")


@pytest.fixture(scope="module")
def worker(
    kube_admin: client.ApiClient, namespace: str, tmp_path_factory: pytest.TempPathFactory
) -> tuple[KubernetesTarget, str]:
    return worker_identity(kube_admin, namespace, tmp_path_factory.mktemp("nodes") / "kubeconfig")


@pytest.mark.kubernetes
def test_not_ready_node_is_critical_pressure_a_warning_and_healthy_nodes_are_not_flagged(
    kube_config_path: str, nodes: Callable[[], dict[str, str]]
) -> None:
    names = nodes()
    target = KubernetesTarget(kubeconfig_path=kube_config_path, namespace="default")
    finding = run(read_node_conditions, target)
    assert finding.status is FindingStatus.CRITICAL
    rows = {r["name"]: r for r in finding.evidence["nodes"]}
    down, pressed, fine = rows[names["down"]], rows[names["pressed"]], rows[names["fine"]]
    assert (down["ready"], down["ready_reason"]) == ("False", "KubeletNotReady")
    assert (pressed["ready"], pressed["pressure"]) == ("True", ["MemoryPressure"])
    assert set(pressed["conditions"]) == {"Ready", "MemoryPressure", "DiskPressure", "PIDPressure"}
    assert pressed["conditions"]["MemoryPressure"]["reason"] == "SeededMemoryPressure"
    for healthy in (fine, rows["fake-node-1"]):
        assert (healthy["ready"], healthy["pressure"]) == ("True", [])
    assert names["down"] in finding.evidence["not_ready"]
    assert names["pressed"] in finding.evidence["under_pressure"]
    flagged = set(finding.evidence["not_ready"]) | set(finding.evidence["under_pressure"])
    assert not {names["fine"], "fake-node-1"} & flagged
    assert f"{names['down']} not Ready (False: KubeletNotReady)" in finding.summary
    assert f"{names['pressed']} under MemoryPressure" in finding.summary
    assert names["fine"] not in finding.summary


@pytest.mark.kubernetes
def test_the_namespaced_worker_role_gets_a_skipped_finding_naming_the_cluster_role(
    worker: tuple[KubernetesTarget, str],
) -> None:
    target, token = worker
    finding = run(read_node_conditions, target)
    assert finding.status is FindingStatus.SKIPPED
    assert finding.evidence["http_status"] == 403
    assert NODE_RBAC_MANIFEST in finding.summary
    assert 'resources ["nodes"], verbs ["get", "list"]' in finding.summary
    assert finding.evidence["rbac_needed"]["kind"] == "ClusterRole"
    assert token not in finding.model_dump_json()


@pytest.mark.kubernetes
def test_the_optional_cluster_role_lets_the_worker_read_node_conditions(
    kube_admin: client.ApiClient,
    worker: tuple[KubernetesTarget, str],
    namespace: str,
    nodes: Callable[[], dict[str, str]],
) -> None:
    target, _ = worker
    rbac = client.RbacAuthorizationV1Api(kube_admin)
    suffix = secrets.token_hex(3)
    docs = [d for d in yaml.safe_load_all((REPO / NODE_RBAC_MANIFEST).read_text()) if d]
    role = next(d for d in docs if d["kind"] == "ClusterRole")
    binding = next(d for d in docs if d["kind"] == "ClusterRoleBinding")
    role["metadata"]["name"] = binding["roleRef"]["name"] = f"firebreak-node-reader-{suffix}"
    binding["metadata"]["name"] = f"firebreak-node-reader-{suffix}"
    binding["subjects"] = [{"kind": "ServiceAccount", "name": "firebreak", "namespace": namespace}]
    rbac.create_cluster_role(role)
    rbac.create_cluster_role_binding(binding)
    try:
        names = nodes()
        finding = wait_for(
            "the ClusterRole to take effect",
            lambda: (
                (f := run(read_node_conditions, target)).status is not FindingStatus.SKIPPED and f
            ),
            timeout=30,
        )
        assert finding.status is FindingStatus.CRITICAL
        assert names["down"] in finding.evidence["not_ready"]
    finally:
        rbac.delete_cluster_role_binding(binding["metadata"]["name"])
        rbac.delete_cluster_role(role["metadata"]["name"])


# ------------------------------------------------------------------------- unreachable


def _kubeconfig(path: Path, server: str, token: str) -> Path:
    cluster: dict[str, Any] = {"server": server}
    if server.startswith("https"):
        cluster["insecure-skip-tls-verify"] = True
    path.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "gone",
                "clusters": [{"name": "gone", "cluster": cluster}],
                "users": [{"name": "gone", "user": {"token": token}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}],
            }
        )
    )
    return path


@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
def test_closed_port_is_unreachable_for_every_check_without_the_token(
    check: Any, tmp_path: Path
) -> None:
    token = f"fb-closed-{secrets.token_hex(8)}"
    target = KubernetesTarget(
        kubeconfig_path=str(_kubeconfig(tmp_path / "kc", "https://127.0.0.1:1", token)),
        namespace="production",
    )
    finding = run(check, target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert "Kubernetes API at https://127.0.0.1:1 unreachable" in finding.summary
    assert finding.evidence["attempts"] == 4
    assert token not in finding.model_dump_json()


SERVER_ERROR = {
    "apiVersion": "v1",
    "kind": "Status",
    "status": "Failure",
    "code": 500,
    "message": "etcdserver: request timed out",
}
FIRST_READ = {  # what each check lists first, as kmock names the resource
    "read_warning_events": "v1/events",
    "read_node_conditions": "v1/nodes",
    "read_hpa_limits": "autoscaling/v1/horizontalpodautoscalers",
    "read_ingress_backends": "networking.k8s.io/v1/ingresses",
    "read_resource_usage": "metrics.k8s.io/v1beta1/pods",
}


@pytest.mark.asyncio
@pytest.mark.parametrize("check", CHECKS, ids=lambda c: c.name)
async def test_api_answering_500_ends_unreachable_after_the_retries(
    check: Any, kmock: km.KubernetesEmulator, tmp_path: Path
) -> None:
    # the real apiserver does not fail on demand: kmock serves the 500 over real HTTP
    token = f"fb-kmock-{secrets.token_hex(8)}"
    kmock["list", km.resource(FIRST_READ[check.name])] << 500 << SERVER_ERROR
    target = KubernetesTarget(
        kubeconfig_path=str(_kubeconfig(tmp_path / "kc", str(kmock.url), token)),
        namespace="production",
        request_timeout_seconds=2,
    )
    finding = await asyncio.to_thread(run, check, target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert finding.evidence["http_status"] == 500
    assert finding.evidence["attempts"] == 4
    assert "answered 500" in finding.summary
    assert "etcdserver: request timed out" in finding.summary
    assert token not in finding.model_dump_json()
