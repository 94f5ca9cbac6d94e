"""The three Kubernetes scenarios end to end on the real control plane, acting as the
worker's ServiceAccount bound to the shipped Role: a bad rollout rolled back, an OOM-killed
container's limit raised, a crash loop after a rollout ended — each seeded for real, approved
from outside the run, and checked from the API server, never from the flow's own report.

Each scenario has its four: resolved with the record in order; rejected with no write by
the flow's identity (audit log); the approved apply retried changing nothing; the target
changed after approval re-planned and nothing of the stale plan written."""

from __future__ import annotations

from datetime import timedelta

import pytest

from flows.respond import respond, routing_rules
from incident.models import ActionStatus, Alert, AlertSource
from incident.routing import RoutingRules
from sandbox.approver import answer, wait_for_approval_request
from tasks.kubernetes_actions import KUBERNETES_ACTIONS
from tests.fixtures.k8s_audit import wait_for
from tests.fixtures.k8s_plans import approved
from tests.fixtures.k8s_targets import container, deployment
from tests.flows.support import fast_policy, steps_of
from tests.xdist_groups import CLUSTER_NODES

pytestmark = [pytest.mark.prefect, pytest.mark.kubernetes, pytest.mark.xdist_group(CLUSTER_NODES)]

GOOD, BAD, CRASH = "busybox:1.36", "busybox:bad", "busybox:crash"


def policy():  # type: ignore[no-untyped-def]
    return fast_policy(
        verification_window=timedelta(seconds=60), approval_timeout=timedelta(minutes=5)
    )


def shipped_routes(target) -> RoutingRules:  # type: ignore[no-untyped-def]
    """deployments/respond-routes.yaml as shipped, its `cluster` pointed at the test's."""
    return routing_rules("deployments/respond-routes.yaml").with_parameter("cluster", target)


def run(background, alertname, target, store):  # type: ignore[no-untyped-def]
    """The alert through `respond`, routed by the shipped rules: the scenario is theirs."""
    alert = Alert(name=alertname, source=AlertSource.ALERTMANAGER, severity="SEV2")
    return background(
        respond,
        alert=alert,
        routes=shipped_routes(target),
        store=store,
        slack=None,
        policy=policy(),
        return_state=True,
    )


RESPONSE_ORDER = [
    ("assess", "diagnostics", "completed"),  # the findings
    ("investigate", "decision", "completed"),  # the plan
    ("mitigate", "dry-run", "completed"),
    ("mitigate", "approval", "completed"),
    ("mitigate", "apply", "completed"),
    ("resolve", "verify", "completed"),
    ("resolve", "resolved", "completed"),
]


def recorded_in_order(record, incident_id) -> None:  # type: ignore[no-untyped-def]
    """The record holds findings, plan, dry run, approval, apply and verification, in order."""
    steps = steps_of(record, incident_id)
    missing = [s for s in RESPONSE_ORDER if s not in steps]
    assert not missing, missing
    at = [steps.index(s) for s in RESPONSE_ORDER]
    assert at == sorted(at), list(zip(RESPONSE_ORDER, at, strict=True))
    assert record.findings(incident_id) and record.plans(incident_id)


def retried_apply_changes_nothing(record, incident_id, responder, workloads, name):  # type: ignore[no-untyped-def]
    """The approved plan applied once more, as a task retry after a lost answer would: a
    recorded no-op, no write reaching the API server, the workload's spec where it was."""
    [done] = [a for a in record.actions(incident_id) if a["status"] == ActionStatus.APPLIED]
    [plan] = [p for p in record.plans(incident_id) if p.digest == done["plan_digest"]]
    before = workloads.read(name)
    trail = workloads.audit().since_now()

    again = KUBERNETES_ACTIONS[plan.action](
        responder.target, plan, approved(plan, done["approver"])
    )

    assert again.status is ActionStatus.NOOP, again.summary
    assert not [m.uri for m in trail.mutations(responder.user) if not m.dry_run]
    after = workloads.read(name)
    assert after.metadata.generation == before.metadata.generation
    assert after.spec.template == before.spec.template


