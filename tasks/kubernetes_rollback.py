"""Roll a Deployment back to a pinned revision, as ``kubectl rollout undo --to-revision`` does.

The Python client has no ``rollout undo``: kubectl itself reads the ReplicaSet of that
revision, takes its pod template without the ``pod-template-hash`` label, and patches it into
the Deployment (with the ReplicaSet's annotations, such as ``kubernetes.io/change-cause``).
The controller then finds that ReplicaSet again by its template and scales it back up, giving
it the next revision number. This module does exactly that, with three differences a 3 a.m.
approval needs:

- **Pinned.** The plan names the ReplicaSet (``to_replicaset``, ``template_hash``) chosen
  when the plan was made, never "the previous one" at apply time.
- **Stale plans change nothing.** A new rollout since the plan (another revision, another
  spec) makes the item stale; so does the pinned ReplicaSet having gone or changed hands.
- **Idempotent.** A Deployment already running the pinned template is a no-op ("already on
  revision 4"), so a retried apply never starts a second rollout.

Plan item (the planner's contract): ``kind`` "Deployment", ``namespace``, ``name``,
``resource_version``, ``from_revision``, ``to_revision``, ``to_replicaset``,
``template_hash``, ``images_now``, ``images_after``; optionally ``generation``.
"""

from __future__ import annotations

import copy
from typing import Any

from prefect.cache_policies import NO_CACHE

import incident.k8s_plan_text  # noqa: F401  (registers how a rollback item reads)
from blocks.kubernetes import KubernetesTarget
from incident.models import Action, Approval, Plan
from tasks.destructive import destructive
from tasks.kubernetes_change import Judgement, carry_out, moved_on
from tasks.kubernetes_session import Gone, Kube
from tasks.retrying import retry_only_transient

__all__ = ["HASH_LABEL", "REVISION", "rollback_deployment", "rollback_template"]

REVISION = "deployment.kubernetes.io/revision"
HASH_LABEL = "pod-template-hash"
ROLLED_BACK, WOULD = "rolled back", "would roll back"
# kubectl's annotationsToSkip: the Deployment keeps its own values of these
_KEEP_ANNOTATIONS = frozenset(
    {
        "kubectl.kubernetes.io/last-applied-configuration",
        REVISION,
        "deployment.kubernetes.io/revision-history",
        "deployment.kubernetes.io/desired-replicas",
        "deployment.kubernetes.io/max-replicas",
        "deprecated.deployment.rollback.to",
    }
)


def rollback_template(template: dict[str, Any]) -> dict[str, Any]:
    """A pod template as a Deployment holds it: without the ReplicaSet's hash label."""
    template = copy.deepcopy(template)
    labels = (template.get("metadata") or {}).get("labels") or {}
    labels.pop(HASH_LABEL, None)
    return template


def _images(template: dict[str, Any]) -> list[str]:
    return [c.get("image", "") for c in (template.get("spec") or {}).get("containers", [])]


def _annotations(deployment: dict[str, str], replicaset: dict[str, str]) -> dict[str, str]:
    """kubectl's rule: the Deployment's bookkeeping annotations, the ReplicaSet's others."""
    kept = {k: v for k, v in deployment.items() if k in _KEEP_ANNOTATIONS}
    return {**kept, **{k: v for k, v in replicaset.items() if k not in _KEEP_ANNOTATIONS}}


def _owned_by(replicaset: Any, uid: str) -> bool:
    return any(
        ref.controller and ref.uid == uid for ref in replicaset.metadata.owner_references or []
    )


def _judge(kube: Kube, item: dict[str, Any]) -> Judgement:
    name, ns, rs_name = item["name"], kube.target.namespace, item["to_replicaset"]
    if item.get("kind", "Deployment") != "Deployment":
        return Judgement.refused(name, f"{item.get('kind')} cannot be rolled back here")
    try:
        deployment = kube.read(
            kube.apps.read_namespaced_deployment,
            resource="deployments",
            group="apps",
            name=name,
            namespace=ns,
        )
    except Gone:
        return Judgement.stale(name, f"deployment {name} no longer exists")
    try:
        rs = kube.read(
            kube.apps.read_namespaced_replica_set,
            resource="replicasets",
            group="apps",
            name=rs_name,
            namespace=ns,
        )
    except Gone:
        return Judgement.stale(
            name,
            f"ReplicaSet {rs_name} of revision {item['to_revision']} is gone (history pruned?)",
        )
    rs_hash = (rs.metadata.labels or {}).get(HASH_LABEL)
    if not _owned_by(rs, deployment.metadata.uid) or rs_hash != item["template_hash"]:
        return Judgement.stale(
            name, f"ReplicaSet {rs_name} is no longer revision {item['to_revision']} of {name}"
        )
    meta = deployment.metadata
    revision_now = (meta.annotations or {}).get(REVISION)
    pinned = rollback_template(kube.serialize(rs.spec.template))
    current = rollback_template(kube.serialize(deployment.spec.template))
    if current == pinned:
        return Judgement.already(
            name,
            f"already on revision {revision_now}",
            f"runs the template of ReplicaSet {rs_name} (images {', '.join(_images(pinned))})",
        )
    if str(revision_now) != str(item["from_revision"]):
        return Judgement.stale(
            name,
            f"a new rollout: now revision {revision_now}, planned from revision "
            f"{item['from_revision']} (images {', '.join(_images(current))})",
        )
    if why := moved_on(item, meta):
        return Judgement.stale(name, f"deployment {name}: {why}")
    if deployment.spec.paused:
        return Judgement.refused(
            name, f"deployment {name} is paused: resume its rollout first; nothing was done"
        )
    patch = [  # a JSON patch replaces the template whole: no container or env merged in
        {"op": "replace", "path": "/metadata/resourceVersion", "value": meta.resource_version},
        {"op": "replace", "path": "/spec/template", "value": pinned},
        {
            "op": "add",
            "path": "/metadata/annotations",
            "value": _annotations(meta.annotations or {}, rs.metadata.annotations or {}),
        },
    ]

    def change(dry_run: str | None) -> str:
        after = kube.write(
            kube.apps.patch_namespaced_deployment,
            verb="patch",
            resource="deployments",
            group="apps",
            name=name,
            namespace=ns,
            body=patch,
            dry_run=dry_run,
        )
        images = ", ".join(_images(kube.serialize(after.spec.template)))
        return (
            f"revision {revision_now} → the template of revision {item['to_revision']} "
            f"(ReplicaSet {rs_name}), images {images}"
        )

    return Judgement.to_change(name, change, done=ROLLED_BACK, would=WOULD)


@destructive(
    "rollback_deployment",
    retries=2,
    retry_condition_fn=retry_only_transient,
    cache_policy=NO_CACHE,
)
def rollback_deployment(
    target: KubernetesTarget, plan: Plan, approval: Approval | None, *, dry_run: bool = False
) -> Action:
    """Runbooks 000 sc. 1 / 003 / 004 "Service Outage": roll back to the pinned revision.

    Outcomes per item: "rolled back", "would roll back", "already on revision N", "changed
    since planned" (nothing of the plan is done), "refused" (a paused rollout).
    """
    return carry_out(target, plan, approval, dry_run, _judge, done=ROLLED_BACK)
