"""restart_deployment on the real kube-apiserver, as the worker's ServiceAccount: a rolling
restart makes a new ReplicaSet and replaces every pod, once per incident; dry run, retry and
a stale plan change nothing; another incident restarts again."""

from __future__ import annotations

import pytest

from incident.models import ActionStatus
from tasks.kubernetes_actions import restart_deployment
from tasks.kubernetes_restart import RESTARTED_FOR
from tests.fixtures.k8s_plans import approved, restart_plan
from tests.fixtures.k8s_targets import Responder, Workloads, deployment

pytestmark = [pytest.mark.kubernetes, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture
def leaking(workloads: Workloads) -> str:
    """``api``, 2 replicas, rolled out; ``other`` beside it."""
    workloads.create(deployment("api", replicas=2))
    workloads.create(deployment("other"))
    workloads.wait_rolled_out("api")
    workloads.wait_rolled_out("other")
    return "api"


def _replica_sets(w: Workloads, app: str) -> set[str]:
    return {rs.metadata.name for rs in w.replica_sets(app)}


def _stamp(w: Workloads, name: str) -> str | None:
    return (w.read(name).spec.template.metadata.annotations or {}).get(RESTARTED_FOR)


def test_a_restart_rolls_out_a_new_replicaset_replacing_every_pod(
    workloads: Workloads, responder: Responder, leaking: str
) -> None:
    plan = restart_plan(workloads, responder.target, leaking, "INC-1")
    old_pods = {p.metadata.uid for p in workloads.pods("api")}
    old_sets, other = _replica_sets(workloads, "api"), workloads.read("other")
    audit = workloads.audit()

    action = restart_deployment(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.APPLIED, action.summary
    assert action.results[0]["outcome"] == "restarted"
    assert _stamp(workloads, "api") == "INC-1"
    workloads.wait_rolled_out("api")
    assert _replica_sets(workloads, "api") - old_sets  # a new ReplicaSet
    assert not {p.metadata.uid for p in workloads.pods("api")} & old_pods
    assert workloads.read("other").metadata.generation == other.metadata.generation
    assert [
        (e.verb, e.resource, e.name, e.code, e.dry_run) for e in audit.mutations(responder.user)
    ] == [("patch", "deployments", "api", 200, False)]
    assert not [e for e in audit.events(responder.user) if e.code == 403]


def test_dry_run_restarts_nothing(workloads: Workloads, responder: Responder, leaking: str) -> None:
    plan = restart_plan(workloads, responder.target, leaking, "INC-1")
    generation, sets = workloads.read("api").metadata.generation, _replica_sets(workloads, "api")
    audit = workloads.audit()

    action = restart_deployment(responder.target, plan, None, dry_run=True)

    assert action.status is ActionStatus.DRY_RUN, action.summary
    assert action.results[0]["outcome"] == "would restart"
    assert workloads.read("api").metadata.generation == generation
    assert _stamp(workloads, "api") is None
    assert _replica_sets(workloads, "api") == sets
    mutations = audit.mutations(responder.user)
    assert mutations and all(e.dry_run for e in mutations)


def test_a_retried_restart_for_the_same_incident_is_a_noop(
    workloads: Workloads, responder: Responder, leaking: str
) -> None:
    plan = restart_plan(workloads, responder.target, leaking, "INC-1")
    restart_deployment(responder.target, plan, approved(plan))
    workloads.wait_rolled_out("api")
    sets = _replica_sets(workloads, "api")
    audit = workloads.audit()

    again = restart_deployment(responder.target, plan, approved(plan))

    assert again.status is ActionStatus.NOOP, again.summary
    assert again.results[0]["outcome"] == "already restarted for INC-1"
    assert audit.mutations(responder.user) == []
    assert _replica_sets(workloads, "api") == sets  # one restart, not two


def test_another_incident_restarts_the_same_deployment_again(
    workloads: Workloads, responder: Responder, leaking: str
) -> None:
    first = restart_plan(workloads, responder.target, leaking, "INC-1")
    restart_deployment(responder.target, first, approved(first))
    workloads.wait_rolled_out("api")
    second = restart_plan(workloads, responder.target, leaking, "INC-2")

    action = restart_deployment(responder.target, second, approved(second))

    assert action.status is ActionStatus.APPLIED, action.summary
    assert _stamp(workloads, "api") == "INC-2"


def test_a_rollout_after_the_plan_makes_the_restart_stale(
    workloads: Workloads, responder: Responder, leaking: str
) -> None:
    plan = restart_plan(workloads, responder.target, leaking, "INC-1")
    workloads.set_image("api", "busybox:1.37", revision="2")
    audit = workloads.audit()

    action = restart_deployment(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.STALE, action.summary
    assert action.results[0]["outcome"] == "changed since planned"
    assert _stamp(workloads, "api") is None
    assert audit.mutations(responder.user) == []
