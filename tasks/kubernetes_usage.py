"""``kubectl top nodes`` and ``kubectl top pods``: usage from metrics.k8s.io against node
allocatable and pod limits (issue 7 §2).

A cluster without metrics-server does not serve metrics.k8s.io (404): the check is then
``skipped`` and says so, rather than ``unreachable``. Node metrics are cluster-scoped: the
``firebreak-node-metrics`` ClusterRole (deployments/k8s/worker-rbac.yaml) grants them, node
allocatable needs the optional node ClusterRole; without either the node part is left out
and the finding says which rule is missing. Pod usage works with the namespaced Role alone.
"""

from __future__ import annotations

from typing import Any

from kubernetes import client
from kubernetes.utils import parse_quantity

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.kubernetes_api import (
    KubernetesPermanentError,
    call_api,
    kubernetes_api,
    list_in_namespace,
)
from tasks.kubernetes_nodes import NODE_RBAC_MANIFEST, list_nodes

__all__ = ["METRICS_GROUP", "RESOURCE_USAGE_CHECK", "read_resource_usage"]

RESOURCE_USAGE_CHECK = "resource_usage"
METRICS_GROUP = "metrics.k8s.io"
HOT_RATIO = 0.9


def _num(value: Any) -> float | None:
    return float(parse_quantity(value)) if value is not None else None


def _ratio(used: float | None, total: float | None) -> float | None:
    return round(used / total, 3) if used is not None and total else None


def _sum(containers: list[client.V1Container], kind: str, resource: str) -> float | None:
    values = []
    for c in containers:
        spec = getattr(c.resources, kind, None) if c.resources else None
        values.append(_num((spec or {}).get(resource)))
    return sum(v for v in values if v is not None) if values and None not in values else None


def _pod_rows(items: list[dict[str, Any]], pods: dict[str, client.V1Pod]) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        name = item["metadata"]["name"]
        containers = item.get("containers") or []
        cpu = sum(_num(c["usage"].get("cpu", "0")) or 0 for c in containers)
        memory = sum(_num(c["usage"].get("memory", "0")) or 0 for c in containers)
        spec = pods[name].spec.containers if name in pods else []
        limit = _sum(spec, "limits", "memory")
        rows.append(
            {
                "pod": name,
                "cpu_millicores": round(cpu * 1000, 1),
                "memory_bytes": int(memory),
                "cpu_request_millicores": (
                    round(r * 1000, 1) if (r := _sum(spec, "requests", "cpu")) else None
                ),
                "memory_limit_bytes": int(limit) if limit else None,
                "memory_ratio": _ratio(memory, limit),
            }
        )
    return sorted(rows, key=lambda r: r["memory_ratio"] or 0, reverse=True)


def _node_rows(
    items: list[dict[str, Any]], nodes: dict[str, client.V1Node] | None
) -> list[dict[str, Any]]:
    rows = []
    for item in items:
        name = item["metadata"]["name"]
        cpu, memory = _num(item["usage"].get("cpu")), _num(item["usage"].get("memory"))
        node = (nodes or {}).get(name)
        alloc = (node.status.allocatable or {}) if node else {}
        rows.append(
            {
                "node": name,
                "cpu_millicores": round((cpu or 0) * 1000, 1),
                "memory_bytes": int(memory or 0),
                "cpu_ratio": _ratio(cpu, _num(alloc.get("cpu"))),
                "memory_ratio": _ratio(memory, _num(alloc.get("memory"))),
            }
        )
    return sorted(
        rows, key=lambda r: max(r["cpu_ratio"] or 0, r["memory_ratio"] or 0), reverse=True
    )


@diagnostic(RESOURCE_USAGE_CHECK, tags=("kubernetes",))
def read_resource_usage(target: KubernetesTarget, *, metrics_version: str = "v1beta1") -> Finding:
    """Pods of the namespace and nodes of the cluster, from metrics.k8s.io: a warning when a
    pod is at >= 90 % of its memory limit or a node at >= 90 % of its allocatable CPU or
    memory; ``skipped`` when the cluster serves no metrics API."""
    notes: list[str] = []
    with kubernetes_api(target) as api:
        custom = client.CustomObjectsApi(api)

        def pod_metrics(**kw: Any) -> dict[str, Any]:
            return custom.list_namespaced_custom_object(
                METRICS_GROUP, metrics_version, target.namespace, "pods", **kw
            )

        def node_metrics(**kw: Any) -> dict[str, Any]:
            return custom.list_cluster_custom_object(METRICS_GROUP, metrics_version, "nodes", **kw)

        try:
            pod_items = call_api(
                api, target, pod_metrics, verb="list", resource="pods", group=METRICS_GROUP
            ).get("items", [])
        except KubernetesPermanentError as exc:
            if exc.status != 404:
                raise
            return Finding(
                check=RESOURCE_USAGE_CHECK,
                target=target.label,
                status=FindingStatus.SKIPPED,
                summary=(
                    f"metrics API not available: the cluster does not serve "
                    f"{METRICS_GROUP}/{metrics_version} (404); install metrics-server to see "
                    "node and pod usage"
                ),
                evidence={"http_status": 404, "api": f"{METRICS_GROUP}/{metrics_version}"},
            )
        pods = {p.metadata.name: p for p in list_in_namespace(api, target, "pods")}
        node_items: list[dict[str, Any]] = []
        nodes: dict[str, client.V1Node] | None = None
        try:
            node_items = call_api(
                api, target, node_metrics, verb="list", resource="nodes", group=METRICS_GROUP
            ).get("items", [])
        except KubernetesPermanentError as exc:
            if exc.status != 403:
                raise
            notes.append(
                "node usage left out: the worker may not list nodes.metrics.k8s.io (apply the "
                "firebreak-node-metrics ClusterRole of deployments/k8s/worker-rbac.yaml)"
            )
        if node_items:
            try:
                nodes = {n.metadata.name: n for n in list_nodes(api, target)}
            except KubernetesPermanentError as exc:
                if exc.status != 403:
                    raise
                notes.append(
                    "node allocatable unknown: the worker may not list nodes (apply the "
                    f"optional ClusterRole in {NODE_RBAC_MANIFEST})"
                )
    pod_rows, node_rows = _pod_rows(pod_items, pods), _node_rows(node_items, nodes)
    hot_pods = [r for r in pod_rows if (r["memory_ratio"] or 0) >= HOT_RATIO]
    hot_nodes = [
        r for r in node_rows if max(r["cpu_ratio"] or 0, r["memory_ratio"] or 0) >= HOT_RATIO
    ]
    parts = [
        f"node {r['node']} at {r['cpu_ratio'] or 0:.0%} CPU, {r['memory_ratio'] or 0:.0%} memory"
        for r in hot_nodes
    ]
    parts += [f"pod {r['pod']} at {r['memory_ratio']:.0%} of its memory limit" for r in hot_pods]
    if parts:
        summary = "near capacity: " + "; ".join(parts)
    else:
        summary = (
            f"{len(pod_rows)} pod(s) in namespace '{target.namespace}' and {len(node_rows)} "
            "node(s) measured, none at 90 % of its limit or allocatable"
        )
    if notes:
        summary += f" ({notes[0]})"
    return Finding(
        check=RESOURCE_USAGE_CHECK,
        target=target.label,
        status=FindingStatus.WARNING if parts else FindingStatus.OK,
        summary=summary[:500],
        evidence={
            "pods": pod_rows,
            "nodes": node_rows,
            "hot_pods": [r["pod"] for r in hot_pods],
            "hot_nodes": [r["node"] for r in hot_nodes],
            "notes": notes,
        },
    )
