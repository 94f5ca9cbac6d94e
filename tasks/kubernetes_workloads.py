"""Reading a Deployment's pods and templates the way the verification checks need them.

A Deployment's pods are the pods its selector matches and are not already terminating (a
replaced pod on its way out is no longer the workload's); its current template is the one of
the ReplicaSet that carries the Deployment's revision.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from kubernetes import client

from tasks.kubernetes_session import Gone, Kube, label_selector

__all__ = [
    "REVISION",
    "TerminationSeen",
    "current_template_hash",
    "pods_of",
    "read_deployment",
    "terminations",
    "waiting_reasons",
]

REVISION = "deployment.kubernetes.io/revision"


@dataclass(frozen=True)
class TerminationSeen:
    """One container termination a pod's status shows (its current or its last state)."""

    pod: str
    container: str
    reason: str
    finished_at: datetime | None
    restarts: int  # this container's restarts
    pod_restarts: int  # all the pod's containers' restarts


def read_deployment(kube: Kube, name: str) -> client.V1Deployment | None:
    try:
        return kube.read(
            kube.apps.read_namespaced_deployment,
            resource="deployments",
            group="apps",
            name=name,
            namespace=kube.target.namespace,
        )
    except Gone:
        return None


def current_template_hash(kube: Kube, deployment: client.V1Deployment) -> str | None:
    """The ``pod-template-hash`` of the ReplicaSet holding the Deployment's revision."""
    revision = (deployment.metadata.annotations or {}).get(REVISION)
    sets = kube.read(
        kube.apps.list_namespaced_replica_set,
        resource="replicasets",
        group="apps",
        namespace=kube.target.namespace,
        label_selector=label_selector(deployment.spec.selector),
    ).items
    for rs in sets:
        owned = any(
            r.controller and r.uid == deployment.metadata.uid
            for r in rs.metadata.owner_references or []
        )
        if owned and (rs.metadata.annotations or {}).get(REVISION) == revision:
            return (rs.metadata.labels or {}).get("pod-template-hash")
    return None


def pods_of(kube: Kube, name: str) -> list[client.V1Pod] | None:
    """The Deployment's pods that are not terminating; None if there is no such Deployment."""
    deployment = read_deployment(kube, name)
    if deployment is None:
        return None
    pods = kube.read(
        kube.core.list_namespaced_pod,
        resource="pods",
        namespace=kube.target.namespace,
        label_selector=label_selector(deployment.spec.selector),
    ).items
    return [p for p in pods if not p.metadata.deletion_timestamp]


def waiting_reasons(pod: client.V1Pod) -> list[str]:
    return [
        cs.state.waiting.reason
        for cs in pod.status.container_statuses or []
        if cs.state and cs.state.waiting and cs.state.waiting.reason
    ]


def terminations(pod: client.V1Pod) -> list[TerminationSeen]:
    statuses = pod.status.container_statuses or []
    total = sum(cs.restart_count or 0 for cs in statuses)
    seen = []
    for cs in statuses:
        for state in (cs.state, cs.last_state):
            ended = state.terminated if state else None
            if ended is not None:
                seen.append(
                    TerminationSeen(
                        pod=pod.metadata.name,
                        container=cs.name,
                        reason=ended.reason or "",
                        finished_at=ended.finished_at,
                        restarts=cs.restart_count or 0,
                        pod_restarts=total,
                    )
                )
    return seen
