"""Raise one container's memory or CPU limit (runbooks 000 sc. 3 / 004 "High Memory Usage").

A strategic-merge patch of that one container's ``resources.limits`` (containers merge by
name, so its siblings are untouched); the Deployment rolls out pods under the new limit.
Only the limit is raised: a request is never lowered (and never raised behind the approver's
back), so if the new limit is below the request the apiserver refuses it, first in the dry
run.

Idempotent: a container already at or above ``limit_after`` is a no-op. Stale: the container
gone, its limit or request no longer what was planned, or the Deployment's spec moved on.

Plan item: ``kind`` "Deployment", ``namespace``, ``name``, ``container``, ``resource``
("memory" | "cpu"), ``limit_now`` (None: no limit), ``limit_after``, ``request_now``,
``resource_version``; optionally ``generation``.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from kubernetes.utils import parse_quantity
from prefect.cache_policies import NO_CACHE

import incident.k8s_plan_text  # noqa: F401  (registers how a limits item reads)
from blocks.kubernetes import KubernetesTarget
from incident.errors import PermanentError
from incident.models import Action, Approval, Plan
from tasks.destructive import destructive
from tasks.kubernetes_change import Judgement, carry_out, moved_on
from tasks.kubernetes_session import Gone, Kube
from tasks.retrying import retry_only_transient

__all__ = ["RESOURCES", "patch_container_limits", "quantity"]

RESOURCES = ("memory", "cpu")
RAISED, WOULD = "raised", "would raise"


def quantity(value: Any) -> Decimal | None:
    """A Kubernetes quantity ("512Mi", "0.5", "250m") as a number; None stays None."""
    return None if value in (None, "") else parse_quantity(str(value))


def _judge(kube: Kube, item: dict[str, Any]) -> Judgement:
    name, ns = item["name"], kube.target.namespace
    container, resource = item["container"], item["resource"]
    if resource not in RESOURCES or item.get("kind", "Deployment") != "Deployment":
        raise PermanentError(
            f"plan item for {name} asks to raise {resource!r} of a {item.get('kind')}: "
            f"patch_container_limits raises {' or '.join(RESOURCES)} limits of a Deployment; "
            "fix the planner"
        )
    after = quantity(item["limit_after"])
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
    found = [c for c in deployment.spec.template.spec.containers if c.name == container]
    if not found:
        return Judgement.stale(name, f"container {container} is no longer in {name}'s template")
    resources = found[0].resources
    limit = ((resources.limits if resources else None) or {}).get(resource)
    request = ((resources.requests if resources else None) or {}).get(resource)
    if limit is not None and after is not None and quantity(limit) >= after:
        return Judgement.already(
            name, f"already at {limit}", f"{container}'s {resource} limit is {limit}"
        )
    if quantity(limit) != quantity(item.get("limit_now")):
        return Judgement.stale(
            name,
            f"{container}'s {resource} limit is now {limit}, planned from {item.get('limit_now')}",
        )
    if quantity(request) != quantity(item.get("request_now")):
        return Judgement.stale(
            name,
            f"{container}'s {resource} request is now {request}, planned with "
            f"{item.get('request_now')}",
        )
    if why := moved_on(item, deployment.metadata):
        return Judgement.stale(name, f"deployment {name}: {why}")
    patch = {
        "metadata": {"resourceVersion": deployment.metadata.resource_version},
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": container,
                            "resources": {"limits": {resource: item["limit_after"]}},
                        }
                    ]
                }
            }
        },
    }

    def change(dry_run: str | None) -> str:
        answer = kube.write(
            kube.apps.patch_namespaced_deployment,
            verb="patch",
            resource="deployments",
            group="apps",
            name=name,
            namespace=ns,
            body=patch,
            dry_run=dry_run,
        )
        [c] = [c for c in answer.spec.template.spec.containers if c.name == container]
        return f"{container}'s {resource} limit {limit} → {(c.resources.limits or {})[resource]}"

    return Judgement.to_change(name, change, done=RAISED, would=WOULD)


@destructive(
    "patch_container_limits",
    retries=2,
    retry_condition_fn=retry_only_transient,
    cache_policy=NO_CACHE,
)
def patch_container_limits(
    target: KubernetesTarget, plan: Plan, approval: Approval | None, *, dry_run: bool = False
) -> Action:
    """Raise the planned container's limit (an OOMKilled container at its limit).

    Outcomes per item: "raised", "would raise", "already at 512Mi", "changed since planned",
    "refused" (the apiserver rejected it, e.g. a limit below the request).
    """
    return carry_out(target, plan, approval, dry_run, _judge, done=RAISED)
