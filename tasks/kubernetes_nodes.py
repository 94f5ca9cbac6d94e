"""``kubectl describe nodes`` conditions: Ready, MemoryPressure, DiskPressure, PIDPressure
(issue 7 §2).

Nodes are cluster-scoped: the worker's namespaced Role cannot grant reading them. Without the
optional ClusterRole (deployments/k8s/worker-node-rbac.yaml) the check is ``skipped`` and
says which rule to grant, instead of failing the investigation as ``unreachable``.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.kubernetes_api import KubernetesPermanentError, call_api, kubernetes_api, scrub

__all__ = [
    "NODE_CONDITIONS_CHECK",
    "NODE_RBAC_MANIFEST",
    "NODE_RBAC_RULE",
    "node_access_skipped",
    "read_node_conditions",
]

NODE_CONDITIONS_CHECK = "node_conditions"
NODE_RBAC_MANIFEST = "deployments/k8s/worker-node-rbac.yaml"
NODE_RBAC_RULE = {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list"]}
PRESSURES = ("MemoryPressure", "DiskPressure", "PIDPressure")


def node_access_skipped(
    check: str, target: KubernetesTarget, error: KubernetesPermanentError, what: str
) -> Finding:
    """The finding of a cluster-scoped read the worker may not make: skipped, with the rule."""
    return Finding(
        check=check,
        target=target.label,
        status=FindingStatus.SKIPPED,
        summary=(
            f"{what} not checked: the worker may not list nodes (cluster-scoped, 403); apply "
            f'the optional ClusterRole in {NODE_RBAC_MANIFEST} (apiGroups [""], resources '
            '["nodes"], verbs ["get", "list"]) bound to the worker\'s ServiceAccount'
        ),
        evidence={
            "http_status": error.status,
            "error": scrub(str(error)),
            "rbac_needed": {"kind": "ClusterRole", "rules": [NODE_RBAC_RULE]},
            "manifest": NODE_RBAC_MANIFEST,
        },
    )


def list_nodes(api: client.ApiClient, target: KubernetesTarget) -> list[client.V1Node]:
    """Every node; a 403 raises `KubernetesPermanentError` with ``status`` 403."""
    return call_api(
        api, target, client.CoreV1Api(api).list_node, verb="list", resource="nodes"
    ).items


def _row(node: client.V1Node) -> dict[str, Any]:
    conditions = {c.type: c for c in (node.status.conditions or [])}
    ready = conditions.get("Ready")
    info = node.status.node_info
    return {
        "name": node.metadata.name,
        "ready": ready.status if ready else "Unknown",
        "ready_reason": ready.reason if ready else "no Ready condition",
        "ready_message": scrub(ready.message or "") if ready else "",
        "pressure": [t for t in PRESSURES if conditions.get(t) and conditions[t].status == "True"],
        "conditions": {
            t: {
                "status": c.status,
                "reason": c.reason,
                "message": scrub(c.message or ""),
                "last_heartbeat": c.last_heartbeat_time.isoformat()
                if c.last_heartbeat_time
                else None,
                "last_transition": c.last_transition_time.isoformat()
                if c.last_transition_time
                else None,
            }
            for t, c in conditions.items()
        },
        "unschedulable": bool(node.spec.unschedulable),
        "taints": [f"{t.key}:{t.effect}" for t in node.spec.taints or []],
        "kubelet_version": info.kubelet_version if info else None,
    }


@diagnostic(NODE_CONDITIONS_CHECK, tags=("kubernetes",))
def read_node_conditions(target: KubernetesTarget) -> Finding:
    """Per node its Ready condition and any pressure: critical when a node is not Ready
    (False or Unknown), warning when one reports memory, disk or PID pressure."""
    with kubernetes_api(target) as api:
        try:
            nodes = list_nodes(api, target)
        except KubernetesPermanentError as exc:
            if exc.status != 403:
                raise
            return node_access_skipped(NODE_CONDITIONS_CHECK, target, exc, "node conditions")
    rows = [_row(n) for n in sorted(nodes, key=lambda n: n.metadata.name)]
    down = [r for r in rows if r["ready"] != "True"]
    pressed = [r for r in rows if r["pressure"]]
    parts = [f"{r['name']} not Ready ({r['ready']}: {r['ready_reason']})" for r in down]
    parts += [f"{r['name']} under {', '.join(r['pressure'])}" for r in pressed]
    if down:
        status = FindingStatus.CRITICAL
    elif pressed:
        status = FindingStatus.WARNING
    else:
        status = FindingStatus.OK
    if parts:
        flagged = len({r["name"] for r in down + pressed})
        summary = f"{flagged} of {len(rows)} node(s) need attention: "
        summary = (summary + "; ".join(parts))[:400]
    elif rows:
        summary = f"all {len(rows)} node(s) Ready, without memory, disk or PID pressure"
    else:
        summary = "the cluster lists no node: nothing can run pods"
        status = FindingStatus.CRITICAL
    return Finding(
        check=NODE_CONDITIONS_CHECK,
        target=target.label,
        status=status,
        summary=summary,
        evidence={
            "nodes": rows,
            "not_ready": [r["name"] for r in down],
            "under_pressure": [r["name"] for r in pressed],
        },
    )
