"""patch_container_limits on the real kube-apiserver, as the worker's ServiceAccount: an
OOMKilled container's memory limit raised, its new pods running without an OOM kill, its
sibling and its request untouched; dry run, retry and stale plans change nothing."""

from __future__ import annotations

import pytest

from incident.models import ActionStatus
from tasks.kubernetes_actions import patch_container_limits
from tests.fixtures.k8s_audit import wait_for
from tests.fixtures.k8s_plans import approved, limits_plan
from tests.fixtures.k8s_targets import Responder, Workloads, container, deployment

pytestmark = [pytest.mark.kubernetes, pytest.mark.usefixtures("prefect_api")]

USAGE = "cache:memory=100Mi;sidecar:memory=8Mi"  # cache above its 64Mi limit: OOMKilled


def _limits(w: Workloads, name: str) -> dict[str, dict[str, dict[str, str]]]:
    return {
        c.name: {"limits": c.resources.limits or {}, "requests": c.resources.requests or {}}
        for c in w.read(name).spec.template.spec.containers
    }


def _oom_killed(pod) -> bool:  # type: ignore[no-untyped-def]
    return any(
        (cs.last_state and cs.last_state.terminated and cs.last_state.terminated.reason)
        == "OOMKilled"
        or (cs.state.terminated and cs.state.terminated.reason == "OOMKilled")
        for cs in pod.status.container_statuses or []
    )


def _running(pod) -> bool:  # type: ignore[no-untyped-def]
    statuses = pod.status.container_statuses or []
    return bool(statuses) and all(cs.state.running and cs.ready for cs in statuses)


@pytest.fixture
def oom_killed(workloads: Workloads) -> str:
    """``cache`` whose main container uses more memory than its limit, beside a sidecar."""
    cache = container(
        "cache", resources={"limits": {"memory": "64Mi"}, "requests": {"memory": "32Mi"}}
    )
    sidecar = container("sidecar", resources={"limits": {"memory": "32Mi"}})
    workloads.create(
        deployment("cache", [cache, sidecar], annotations={"fake-kubelet/usage": USAGE})
    )
    wait_for("cache OOMKilled", lambda: any(_oom_killed(p) for p in workloads.pods("cache")))
    return "cache"


def test_raising_the_limit_recovers_the_oom_killed_container_and_touches_nothing_else(
    workloads: Workloads, responder: Responder, oom_killed: str
) -> None:
    plan = limits_plan(workloads, responder.target, oom_killed, "cache", "128Mi")
    old_pods = {p.metadata.uid for p in workloads.pods("cache")}
    before = _limits(workloads, "cache")
    audit = workloads.audit()

    action = patch_container_limits(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.APPLIED, action.summary
    [result] = action.results
    assert (result["name"], result["outcome"]) == ("cache", "raised")
    assert "64Mi → 128Mi" in result["detail"]
    expected = {**before, "cache": {**before["cache"], "limits": {"memory": "128Mi"}}}
    assert _limits(workloads, "cache") == expected  # request and sidecar as they were
    workloads.wait_rolled_out("cache")
    new_pods = workloads.pods("cache")
    assert not {p.metadata.uid for p in new_pods} & old_pods
    wait_for("the new pods running and ready", lambda: all(map(_running, workloads.pods("cache"))))
    assert not [p.metadata.name for p in workloads.pods("cache") if _oom_killed(p)]
    assert [(e.verb, e.resource, e.code, e.dry_run) for e in audit.mutations(responder.user)] == [
        ("patch", "deployments", 200, False)
    ]
    assert not [e for e in audit.events(responder.user) if e.code == 403]


def test_dry_run_reports_the_new_limit_and_changes_nothing(
    workloads: Workloads, responder: Responder, oom_killed: str
) -> None:
    plan = limits_plan(workloads, responder.target, oom_killed, "cache", "128Mi")
    generation = workloads.read("cache").metadata.generation
    audit = workloads.audit()

    action = patch_container_limits(responder.target, plan, None, dry_run=True)

    assert action.status is ActionStatus.DRY_RUN, action.summary
    assert action.results[0]["outcome"] == "would raise"
    assert "64Mi → 128Mi" in action.results[0]["detail"]
    assert _limits(workloads, "cache")["cache"]["limits"] == {"memory": "64Mi"}
    assert workloads.read("cache").metadata.generation == generation
    mutations = audit.mutations(responder.user)
    assert mutations and all(e.dry_run for e in mutations)


def test_a_retried_patch_is_a_noop_already_at_the_new_limit(
    workloads: Workloads, responder: Responder, oom_killed: str
) -> None:
    plan = limits_plan(workloads, responder.target, oom_killed, "cache", "128Mi")
    patch_container_limits(responder.target, plan, approved(plan))
    generation = workloads.read("cache").metadata.generation
    audit = workloads.audit()

    again = patch_container_limits(responder.target, plan, approved(plan))

    assert again.status is ActionStatus.NOOP, again.summary
    assert again.results[0]["outcome"] == "already at 128Mi"
    assert audit.mutations(responder.user) == []
    assert workloads.read("cache").metadata.generation == generation


def test_a_limit_changed_by_someone_else_makes_the_plan_stale(
    workloads: Workloads, responder: Responder, oom_killed: str
) -> None:
    plan = limits_plan(workloads, responder.target, oom_killed, "cache", "128Mi")
    workloads.set_memory_limit("cache", "cache", "96Mi")
    audit = workloads.audit()

    action = patch_container_limits(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.STALE, action.summary
    assert action.results[0]["outcome"] == "changed since planned"
    assert "96Mi" in action.results[0]["detail"]
    assert _limits(workloads, "cache")["cache"]["limits"] == {"memory": "96Mi"}
    assert audit.mutations(responder.user) == []


def test_a_limit_the_apiserver_would_reject_is_refused_in_the_dry_run(
    workloads: Workloads, responder: Responder
) -> None:
    greedy = container("greedy", resources={"requests": {"memory": "256Mi"}})
    workloads.create(deployment("greedy", [greedy]))
    workloads.wait_rolled_out("greedy")
    plan = limits_plan(workloads, responder.target, "greedy", "greedy", "128Mi")

    action = patch_container_limits(responder.target, plan, None, dry_run=True)

    assert action.status is ActionStatus.DRY_RUN, action.summary
    assert action.results[0]["outcome"] == "refused"
    assert "422" in action.results[0]["detail"]
    assert _limits(workloads, "greedy")["greedy"]["limits"] == {}
