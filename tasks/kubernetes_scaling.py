"""Scale a Deployment or StatefulSet through its ``scale`` subresource (runbooks 000 / 004:
scale out under load, scale read replicas; scale to zero to stop a runaway consumer).

Through the subresource the worker needs only ``deployments/scale`` and
``statefulsets/scale``, never write access to the workload itself, and the write can change
nothing but the replica count. Scaling sets one number, so a plan is stale when that number
is no longer the one planned from (someone, or an HPA, scaled it meanwhile), not on every
status change: a StatefulSet's resourceVersion moves each time one of its pods becomes
ready. The write still carries the just-read resourceVersion, so a scale in between is a
409, not overwritten. Whether a count is allowed at all (the blast-radius cap) is the
planner's and the policy's decision, made before a person is asked.

Plan item: ``kind`` ("Deployment" | "StatefulSet"), ``namespace``, ``name``, ``replicas_now``,
``replicas_after``, ``resource_version``; optionally ``uid`` (a recreated workload is stale).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes import client
from prefect.cache_policies import NO_CACHE

import incident.k8s_plan_text  # noqa: F401  (registers how a scale item reads)
from blocks.kubernetes import KubernetesTarget
from incident.errors import PermanentError
from incident.models import Action, Approval, Plan
from tasks.destructive import destructive
from tasks.kubernetes_change import Judgement, carry_out
from tasks.kubernetes_session import Gone, Kube
from tasks.retrying import retry_only_transient

__all__ = ["SCALABLE", "scale_workload"]

SCALED, WOULD = "scaled", "would scale"
SCALABLE = ("Deployment", "StatefulSet")


def _replicas(n: int) -> str:
    return f"{n} replica{'' if n == 1 else 's'}"


def _endpoints(
    apps: client.AppsV1Api, kind: str
) -> tuple[Callable[..., Any], Callable[..., Any], str]:
    if kind == "Deployment":
        return (
            apps.read_namespaced_deployment_scale,
            apps.patch_namespaced_deployment_scale,
            "deployments/scale",
        )
    if kind == "StatefulSet":
        return (
            apps.read_namespaced_stateful_set_scale,
            apps.patch_namespaced_stateful_set_scale,
            "statefulsets/scale",
        )
    raise PermanentError(
        f"scale_workload scales a {' or a '.join(SCALABLE)}, not a {kind!r}: fix the planner"
    )


def _judge(kube: Kube, item: dict[str, Any]) -> Judgement:
    name, ns, kind = item["name"], kube.target.namespace, item["kind"]
    read, patch, resource = _endpoints(kube.apps, kind)
    after, planned = int(item["replicas_after"]), int(item["replicas_now"])
    try:
        scale = kube.read(read, resource=resource, group="apps", name=name, namespace=ns)
    except Gone:
        return Judgement.stale(name, f"{kind} {name} no longer exists")
    now = int(scale.spec.replicas or 0)
    if item.get("uid") and scale.metadata.uid != item["uid"]:
        return Judgement.stale(name, f"{kind} {name} was recreated (uid {scale.metadata.uid})")
    if now == after:
        return Judgement.already(name, f"already at {_replicas(now)}")
    if now != planned:
        return Judgement.stale(
            name, f"{kind} {name} has {_replicas(now)} now, planned from {planned}: it was scaled"
        )
    body = {
        "metadata": {"resourceVersion": scale.metadata.resource_version},
        "spec": {"replicas": after},
    }

    def change(dry_run: str | None) -> str:
        answer = kube.write(
            patch,
            verb="patch",
            resource=resource,
            group="apps",
            name=name,
            namespace=ns,
            body=body,
            dry_run=dry_run,
        )
        return f"{kind} {name}: {now} → {_replicas(answer.spec.replicas)}"

    return Judgement.to_change(name, change, done=SCALED, would=WOULD)


@destructive(
    "scale_workload",
    retries=2,
    retry_condition_fn=retry_only_transient,
    cache_policy=NO_CACHE,
)
def scale_workload(
    target: KubernetesTarget, plan: Plan, approval: Approval | None, *, dry_run: bool = False
) -> Action:
    """Set the planned replica count of each Deployment or StatefulSet.

    Outcomes per item: "scaled", "would scale", "already at N replicas", "changed since
    planned" (scaled by someone else meanwhile).
    """
    return carry_out(target, plan, approval, dry_run, _judge, done=SCALED)
