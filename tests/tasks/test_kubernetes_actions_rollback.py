"""rollback_deployment on the real kube-apiserver, as the worker's ServiceAccount: a bad
rollout rolled back to the pinned revision, its pods Ready again; the dry run, a retry and a
stale plan change nothing, and a wrong approval sends no request at all (audit log)."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from blocks.kubernetes import KubernetesTarget
from incident.errors import ApprovalMismatch
from incident.models import ActionStatus, Approval, ApprovalDecision
from tasks.kubernetes_actions import rollback_deployment
from tests.fixtures.k8s_audit import wait_for
from tests.fixtures.k8s_plans import approved, rollback_plan
from tests.fixtures.k8s_targets import Responder, Workloads, container, deployment

pytestmark = [pytest.mark.kubernetes, pytest.mark.usefixtures("prefect_api")]

GOOD, BAD = "busybox:1.37", "busybox:bad"


@dataclass(frozen=True)
class BadRollout:
    name: str  # on revision 3 (BAD), stuck; revision 2 (GOOD) is the one to go back to
    bystander: str  # another deployment in the namespace: never touched


@pytest.fixture
def bad_rollout(workloads: Workloads) -> BadRollout:
    workloads.create(deployment("web", replicas=2))
    workloads.set_image("web", GOOD, revision="2")
    workloads.wait_rolled_out("web")
    workloads.set_image("web", BAD, revision="3")
    wait_for(
        "a pod of the bad rollout in ImagePullBackOff",
        lambda: any(
            cs.state.waiting and cs.state.waiting.reason in ("ErrImagePull", "ImagePullBackOff")
            for p in workloads.pods("web")
            for cs in p.status.container_statuses or []
        ),
    )
    workloads.create(deployment("other", [container("other", GOOD)]))
    workloads.wait_rolled_out("other")
    return BadRollout("web", "other")


def _hash(pod) -> str:  # type: ignore[no-untyped-def]
    return (pod.metadata.labels or {}).get("pod-template-hash", "")


def _ready(pod) -> bool:  # type: ignore[no-untyped-def]
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions or [])


def test_rollback_puts_the_pinned_revisions_template_back_and_its_pods_become_ready(
    workloads: Workloads, responder: Responder, bad_rollout: BadRollout
) -> None:
    target = responder.target
    plan = rollback_plan(workloads, target, bad_rollout.name, to_revision="2")
    [item] = plan.items
    bystander = workloads.read(bad_rollout.bystander)
    audit = workloads.audit()

    action = rollback_deployment(target, plan, approved(plan))

    assert action.status is ActionStatus.APPLIED, action.summary
    [result] = action.results
    assert (result["name"], result["outcome"]) == ("web", "rolled back")
    assert GOOD in result["detail"]
    d = workloads.read("web")
    assert [c.image for c in d.spec.template.spec.containers] == [GOOD]
    assert "pod-template-hash" not in (d.spec.template.metadata.labels or {})
    # the pinned ReplicaSet is the current one again, under the next revision number
    # (the controller stamps the ReplicaSet first and the Deployment a moment later)
    rs = workloads.apps.read_namespaced_replica_set(item["to_replicaset"], workloads.namespace)
    rs_revision = rs.metadata.annotations["deployment.kubernetes.io/revision"]
    revision = wait_for(
        "the Deployment's revision to follow its ReplicaSet's",
        lambda: workloads.revision("web") if workloads.revision("web") == rs_revision else None,
    )
    assert int(revision or 0) > int(item["from_revision"])
    workloads.wait_rolled_out("web")
    pods = workloads.pods("web")
    assert pods and all(_hash(p) == item["template_hash"] and _ready(p) for p in pods)
    untouched = workloads.read(bad_rollout.bystander)
    assert untouched.metadata.generation == bystander.metadata.generation
    assert untouched.spec.template == bystander.spec.template
    mutations = audit.mutations(responder.user)
    assert [(e.verb, e.resource, e.name, e.code, e.dry_run) for e in mutations] == [
        ("patch", "deployments", "web", 200, False)
    ]
    assert not [e for e in audit.events(responder.user) if e.code == 403]


def test_dry_run_asks_the_apiserver_and_changes_nothing(
    workloads: Workloads, responder: Responder, bad_rollout: BadRollout
) -> None:
    plan = rollback_plan(workloads, responder.target, bad_rollout.name, to_revision="2")
    before = workloads.read("web")
    audit = workloads.audit()

    action = rollback_deployment(responder.target, plan, None, dry_run=True)

    assert action.status is ActionStatus.DRY_RUN, action.summary
    [result] = action.results
    assert result["outcome"] == "would roll back"
    assert GOOD in result["detail"]  # the apiserver's answer: the template it would hold
    after = workloads.read("web")
    assert after.metadata.resource_version == before.metadata.resource_version
    assert [c.image for c in after.spec.template.spec.containers] == [BAD]
    mutations = audit.mutations(responder.user)
    assert mutations and all(e.dry_run for e in mutations)


def test_a_retried_rollback_is_a_recorded_noop_and_sends_no_second_patch(
    workloads: Workloads, responder: Responder, bad_rollout: BadRollout
) -> None:
    plan = rollback_plan(workloads, responder.target, bad_rollout.name, to_revision="2")
    rollback_deployment(responder.target, plan, approved(plan))
    audit = workloads.audit()

    again = rollback_deployment(responder.target, plan, approved(plan))

    assert again.status is ActionStatus.NOOP, again.summary
    [result] = again.results
    assert result["outcome"] == f"already on revision {workloads.revision('web')}"
    assert audit.mutations(responder.user) == []
    assert [c.image for c in workloads.read("web").spec.template.spec.containers] == [GOOD]


def test_a_new_rollout_after_the_plan_makes_it_stale_and_nothing_is_rolled_back(
    workloads: Workloads, responder: Responder, bad_rollout: BadRollout
) -> None:
    plan = rollback_plan(workloads, responder.target, bad_rollout.name, to_revision="2")
    workloads.set_image("web", "busybox:1.38", revision="4")  # someone ships a fix meanwhile
    audit = workloads.audit()

    action = rollback_deployment(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.STALE, action.summary
    [result] = action.results
    assert result["outcome"] == "changed since planned"
    assert "revision 4" in result["detail"]
    assert [c.image for c in workloads.read("web").spec.template.spec.containers] == [
        "busybox:1.38"
    ]
    assert audit.mutations(responder.user) == []


def test_a_status_only_change_does_not_make_a_plan_with_its_generation_stale(
    workloads: Workloads, responder: Responder, bad_rollout: BadRollout
) -> None:
    plan = rollback_plan(
        workloads,
        responder.target,
        bad_rollout.name,
        to_revision="2",
        resource_version="1",  # as if the status had moved on many times since planning
    )

    action = rollback_deployment(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.APPLIED, action.summary


def test_a_plan_without_its_generation_is_stale_on_any_change_of_resource_version(
    workloads: Workloads, responder: Responder, bad_rollout: BadRollout
) -> None:
    plan = rollback_plan(
        workloads, responder.target, bad_rollout.name, to_revision="2", generation=False
    )
    workloads.apps.patch_namespaced_deployment(  # not the spec: its generation stays
        "web", workloads.namespace, {"metadata": {"labels": {"team": "shop"}}}
    )
    audit = workloads.audit()

    action = rollback_deployment(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.STALE, action.summary
    assert "resourceVersion" in action.results[0]["detail"]
    assert audit.mutations(responder.user) == []


def test_a_paused_deployment_is_refused_not_rolled_back(
    workloads: Workloads, responder: Responder, bad_rollout: BadRollout
) -> None:
    workloads.apps.patch_namespaced_deployment(
        "web", workloads.namespace, {"spec": {"paused": True}}
    )
    plan = rollback_plan(workloads, responder.target, bad_rollout.name, to_revision="2")
    audit = workloads.audit()

    action = rollback_deployment(responder.target, plan, approved(plan))

    assert action.status is ActionStatus.FAILED, action.summary
    assert action.results[0]["outcome"] == "refused"
    assert "resume" in action.results[0]["detail"]
    assert audit.mutations(responder.user) == []


@pytest.mark.parametrize("wrong", ["another plan", "rejected", "another namespace", "none"])
def test_an_approval_not_for_this_plan_and_target_is_refused_before_any_request(
    workloads: Workloads, responder: Responder, bad_rollout: BadRollout, wrong: str
) -> None:
    plan = rollback_plan(workloads, responder.target, bad_rollout.name, to_revision="2")
    target, approval = responder.target, approved(plan)
    if wrong == "another plan":
        approval = approval.model_copy(update={"plan_digest": "0" * 16})
    elif wrong == "rejected":
        approval = Approval(plan_digest=plan.digest, decision=ApprovalDecision.REJECTED)
    elif wrong == "another namespace":
        target = KubernetesTarget(kubeconfig_path=target.kubeconfig_path, namespace="production")
    else:
        approval = None  # type: ignore[assignment]
    audit = workloads.audit()

    with pytest.raises(ApprovalMismatch):
        rollback_deployment(target, plan, approval)

    assert audit.events(responder.user) == []
    assert [c.image for c in workloads.read("web").spec.template.spec.containers] == [BAD]
