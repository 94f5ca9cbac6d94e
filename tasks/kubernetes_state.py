"""Reading a deployment's objects the way kubectl presents them: a pod's problem, a
rollout's status, which events concern which deployment. Pure functions over client objects,
apart from `tasks.kubernetes`'s requests and retries so each reads on its own.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from kubernetes import client

from tasks.kubernetes_api import scrub

__all__ = [
    "SETTLING_REASONS",
    "event_time",
    "involves",
    "is_ready",
    "iso",
    "matches",
    "pod_problem",
    "rollout_status",
]

# Waiting reasons a kubelet reports while a container is merely starting: not problems.
_STARTING_REASONS = frozenset({"ContainerCreating", "PodInitializing"})
# Pod states a healthy rollout passes through; any other reason (a crash loop, an OOM kill,
# an image that will not pull) degrades its deployment even while enough replicas serve.
SETTLING_REASONS = frozenset({"NotReady", "Pending"})


def matches(selector: client.V1LabelSelector | None, labels: dict[str, str]) -> bool:
    """Does a pod with ``labels`` belong to a deployment with this selector?"""
    if selector is None:
        return False
    if any(labels.get(k) != v for k, v in (selector.match_labels or {}).items()):
        return False
    for expr in selector.match_expressions or []:
        value, values = labels.get(expr.key), expr.values or []
        ok = {
            "In": value in values,
            "NotIn": value not in values,
            "Exists": expr.key in labels,
            "DoesNotExist": expr.key not in labels,
        }.get(expr.operator, False)
        if not ok:
            return False
    return bool(selector.match_labels or selector.match_expressions)


def is_ready(pod: client.V1Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in (pod.status.conditions or []))


def pod_problem(pod: client.V1Pod) -> dict[str, Any] | None:
    """Why a pod is unhealthy (kubectl's STATUS column, plus the OOM kill behind a crash loop).

    None for healthy, finished or terminating pods.
    """
    status = pod.status
    if pod.metadata.deletion_timestamp or status.phase == "Succeeded":
        return None
    containers: list[dict[str, Any]] = []
    for cs in [*(status.init_container_statuses or []), *(status.container_statuses or [])]:
        waiting = cs.state.waiting if cs.state else None
        terminated = cs.state.terminated if cs.state else None
        last = cs.last_state.terminated if cs.last_state else None
        containers.append(
            {
                "name": cs.name,
                "ready": bool(cs.ready),
                "restarts": cs.restart_count or 0,
                "waiting_reason": waiting.reason if waiting else None,
                "terminated_reason": terminated.reason if terminated else None,
                "last_terminated_reason": last.reason if last else None,
                "last_exit_code": last.exit_code if last else None,
                "message": scrub(waiting.message) if waiting and waiting.message else None,
            }
        )
    ready = is_ready(pod)
    failing = [
        c
        for c in containers
        if c["waiting_reason"] and c["waiting_reason"] not in _STARTING_REASONS
    ]
    if ready and not failing:
        return None
    oom = [
        c
        for c in containers
        if "OOMKilled" in (c["last_terminated_reason"], c["terminated_reason"])
    ]
    unschedulable = [
        c.reason or "Unschedulable"
        for c in status.conditions or []
        if c.type == "PodScheduled" and c.status == "False"
    ]
    if oom:
        reason = "OOMKilled"
    elif failing:
        reason = failing[0]["waiting_reason"]
    elif unschedulable:
        reason = unschedulable[0]
    elif status.phase in ("Pending", "Failed", "Unknown"):
        reason = status.reason or status.phase
    else:
        reason = "NotReady"
    return {
        "pod": pod.metadata.name,
        "uid": pod.metadata.uid,
        "phase": status.phase,
        "ready": ready,
        "reason": reason,
        "restarts": sum(c["restarts"] for c in containers),
        "node": pod.spec.node_name if pod.spec else None,
        "containers": containers,
    }


def rollout_status(d: client.V1Deployment, desired: int) -> str:
    """``kubectl rollout status``'s verdict, without waiting."""
    st = d.status
    if (d.metadata.generation or 0) > (st.observed_generation or 0):
        return "waiting for the deployment spec update to be observed"
    for cond in st.conditions or []:
        if cond.type == "Progressing" and cond.reason == "ProgressDeadlineExceeded":
            return "stalled: exceeded its progress deadline"
    updated, replicas, available = (
        st.updated_replicas or 0,
        st.replicas or 0,
        st.available_replicas or 0,
    )
    if updated < desired:
        return f"in progress: {updated} of {desired} new replicas updated"
    if replicas > updated:
        return f"in progress: {replicas - updated} old replicas pending termination"
    if available < updated:
        return f"in progress: {available} of {updated} updated replicas available"
    return "complete"


def event_time(e: client.CoreV1Event) -> datetime | None:
    return e.last_timestamp or e.event_time or e.first_timestamp or e.metadata.creation_timestamp


def involves(e: client.CoreV1Event, names: Iterable[str]) -> bool:
    """Does the event concern one of these deployments, or its ReplicaSets and pods?"""
    obj = e.involved_object.name or ""
    return any(obj == n or obj.startswith(f"{n}-") for n in names)


def iso(t: datetime | None) -> str | None:
    return t.isoformat() if t else None
