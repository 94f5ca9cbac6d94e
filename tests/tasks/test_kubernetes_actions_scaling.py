"""scale_workload on the real kube-apiserver, as the worker's ServiceAccount, through the
scale subresource: Deployments and StatefulSets up, and to zero; dry run, retry and a count
changed by someone else change nothing."""

from __future__ import annotations

import pytest

from incident.models import ActionStatus
from tasks.kubernetes_actions import scale_workload
from tests.fixtures.k8s_audit import wait_for
from tests.fixtures.k8s_plans import approved, scale_plan
from tests.fixtures.k8s_targets import Responder, Workloads, deployment, stateful_set

pytestmark = [pytest.mark.kubernetes, pytest.mark.usefixtures("prefect_api")]


def _replicas(w: Workloads, name: str) -> int:
    return int(w.read(name).spec.replicas)


@pytest.fixture
def web(workloads: Workloads) -> str:
    workloads.create(deployment("web", replicas=2))
    workloads.wait_rolled_out("web")
    return "web"


def test_a_deployment_scaled_up_runs_the_new_count_of_pods(
    workloads: Workloads, responder: Responder, web: str
) -> None:
    plan = scale_plan(workloads, responder.target, "Deployment", web, 3)
    audit = workloads.audit()

    action = scale_workload(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.APPLIED, action.summary
    assert action.results[0]["outcome"] == "scaled"
    assert "2 → 3" in action.results[0]["detail"]
    assert _replicas(workloads, web) == 3
    workloads.wait_rolled_out(web)
    assert [
        (e.verb, e.resource, e.subresource, e.code, e.dry_run)
        for e in audit.mutations(responder.user)
    ] == [("patch", "deployments", "scale", 200, False)]
    assert not [e for e in audit.events(responder.user) if e.code == 403]


def test_a_deployment_scaled_to_zero_has_no_pods_left(
    workloads: Workloads, responder: Responder, web: str
) -> None:
    plan = scale_plan(workloads, responder.target, "Deployment", web, 0)

    action = scale_workload(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.APPLIED, action.summary
    wait_for("web without pods", lambda: not workloads.pods(web))
    assert _replicas(workloads, web) == 0


def test_a_stateful_set_scales_through_its_scale_subresource(
    workloads: Workloads, responder: Responder
) -> None:
    workloads.create_stateful_set(stateful_set("db", replicas=1))
    plan = scale_plan(workloads, responder.target, "StatefulSet", "db", 2)
    audit = workloads.audit()

    action = scale_workload(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.APPLIED, action.summary
    wait_for("db-0 and db-1 ready", lambda: workloads.stateful_set_ready("db", 2))
    assert sorted(p.metadata.name for p in workloads.pods("db")) == ["db-0", "db-1"]
    assert [
        (e.verb, e.resource, e.subresource, e.code) for e in audit.mutations(responder.user)
    ] == [("patch", "statefulsets", "scale", 200)]


def test_dry_run_scales_nothing(workloads: Workloads, responder: Responder, web: str) -> None:
    plan = scale_plan(workloads, responder.target, "Deployment", web, 3)
    audit = workloads.audit()

    action = scale_workload(responder.target, plan, None, dry_run=True)

    assert action.status is ActionStatus.DRY_RUN, action.summary
    assert action.results[0]["outcome"] == "would scale"
    assert "2 → 3" in action.results[0]["detail"]
    assert _replicas(workloads, web) == 2
    mutations = audit.mutations(responder.user)
    assert mutations and all(e.dry_run for e in mutations)


def test_a_retried_scale_is_a_noop(workloads: Workloads, responder: Responder, web: str) -> None:
    plan = scale_plan(workloads, responder.target, "Deployment", web, 3)
    scale_workload(responder.target, plan, approved(plan))
    audit = workloads.audit()

    again = scale_workload(responder.target, plan, approved(plan))

    assert again.status is ActionStatus.NOOP, again.summary
    assert again.results[0]["outcome"] == "already at 3 replicas"
    assert audit.mutations(responder.user) == []


def test_a_count_changed_by_someone_else_makes_the_plan_stale(
    workloads: Workloads, responder: Responder, web: str
) -> None:
    plan = scale_plan(workloads, responder.target, "Deployment", web, 3)
    workloads.apps.patch_namespaced_deployment_scale(
        web, workloads.namespace, {"spec": {"replicas": 1}}
    )
    audit = workloads.audit()

    action = scale_workload(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.STALE, action.summary
    assert "has 1 replica now" in action.results[0]["detail"]
    assert _replicas(workloads, web) == 1
    assert audit.mutations(responder.user) == []


def test_one_stale_item_stops_the_whole_plan_before_anything_is_written(
    workloads: Workloads, responder: Responder, web: str
) -> None:
    workloads.create(deployment("api", replicas=1))
    workloads.wait_rolled_out("api")
    first = scale_plan(workloads, responder.target, "Deployment", "api", 2)
    second = scale_plan(workloads, responder.target, "Deployment", web, 3)
    plan = first.model_copy(update={"items": first.items + second.items})
    workloads.apps.patch_namespaced_deployment_scale(
        web, workloads.namespace, {"spec": {"replicas": 1}}
    )
    audit = workloads.audit()

    action = scale_workload(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.STALE, action.summary
    outcomes = {r["name"]: r["outcome"] for r in action.results}
    assert outcomes == {"api": "not attempted", web: "changed since planned"}
    assert (_replicas(workloads, "api"), _replicas(workloads, web)) == (1, 1)
    assert audit.mutations(responder.user) == []
