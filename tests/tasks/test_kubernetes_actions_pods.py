"""delete_pod on the real kube-apiserver, as the worker's ServiceAccount: exactly the planned
pod (by uid) is deleted and replaced by its controller; its sibling and a newer pod of the
same name are never touched; the dry run really deletes nothing."""

from __future__ import annotations

import pytest
from kubernetes.client.rest import ApiException

from incident.models import ActionStatus
from tasks.kubernetes_actions import delete_pod
from tasks.kubernetes_pods import delete_options
from tests.fixtures.k8s_audit import wait_for
from tests.fixtures.k8s_plans import approved, delete_pod_plan
from tests.fixtures.k8s_targets import Responder, Workloads, container, deployment

pytestmark = [pytest.mark.kubernetes, pytest.mark.usefixtures("prefect_api")]


def _crash_looping(pod) -> bool:  # type: ignore[no-untyped-def]
    return any(
        cs.state.waiting and cs.state.waiting.reason == "CrashLoopBackOff"
        for cs in pod.status.container_statuses or []
    )


@pytest.fixture
def one_bad_pod(workloads: Workloads) -> tuple[str, str]:
    """``search`` with two pods, one of them crash-looping: (bad pod, healthy sibling)."""
    workloads.create(deployment("search", replicas=2))
    workloads.wait_rolled_out("search")
    bad, good = sorted(p.metadata.name for p in workloads.pods("search"))
    workloads.core.patch_namespaced_pod(
        bad, workloads.namespace, {"metadata": {"annotations": {"fake-kubelet/fail": "crash"}}}
    )
    wait_for(
        f"{bad} in CrashLoopBackOff",
        lambda: _crash_looping(workloads.core.read_namespaced_pod(bad, workloads.namespace)),
    )
    return bad, good


def _uids(w: Workloads, app: str) -> set[str]:
    return {p.metadata.uid for p in w.pods(app)}


def _exists(w: Workloads, name: str) -> bool:
    return any(p.metadata.name == name for p in w.core.list_namespaced_pod(w.namespace).items)


def _solo(w: Workloads) -> str:
    w.core.create_namespaced_pod(
        w.namespace,
        {
            "metadata": {"name": "solo"},
            "spec": {"containers": [container("solo")], "terminationGracePeriodSeconds": 1},
        },
    )
    return w.core.read_namespaced_pod("solo", w.namespace).metadata.uid


def test_deleting_the_bad_pod_leaves_its_sibling_and_the_controller_replaces_it(
    workloads: Workloads, responder: Responder, one_bad_pod: tuple[str, str]
) -> None:
    bad, good = one_bad_pod
    plan = delete_pod_plan(workloads, responder.target, bad)
    bad_uid = plan.items[0]["uid"]
    good_uid = workloads.core.read_namespaced_pod(good, workloads.namespace).metadata.uid
    audit = workloads.audit()

    action = delete_pod(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.APPLIED, action.summary
    assert action.results[0]["outcome"] == "deleted"
    assert "ReplicaSet" in action.results[0]["detail"]
    wait_for(f"{bad} gone", lambda: bad_uid not in _uids(workloads, "search"))
    workloads.wait_rolled_out("search")
    uids = _uids(workloads, "search")
    assert good_uid in uids and len(uids) == 2  # the sibling, and a replacement
    assert [
        (e.verb, e.resource, e.name, e.code, e.dry_run) for e in audit.mutations(responder.user)
    ] == [("delete", "pods", bad, 200, False)]
    assert not [e for e in audit.events(responder.user) if e.code == 403]


def test_dry_run_deletes_nothing_even_with_its_uid_precondition(
    workloads: Workloads, responder: Responder, one_bad_pod: tuple[str, str]
) -> None:
    bad, _ = one_bad_pod
    plan = delete_pod_plan(workloads, responder.target, bad)
    audit = workloads.audit()

    action = delete_pod(responder.target, plan, None, dry_run=True)

    assert action.status is ActionStatus.DRY_RUN, action.summary
    assert action.results[0]["outcome"] == "would delete"
    pod = workloads.core.read_namespaced_pod(bad, workloads.namespace)
    assert pod.metadata.uid == plan.items[0]["uid"]
    assert pod.metadata.deletion_timestamp is None
    mutations = audit.mutations(responder.user)
    assert mutations and all(e.dry_run for e in mutations)


def test_a_retried_delete_finds_the_pod_already_gone(
    workloads: Workloads, responder: Responder, one_bad_pod: tuple[str, str]
) -> None:
    bad, _ = one_bad_pod
    plan = delete_pod_plan(workloads, responder.target, bad)
    delete_pod(responder.target, plan, approved(plan))
    wait_for(f"{bad} gone", lambda: bad not in {p.metadata.name for p in workloads.pods("search")})
    audit = workloads.audit()

    again = delete_pod(responder.target, plan, approved(plan))

    assert again.status is ActionStatus.NOOP, again.summary
    assert again.results[0]["outcome"] == "already gone"
    assert audit.mutations(responder.user) == []


def test_a_new_pod_under_the_planned_name_is_left_alone(
    workloads: Workloads, responder: Responder
) -> None:
    _solo(workloads)
    plan = delete_pod_plan(workloads, responder.target, "solo")
    workloads.core.delete_namespaced_pod("solo", workloads.namespace, grace_period_seconds=0)
    wait_for("solo gone", lambda: not _exists(workloads, "solo"))
    newer = _solo(workloads)
    audit = workloads.audit()

    action = delete_pod(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.STALE, action.summary
    assert action.results[0]["outcome"] == "changed since planned"
    assert newer in action.results[0]["detail"]
    assert workloads.core.read_namespaced_pod("solo", workloads.namespace).metadata.uid == newer
    assert audit.mutations(responder.user) == []


def test_the_uid_precondition_makes_the_apiserver_refuse_a_newer_pod(
    workloads: Workloads,
) -> None:
    """What guards the race between our read and our delete: the apiserver checks the uid."""
    newer = _solo(workloads)
    with pytest.raises(ApiException) as refused:
        workloads.core.delete_namespaced_pod(
            "solo", workloads.namespace, body=delete_options("00000000-old-uid", None)
        )
    assert refused.value.status == 409
    assert workloads.core.read_namespaced_pod("solo", workloads.namespace).metadata.uid == newer
