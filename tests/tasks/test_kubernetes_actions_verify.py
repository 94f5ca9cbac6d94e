"""The verification checks on the real kube-apiserver, as the worker's ServiceAccount: each
is not ok while the fault is there and ok once the mitigation really took effect."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus, utcnow
from tasks.kubernetes_actions import patch_container_limits, rollback_deployment
from tasks.kubernetes_verify import (
    crash_loop_ended,
    endpoints_ready,
    no_new_oom_kills,
    rollout_complete,
)
from tests.fixtures.k8s_audit import wait_for
from tests.fixtures.k8s_plans import approved, limits_plan, rollback_plan
from tests.fixtures.k8s_targets import Responder, Workloads, container, deployment

pytestmark = [pytest.mark.kubernetes, pytest.mark.usefixtures("prefect_api")]


def _until_ok(check: Callable[[], Finding], what: str) -> Finding:
    """Sample as the resolve phase does, until the check says ok."""
    return wait_for(what, lambda: (f := check()).status is FindingStatus.OK and f)


def _service(w: Workloads, name: str, app: str) -> None:
    w.core.create_namespaced_service(
        w.namespace,
        {"metadata": {"name": name}, "spec": {"selector": {"app": app}, "ports": [{"port": 80}]}},
    )


def test_rollout_complete_is_not_ok_during_a_bad_rollout_and_ok_once_rolled_back(
    workloads: Workloads, responder: Responder
) -> None:
    workloads.create(deployment("web", replicas=2))
    workloads.set_image("web", "busybox:1.37", revision="2")
    workloads.wait_rolled_out("web")
    workloads.set_image("web", "busybox:bad", revision="3")
    target = responder.target
    plan = rollback_plan(workloads, target, "web", to_revision="2")
    pinned = {"web": plan.items[0]["template_hash"]}

    during = rollout_complete(target, ["web"], template_hashes=pinned)
    assert during.status is FindingStatus.CRITICAL
    assert "expected" in during.evidence["deployments"][0]["why"]
    assert rollout_complete(target, ["web"]).status is FindingStatus.WARNING  # still rolling

    rollback_deployment(target, plan, approved(plan))
    after = _until_ok(
        lambda: rollout_complete(target, ["web"], template_hashes=pinned), "web rolled back"
    )
    [row] = after.evidence["deployments"]
    assert row["template_hash"] == pinned["web"]
    assert row["updated"] == row["available"] == row["desired"] == 2


def test_rollout_complete_says_a_missing_deployment_is_critical(
    workloads: Workloads, responder: Responder
) -> None:
    finding = rollout_complete(responder.target, ["nowhere"])
    assert finding.status is FindingStatus.CRITICAL
    assert "no such deployment" in finding.summary


def test_no_new_oom_kills_is_critical_while_oom_killed_and_ok_under_the_raised_limit(
    workloads: Workloads, responder: Responder
) -> None:
    cache = container("cache", resources={"limits": {"memory": "64Mi"}})
    workloads.create(
        deployment("cache", [cache], annotations={"fake-kubelet/usage": "memory=100Mi"})
    )
    target = responder.target
    first = wait_for(
        "an OOM kill seen",
        lambda: (
            (f := no_new_oom_kills(target, ["cache"], since=utcnow() - timedelta(hours=1))).status
            is FindingStatus.CRITICAL
            and f
        ),
    )
    assert first.evidence["oom_killed"][0]["container"] == "cache"
    [pod] = workloads.pods("cache")
    restarts = sum(cs.restart_count for cs in pod.status.container_statuses)
    later = utcnow() + timedelta(hours=1)  # no kill finished after this: the baseline decides
    above = no_new_oom_kills(
        target, ["cache"], since=later, restart_baseline={pod.metadata.name: restarts - 1}
    )
    assert above.status is FindingStatus.CRITICAL
    wait_for(  # the fake node restarts it every 10 s: the baseline is passed, not just met
        "the restarts above the baseline seen",
        lambda: (
            no_new_oom_kills(
                target, ["cache"], since=later, restart_baseline={pod.metadata.name: restarts}
            ).status
            is FindingStatus.CRITICAL
        ),
    )

    plan = limits_plan(workloads, target, "cache", "cache", "128Mi")
    patch_container_limits(target, plan, approved(plan))
    fixed_at = utcnow()
    after = _until_ok(
        lambda: no_new_oom_kills(target, ["cache"], since=fixed_at), "no OOM kill since the fix"
    )
    assert after.evidence["pods"] == 1 and after.evidence["oom_killed"] == []


def test_crash_loop_ended_is_critical_while_crash_looping_and_ok_once_recovered(
    workloads: Workloads, responder: Responder
) -> None:
    workloads.create(deployment("worker", annotations={"fake-kubelet/fail": "crash"}))
    target = responder.target
    looping = wait_for(
        "the crash loop seen",
        lambda: (
            (f := crash_loop_ended(target, ["worker"], between_reads_seconds=0.5)).status
            is FindingStatus.CRITICAL
            and f
        ),
    )
    assert looping.evidence["crash_looping"][0]["reasons"] == ["CrashLoopBackOff"]

    [pod] = workloads.pods("worker")  # the pod itself recovers when its fault is removed
    workloads.core.patch_namespaced_pod(
        pod.metadata.name,
        workloads.namespace,
        {"metadata": {"annotations": {"fake-kubelet/fail": "none"}}},
    )
    ended = _until_ok(
        lambda: crash_loop_ended(target, ["worker"], between_reads_seconds=0.5), "recovered"
    )
    assert ended.evidence["restarted"] == [] and ended.evidence["pods"] == 1


def test_endpoints_ready_needs_a_ready_address_behind_each_service(
    workloads: Workloads, responder: Responder
) -> None:
    workloads.create(deployment("web"))
    workloads.create(deployment("api", annotations={"fake-kubelet/ready": "false"}))
    _service(workloads, "web", "web")
    _service(workloads, "api", "api")
    target = responder.target

    web = _until_ok(lambda: endpoints_ready(target, ["web"]), "web's endpoint ready")
    assert web.evidence["services"][0]["ready"] == 1
    wait_for(
        "api's pod listed as not ready",
        lambda: endpoints_ready(target, ["api"]).evidence["services"][0]["not_ready"] == 1,
    )
    both = endpoints_ready(target, ["web", "api", "gone"])
    assert both.status is FindingStatus.CRITICAL
    assert [r["why"] for r in both.evidence["services"]][1:] == [
        "0 ready, 1 not ready",
        "no such service",
    ]


def test_a_cluster_that_does_not_answer_is_an_unreachable_finding(tmp_path) -> None:  # type: ignore[no-untyped-def]
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        '{"apiVersion": "v1", "kind": "Config", "current-context": "x",'
        ' "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:9"}}],'
        ' "users": [{"name": "x", "user": {"token": "t0ken-never-shown"}}],'
        ' "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}]}'
    )
    target = KubernetesTarget(kubeconfig_path=str(kubeconfig), namespace="shop")
    finding = endpoints_ready(target, ["web"])
    assert finding.status is FindingStatus.UNREACHABLE
    assert "t0ken-never-shown" not in finding.model_dump_json()
