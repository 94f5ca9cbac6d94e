"""API faults a real cluster will not produce on demand (5xx, hangs), injected with kmock.

kmock's emulator serves the Kubernetes API over real HTTP; the real `kubernetes` client and
the real Prefect task engine talk to it. The task runs in a thread because it is sync and the
emulator answers on this test's event loop.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path

import kmock as km
import pytest
import pytest_asyncio

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.kubernetes import get_deployment_status

pytestmark = [pytest.mark.asyncio, pytest.mark.usefixtures("prefect_api")]

NS = "production"
TOKEN = "fb-kmock-token-0123456789"
DEPLOYMENTS = km.resource("apps/v1/deployments")
SERVER_ERROR = {
    "apiVersion": "v1",
    "kind": "Status",
    "status": "Failure",
    "code": 500,
    "message": "etcdserver: request timed out",
}


@pytest_asyncio.fixture
async def emulated(kmock: km.KubernetesEmulator) -> AsyncIterator[km.KubernetesEmulator]:
    """The emulator holding one healthy deployment, its pod and one Warning event."""
    labels = {"app": "web"}
    kmock.objects["apps/v1/deployments", NS, "web"] = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": "web",
            "namespace": NS,
            "generation": 7,
            "annotations": {"deployment.kubernetes.io/revision": "7"},
        },
        "spec": {
            "replicas": 1,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "example/web:7"}]},
            },
        },
        "status": {
            "observedGeneration": 7,
            "replicas": 1,
            "readyReplicas": 1,
            "updatedReplicas": 1,
            "availableReplicas": 1,
        },
    }
    kmock.objects["v1/pods", NS, "web-1"] = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "web-1", "namespace": NS, "labels": labels},
        "spec": {"containers": [{"name": "web", "image": "example/web:7"}]},
        "status": {
            "phase": "Running",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "web",
                    "image": "example/web:7",
                    "imageID": "",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {}},
                }
            ],
        },
    }
    kmock.objects["v1/events", NS, "web-1.1"] = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "web-1.1", "namespace": NS},
        "involvedObject": {"kind": "Pod", "name": "web-1", "namespace": NS},
        "type": "Warning",
        "reason": "Unhealthy",
        "message": "Readiness probe failed: HTTP probe failed with statuscode: 503",
        "lastTimestamp": "2026-01-01T00:00:00Z",
        "count": 3,
    }
    yield kmock


@pytest.fixture
def kmock_target(emulated: km.KubernetesEmulator, tmp_path: Path) -> KubernetesTarget:
    kubeconfig = tmp_path / "kmock-kubeconfig"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "kmock",
                "clusters": [{"name": "kmock", "cluster": {"server": str(emulated.url)}}],
                "users": [{"name": "kmock", "user": {"token": TOKEN}}],
                "contexts": [{"name": "kmock", "context": {"cluster": "kmock", "user": "kmock"}}],
            }
        )
    )
    return KubernetesTarget(
        kubeconfig_path=str(kubeconfig), namespace=NS, request_timeout_seconds=0.5
    )


async def deployment_status(target: KubernetesTarget, retries: int) -> Finding:
    return await asyncio.to_thread(
        get_deployment_status, target, retries=retries, retry_delay_seconds=0
    )


async def test_two_server_errors_then_success_is_retried_into_a_finding(
    emulated: km.KubernetesEmulator, kmock_target: KubernetesTarget
) -> None:
    emulated["list", DEPLOYMENTS][:2] << 500 << SERVER_ERROR

    finding = await deployment_status(kmock_target, retries=2)

    assert finding.status is FindingStatus.OK
    [web] = finding.evidence["deployments"]
    assert (web["name"], web["revision"], web["available"]) == ("web", "7", 1)
    assert finding.evidence["warning_events"][0]["reason"] == "Unhealthy"
    assert len(emulated["list", DEPLOYMENTS]) == 3
    assert emulated["list", DEPLOYMENTS][0].headers["Authorization"] == f"Bearer {TOKEN}"


async def test_persistent_server_errors_end_unreachable_after_the_retries(
    emulated: km.KubernetesEmulator, kmock_target: KubernetesTarget
) -> None:
    emulated["list", DEPLOYMENTS] << 500 << SERVER_ERROR

    finding = await deployment_status(kmock_target, retries=2)

    assert finding.status is FindingStatus.UNREACHABLE
    assert len(emulated["list", DEPLOYMENTS]) == 3
    assert finding.evidence["http_status"] == 500
    assert finding.evidence["attempts"] == 3
    assert "answered 500" in finding.summary
    assert "etcdserver: request timed out" in finding.summary
    assert TOKEN not in finding.model_dump_json()


async def test_request_hanging_past_the_client_timeout_ends_unreachable(
    emulated: km.KubernetesEmulator, kmock_target: KubernetesTarget
) -> None:
    release = asyncio.Event()
    emulated["list", DEPLOYMENTS] << (lambda: release.wait())
    try:
        # The server never answers until released: only the client's timeout can end the
        # check. The outer deadline is a guard against a hang, not a speed target.
        finding = await asyncio.wait_for(deployment_status(kmock_target, retries=1), 120)
    finally:
        release.set()

    assert finding.status is FindingStatus.UNREACHABLE
    assert "timed out" in finding.summary
    assert finding.evidence["attempts"] == 2
    assert len(emulated["list", DEPLOYMENTS]) == 2
