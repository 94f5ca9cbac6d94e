"""Delete one bad pod so its controller replaces it (runbook 002 "Pod Crashes").

A pod's name is not the pod: a StatefulSet recreates ``db-0`` under the same name, and a
person approved deleting the one they saw. The delete therefore carries a ``uid``
precondition, so a newer pod of that name is never hit (409: stale, re-plan). The pod's
``resourceVersion`` is not a precondition: a crash-looping pod's status, and so its
resourceVersion, changes with every restart. A pod already gone (404) is a no-op.

The dry run sends the same DELETE with ``dryRun: [All]`` **in the request body**. With a
body (and a precondition needs one), kube-apiserver reads every delete option from the body
and ignores the query string: a ``?dryRun=All`` beside a body deletes for real (seen on
v1.20). The query parameter is sent too, only so the audit log shows the request as a dry run.

Plan item: ``namespace``, ``name``, ``uid``, ``resource_version``; optionally ``reason``.
"""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

import incident.k8s_plan_text  # noqa: F401  (registers how a pod item reads)
from blocks.kubernetes import KubernetesTarget
from incident.models import Action, Approval, Plan
from tasks.destructive import destructive
from tasks.kubernetes_change import Judgement, carry_out
from tasks.kubernetes_session import Gone, Kube
from tasks.retrying import retry_only_transient

__all__ = ["delete_options", "delete_pod"]

DELETED, WOULD = "deleted", "would delete"


def delete_options(uid: str, dry_run: str | None) -> dict[str, Any]:
    """The DeleteOptions body: the uid precondition, and the dry run where it counts."""
    body: dict[str, Any] = {"preconditions": {"uid": uid}}
    if dry_run:
        body["dryRun"] = [dry_run]
    return body


def _judge(kube: Kube, item: dict[str, Any]) -> Judgement:
    name, ns, uid = item["name"], kube.target.namespace, str(item["uid"])
    try:
        pod = kube.read(kube.core.read_namespaced_pod, resource="pods", name=name, namespace=ns)
    except Gone:
        return Judgement.already(name, "already gone", f"no pod {name} in {ns}")
    if pod.metadata.uid != uid:
        return Judgement.stale(
            name,
            f"{name} is a new pod now (uid {pod.metadata.uid}, planned {uid}): it was left alone",
        )
    if pod.metadata.deletion_timestamp:
        return Judgement.already(
            name,
            "already being deleted",
            f"deletion requested at {pod.metadata.deletion_timestamp}",
        )

    def change(dry_run: str | None) -> str:
        kube.write(
            kube.core.delete_namespaced_pod,
            verb="delete",
            resource="pods",
            name=name,
            namespace=ns,
            body=delete_options(uid, dry_run),
            dry_run=dry_run,
        )
        owner = next((r for r in pod.metadata.owner_references or [] if r.controller), None)
        return (
            f"pod {name} (uid {uid}); its {owner.kind} {owner.name} replaces it"
            if owner
            else f"pod {name} (uid {uid}); no controller owns it: it is not replaced"
        )

    return Judgement.to_change(name, change, done=DELETED, would=WOULD, gone_is_done=True)


@destructive(
    "delete_pod",
    retries=2,
    retry_condition_fn=retry_only_transient,
    cache_policy=NO_CACHE,
)
def delete_pod(
    target: KubernetesTarget, plan: Plan, approval: Approval | None, *, dry_run: bool = False
) -> Action:
    """Delete exactly the planned pods (by uid), each one its controller will replace.

    Outcomes per item: "deleted", "would delete", "already gone", "already being deleted",
    "changed since planned" (a new pod under that name: left alone).
    """
    return carry_out(target, plan, approval, dry_run, _judge, done=DELETED)