def rejected_wrote_nothing(trail, responder) -> None:  # type: ignore[no-untyped-def]
    """Over the whole run, the rejection included: the flow's identity asked the API server
    only dry runs, never a create, update, patch or delete that took effect."""
    mutations = trail.mutations(responder.user)
    assert mutations, "the dry runs asked the API server"
    assert all(m.dry_run for m in mutations), [m.uri for m in mutations if not m.dry_run]


def new_request(record, incident_id, digest):  # type: ignore[no-untyped-def]
    """The digest of an approval asked for a plan other than ``digest``, once there is one."""
    asked = [
        e
        for e in record.timeline(incident_id)
        if (e.step, e.status) == ("approval", "started") and e.data["plan_digest"] != digest
    ]
    return asked[-1].data["plan_digest"] if asked else None


def service(workloads, name: str) -> None:  # type: ignore[no-untyped-def]
    workloads.core.create_namespaced_service(
        workloads.namespace,
        {"metadata": {"name": name}, "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}},
    )


def ready_endpoints(workloads, name: str) -> int:  # type: ignore[no-untyped-def]
    found = workloads.core.list_namespaced_endpoints(
        workloads.namespace, field_selector=f"metadata.name={name}"
    ).items
    subsets = (found[0].subsets or []) if found else []
    return sum(len(s.addresses or []) for s in subsets)


@pytest.fixture
def broken_rollout(workloads):  # type: ignore[no-untyped-def]
    """web, healthy at revision 1, rolled out to an image that never pulls (revision 2); the
    Recreate strategy takes the old pods down first: a complete outage."""
    body = deployment("web", [container("web", GOOD)], replicas=2)
    body["spec"]["strategy"] = {"type": "Recreate"}
    workloads.create(body)
    service(workloads, "web")
    wait_for("web serving", lambda: ready_endpoints(workloads, "web") == 2)
    workloads.set_image("web", BAD, revision="2")
    wait_for("the outage", lambda: ready_endpoints(workloads, "web") == 0)
    return workloads


def oom_killed(workloads, app: str, limit: str) -> bool:  # type: ignore[no-untyped-def]
    """A container of ``app`` running under ``limit`` has been OOM-killed."""
    return any(
        cs.last_state.terminated and cs.last_state.terminated.reason == "OOMKilled"
        for p in workloads.pods(app)
        if (p.spec.containers[0].resources.limits or {}).get("memory") == limit
        for cs in p.status.container_statuses or []
    )


@pytest.fixture
def oom_kills(workloads):  # type: ignore[no-untyped-def]
    """cache, using 80Mi under a 64Mi limit: OOM-killed by the node, again and again."""
    cache = container("cache", GOOD, resources={"limits": {"memory": "64Mi"}})
    workloads.create(
        deployment("cache", [cache], annotations={"fake-kubelet/usage": "memory=80Mi"})
    )
    wait_for("the OOM kill", lambda: oom_killed(workloads, "cache", "64Mi"))
    return workloads


@pytest.fixture
def crash_loop(workloads):  # type: ignore[no-untyped-def]
    """worker, healthy at revision 1, rolled out to an image that crashes (revision 2)."""
    workloads.create(deployment("worker", [container("worker", GOOD)]))
    workloads.set_image("worker", CRASH, revision="2")
    wait_for(
        "the crash loop",
        lambda: any(
            cs.restart_count
            for p in workloads.pods("worker")
            for cs in p.status.container_statuses or []
        ),
    )
    return workloads


def test_an_outage_after_a_rollout_is_rolled_back_to_the_pinned_revision(
    background, prefect_api, responder, incident_store, record, broken_rollout
):
    workloads = broken_rollout
    flow = run(background, "KubeDeploymentReplicasMismatch", responder.target, incident_store)
    incident_id, run_id, digest = wait_for_approval_request(record, "service-outage")
    [plan] = record.plans(incident_id)
    [item] = plan.items
    assert (item["name"], item["from_revision"], item["to_revision"]) == ("web", 2, 1)
    assert workloads.read("web").spec.template.spec.containers[0].image == BAD, (
        "not before approval"
    )
    answer(run_id, approve=True, approver="alice", plan_digest=digest)
    state = flow.join(timeout=240)

    assert state.name == "Resolved", state.message
    assert workloads.read("web").spec.template.spec.containers[0].image == GOOD
    assert ready_endpoints(workloads, "web") == 2
    revision = workloads.revision("web")
    retried_apply_changes_nothing(record, incident_id, responder, workloads, "web")
    assert workloads.revision("web") == revision, "still the pinned revision, not a new one"
    recorded_in_order(record, incident_id)


def test_a_rejected_rollback_sends_no_change_to_the_api_server(
    background, prefect_api, responder, incident_store, record, broken_rollout
):
    workloads = broken_rollout
    trail = workloads.audit().since_now()
    flow = run(background, "WebServiceDown", responder.target, incident_store)
    _, run_id, digest = wait_for_approval_request(record, "service-outage")
    answer(run_id, approve=False, approver="bob", plan_digest=digest)
    assert flow.join(timeout=240).name == "Escalated"

    rejected_wrote_nothing(trail, responder)
    assert workloads.read("web").spec.template.spec.containers[0].image == BAD


def test_an_oom_killed_container_gets_a_raised_limit_and_runs_under_it(
    background, prefect_api, responder, incident_store, record, oom_kills
):
    workloads = oom_kills
    flow = run(background, "KubeContainerOOMKilled", responder.target, incident_store)
    incident_id, run_id, digest = wait_for_approval_request(record, "high-memory")
    [item] = record.plans(incident_id)[0].items
    assert (item["container"], item["limit_now"], item["limit_after"]) == ("cache", "64Mi", "96Mi")
    answer(run_id, approve=True, approver="alice", plan_digest=digest)

    assert flow.join(timeout=240).name == "Resolved"
    limits = workloads.read("cache").spec.template.spec.containers[0].resources.limits
    assert limits["memory"] == "96Mi"
    pods = workloads.pods("cache")
    assert pods and all(p.status.phase == "Running" for p in pods)
    retried_apply_changes_nothing(record, incident_id, responder, workloads, "cache")
    recorded_in_order(record, incident_id)
    assert {p.metadata.name for p in workloads.pods("cache")} == {p.metadata.name for p in pods}


def test_a_crash_loop_after_a_rollout_ends_with_the_rollback(
    background, prefect_api, responder, incident_store, record, crash_loop
):
    workloads = crash_loop
    flow = run(background, "KubePodCrashLooping", responder.target, incident_store)
    incident_id, run_id, digest = wait_for_approval_request(record, "crash-loop")
    assert record.plans(incident_id)[0].action == "rollback_deployment"
    answer(run_id, approve=True, approver="alice", plan_digest=digest)

    assert flow.join(timeout=300).name == "Resolved"
    assert workloads.read("worker").spec.template.spec.containers[0].image == GOOD
    retried_apply_changes_nothing(record, incident_id, responder, workloads, "worker")
    recorded_in_order(record, incident_id)


def test_a_new_rollout_after_approval_is_re_planned_not_rolled_over(
    background, prefect_api, responder, incident_store, record, broken_rollout
):
    """The approved plan pinned revision 1 against revision 2; a pipeline ships revision 3
    (a fix that fails too) before the apply: nothing of the old plan is written, and the new
    plan still returns to revision 1, what ran before the alert, not to the broken 2."""
    workloads = broken_rollout
    flow = run(background, "KubeDeploymentReplicasMismatch", responder.target, incident_store)
    incident_id, run_id, digest = wait_for_approval_request(record, "service-outage")
    workloads.set_image("web", "busybox:nonexistent", revision="3")
    trail = workloads.audit().since_now()
    answer(run_id, approve=True, approver="alice", plan_digest=digest)

    again = wait_for(
        "a request for a new plan", lambda: new_request(record, incident_id, digest), timeout=240
    )
    [new_plan] = [p for p in record.plans(incident_id) if p.digest == again]
    item = new_plan.items[0]
    assert (item["from_revision"], item["to_revision"]) == (3, 1), (
        "back past the hurried fix to what ran before the alert"
    )
    assert not [m for m in trail.mutations(responder.user) if not m.dry_run], (
        "nothing of the stale plan was written"
    )
    assert workloads.read("web").spec.template.spec.containers[0].image == "busybox:nonexistent"
    steps = steps_of(record, incident_id)
    assert ("investigate", "replan", "info") in steps

    wait_for_approval_request(record, "service-outage")  # paused on the new request
    assert answer(run_id, approve=False, approver="alice", plan_digest=again).accepted
    assert flow.join(timeout=240).name == "Escalated"


def test_a_limit_raised_by_hand_after_approval_is_re_planned_from_the_new_limit(
    background, prefect_api, responder, incident_store, record, oom_kills
):
    """Someone raises the limit to 72Mi by hand while the 64Mi → 96Mi plan waits; the pods
    still die at 72Mi. The approval of the old plan writes nothing; the new plan starts
    from 72Mi."""
    workloads = oom_kills
    trail = workloads.audit().since_now()  # the flow's own requests, from its first
    flow = run(background, "KubeContainerOOMKilled", responder.target, incident_store)
    incident_id, run_id, digest = wait_for_approval_request(record, "high-memory")
    workloads.set_memory_limit("cache", "cache", "72Mi")
    wait_for("the OOM kill at 72Mi", lambda: oom_killed(workloads, "cache", "72Mi"))
    answer(run_id, approve=True, approver="alice", plan_digest=digest)

    again = wait_for(
        "a request for a new plan", lambda: new_request(record, incident_id, digest), timeout=240
    )
    [new_plan] = [p for p in record.plans(incident_id) if p.digest == again]
    [item] = new_plan.items
    assert (item["limit_now"], item["limit_after"]) == ("72Mi", "108Mi")
    assert not [m.uri for m in trail.mutations(responder.user) if not m.dry_run]
    limits = workloads.read("cache").spec.template.spec.containers[0].resources.limits
    assert limits["memory"] == "72Mi", "the stale 96Mi plan was not written"

    wait_for_approval_request(record, "high-memory")
    assert answer(run_id, approve=False, approver="alice", plan_digest=again).accepted
    assert flow.join(timeout=240).name == "Escalated"
    rejected_wrote_nothing(trail, responder)


def test_a_crash_loop_whose_deployment_rolls_out_again_after_approval_is_re_planned(
    background, prefect_api, responder, incident_store, record, crash_loop
):
    """The rollback 2 → 1 waits; a pipeline ships revision 3, which crashes too. The
    approval of the old plan writes nothing; the new plan goes from 3 back to 1."""
    workloads = crash_loop
    trail = workloads.audit().since_now()  # the flow's own requests, from its first
    flow = run(background, "KubePodCrashLooping", responder.target, incident_store)
    incident_id, run_id, digest = wait_for_approval_request(record, "crash-loop")
    workloads.set_image("worker", "busybox:crashloop", revision="3")
    answer(run_id, approve=True, approver="alice", plan_digest=digest)

    again = wait_for(
        "a request for a new plan", lambda: new_request(record, incident_id, digest), timeout=240
    )
    [new_plan] = [p for p in record.plans(incident_id) if p.digest == again]
    assert new_plan.action == "rollback_deployment"
    item = new_plan.items[0]
    assert (item["from_revision"], item["to_revision"]) == (3, 1)
    assert not [m.uri for m in trail.mutations(responder.user) if not m.dry_run]
    image = workloads.read("worker").spec.template.spec.containers[0].image
    assert image == "busybox:crashloop"

    wait_for_approval_request(record, "crash-loop")
    assert answer(run_id, approve=False, approver="alice", plan_digest=again).accepted
    assert flow.join(timeout=240).name == "Escalated"
    rejected_wrote_nothing(trail, responder)
