"""get_deployment_status against a real kube-apiserver: what it finds, and how it fails."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.kubernetes import get_deployment_status
from tests.fixtures.kubernetes import SeededCluster

pytestmark = pytest.mark.usefixtures("prefect_api")

FAST = {"retries": 1, "retry_delay_seconds": 0}


def by_name(finding: Finding) -> dict[str, dict[str, Any]]:
    return {d["name"]: d for d in finding.evidence["deployments"]}


def problem(finding: Finding, deployment: str) -> dict[str, Any]:
    [pod] = [p for p in finding.evidence["problem_pods"] if p["deployment"] == deployment]
    return pod


@pytest.fixture(scope="module")
def finding(seeded_cluster: SeededCluster, prefect_api: None) -> Finding:
    target = KubernetesTarget(
        kubeconfig_path=seeded_cluster.kubeconfig, namespace=seeded_cluster.namespace
    )
    return get_deployment_status(target, **FAST)


@pytest.mark.kubernetes
def test_healthy_deployment_reports_every_replica_available_on_revision_2(
    finding: Finding, seeded_cluster: SeededCluster
) -> None:
    web = by_name(finding)[seeded_cluster.healthy]
    assert web["health"] == "ok"
    assert (web["desired"], web["ready"], web["updated"], web["available"]) == (2, 2, 2, 2)
    assert web["revision"] == "2"
    assert web["images"] == [seeded_cluster.healthy_image]
    assert web["rollout"] == "complete"
    assert not [p for p in finding.evidence["problem_pods"] if p["deployment"] == "web"]


@pytest.mark.kubernetes
def test_crash_looping_pod_is_named_with_its_reason_and_restarts(
    finding: Finding, seeded_cluster: SeededCluster
) -> None:
    worker = by_name(finding)[seeded_cluster.crashing]
    assert worker["health"] == "down"
    assert worker["available"] == 0
    pod = problem(finding, seeded_cluster.crashing)
    assert pod["reason"] == "CrashLoopBackOff"
    assert pod["restarts"] >= 1
    assert pod["containers"][0]["last_terminated_reason"] == "Error"


@pytest.mark.kubernetes
def test_oom_killed_container_is_reported_as_oomkilled_not_just_a_crash_loop(
    finding: Finding, seeded_cluster: SeededCluster
) -> None:
    pod = problem(finding, seeded_cluster.oom_killed)
    assert pod["reason"] == "OOMKilled"
    assert pod["containers"][0]["last_exit_code"] == 137
    assert by_name(finding)[seeded_cluster.oom_killed]["problem_reasons"] == ["OOMKilled"]


@pytest.mark.kubernetes
def test_running_but_unready_pod_is_reported_not_ready(
    finding: Finding, seeded_cluster: SeededCluster
) -> None:
    pod = problem(finding, seeded_cluster.not_ready)
    assert (pod["phase"], pod["ready"], pod["reason"]) == ("Running", False, "NotReady")


@pytest.mark.kubernetes
def test_deployment_with_no_available_replica_makes_the_finding_critical(
    finding: Finding, seeded_cluster: SeededCluster
) -> None:
    assert finding.status is FindingStatus.CRITICAL
    assert finding.check == "deployment_status"
    for name in (seeded_cluster.crashing, seeded_cluster.oom_killed, seeded_cluster.not_ready):
        assert name in finding.summary
    assert f"{seeded_cluster.healthy} " not in finding.summary


@pytest.mark.kubernetes
def test_deployment_with_some_replicas_crash_looping_alone_is_a_warning(
    seeded_cluster: SeededCluster,
) -> None:
    if not seeded_cluster.fake_node:
        pytest.skip(
            f"{seeded_cluster.degraded} (one of two pods crash-looping) is seeded only on the "
            "fake kubelet: one pod is made to crash by an annotation only the fake kubelet honours"
        )
    target = KubernetesTarget(
        kubeconfig_path=seeded_cluster.kubeconfig,
        namespace=seeded_cluster.namespace,
        workloads=[seeded_cluster.degraded],
    )
    finding = get_deployment_status(target, **FAST)
    assert finding.status is FindingStatus.WARNING
    search = by_name(finding)[seeded_cluster.degraded]
    assert (search["health"], search["available"], search["desired"]) == ("degraded", 1, 2)
    assert problem(finding, seeded_cluster.degraded)["reason"] == "CrashLoopBackOff"
    assert "search 1/2 available (CrashLoopBackOff)" in finding.summary


@pytest.mark.kubernetes
def test_recent_warning_events_come_newest_first(finding: Finding) -> None:
    events = finding.evidence["warning_events"]
    assert {"BackOff", "Unhealthy"} <= {e["reason"] for e in events}
    seen = [e["last_seen"] for e in events]
    assert seen == sorted(seen, reverse=True)


@pytest.mark.kubernetes
def test_workloads_filter_limits_the_check_to_the_named_deployments(
    seeded_cluster: SeededCluster,
) -> None:
    target = KubernetesTarget(
        kubeconfig_path=seeded_cluster.kubeconfig,
        namespace=seeded_cluster.namespace,
        workloads=[seeded_cluster.healthy],
    )
    finding = get_deployment_status(target, **FAST)
    assert finding.status is FindingStatus.OK
    assert list(by_name(finding)) == [seeded_cluster.healthy]
    assert finding.evidence["problem_pods"] == []
    objects = [e["object"] for e in finding.evidence["warning_events"]]
    assert all(o.split("/")[1].startswith("web") for o in objects), objects


@pytest.mark.kubernetes
def test_watched_deployment_that_does_not_exist_is_critical(
    seeded_cluster: SeededCluster,
) -> None:
    target = KubernetesTarget(
        kubeconfig_path=seeded_cluster.kubeconfig,
        namespace=seeded_cluster.namespace,
        workloads=[seeded_cluster.healthy, "payments"],
    )
    finding = get_deployment_status(target, **FAST)
    assert finding.status is FindingStatus.CRITICAL
    assert finding.evidence["missing"] == ["payments"]
    assert "payments not found" in finding.summary


@pytest.mark.kubernetes
def test_service_account_without_list_deployments_gets_a_finding_naming_the_permission(
    seeded_cluster: SeededCluster,
    service_account_kubeconfig: Callable[[str, list[dict[str, Any]]], str],
) -> None:
    kubeconfig = service_account_kubeconfig(
        seeded_cluster.namespace,
        [{"apiGroups": [""], "resources": ["pods", "events"], "verbs": ["get", "list"]}],
    )
    target = KubernetesTarget(kubeconfig_path=kubeconfig, namespace=seeded_cluster.namespace)
    finding = get_deployment_status(target, retries=3, retry_delay_seconds=5)
    assert finding.status is FindingStatus.UNREACHABLE
    assert finding.evidence["attempts"] == 1, "a 403 is permanent: it must not be retried"
    assert finding.evidence["http_status"] == 403
    assert "grant get/list on deployments" in finding.summary
    assert 'apiGroup "apps"' in finding.summary
    token = json.loads(Path(kubeconfig).read_text())["users"][0]["user"]["token"]
    assert token not in finding.model_dump_json()


def test_closed_port_yields_unreachable_quickly_instead_of_raising(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "closed-port"
    kubeconfig.write_text(
        json.dumps(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "current-context": "gone",
                "clusters": [
                    {
                        "name": "gone",
                        "cluster": {
                            "server": "https://127.0.0.1:1",
                            "insecure-skip-tls-verify": True,
                        },
                    }
                ],
                "users": [{"name": "gone", "user": {"token": "fb-closed-port-token"}}],
                "contexts": [{"name": "gone", "context": {"cluster": "gone", "user": "gone"}}],
            }
        )
    )
    target = KubernetesTarget(kubeconfig_path=str(kubeconfig), namespace="production")
    finding = get_deployment_status(target, **FAST)
    assert finding.status is FindingStatus.UNREACHABLE
    assert "Kubernetes API at https://127.0.0.1:1 unreachable" in finding.summary
    assert "check the kubeconfig/context" in finding.summary
    assert finding.evidence["attempts"] == 2
    assert "fb-closed-port-token" not in finding.model_dump_json()


def test_missing_kubeconfig_of_a_saved_block_is_unreachable_and_names_the_block(
    tmp_path: Path,
) -> None:
    name = f"fb-test-missing-{secrets.token_hex(3)}"
    KubernetesTarget(kubeconfig_path=str(tmp_path / "nowhere"), namespace="production").save(name)
    finding = get_deployment_status(KubernetesTarget.load(name), **FAST)
    assert finding.status is FindingStatus.UNREACHABLE
    assert f"block '{name}'" in finding.summary
    assert finding.evidence["transient"] is False
    assert finding.evidence["attempts"] == 1
