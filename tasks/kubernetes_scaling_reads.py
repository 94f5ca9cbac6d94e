"""``kubectl get hpa``: HorizontalPodAutoscalers that cannot scale further (issue 7 §2).

autoscaling/v1, which every cluster serves (v2 needs 1.23+). v1 keeps the controller's
conditions (``ScalingLimited``/``TooManyReplicas``, ...) in an annotation; they are read
from there as evidence.
"""

from __future__ import annotations

import json
from typing import Any

from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.kubernetes_api import call_api, kubernetes_api, scrub

__all__ = ["HPA_LIMITS_CHECK", "read_hpa_limits"]

HPA_LIMITS_CHECK = "hpa_limits"
CONDITIONS_ANNOTATION = "autoscaling.alpha.kubernetes.io/conditions"


def _conditions(hpa: client.V1HorizontalPodAutoscaler) -> list[dict[str, Any]]:
    raw = (hpa.metadata.annotations or {}).get(CONDITIONS_ANNOTATION)
    try:
        found = json.loads(raw) if raw else []
    except ValueError:
        return []
    return [
        {
            "type": c.get("type"),
            "status": c.get("status"),
            "reason": c.get("reason"),
            "message": scrub(str(c.get("message") or "")),
        }
        for c in found
        if isinstance(c, dict)
    ]


def _row(hpa: client.V1HorizontalPodAutoscaler) -> dict[str, Any]:
    spec, st = hpa.spec, hpa.status
    current = (st.current_replicas or 0) if st else 0
    return {
        "name": hpa.metadata.name,
        "target": f"{spec.scale_target_ref.kind}/{spec.scale_target_ref.name}",
        "target_name": spec.scale_target_ref.name,
        "min_replicas": spec.min_replicas if spec.min_replicas is not None else 1,
        "max_replicas": spec.max_replicas,
        "current_replicas": current,
        "desired_replicas": st.desired_replicas if st else None,
        "cpu_percent": st.current_cpu_utilization_percentage if st else None,
        "cpu_target_percent": spec.target_cpu_utilization_percentage,
        "last_scale_time": st.last_scale_time.isoformat() if st and st.last_scale_time else None,
        "at_max": current >= spec.max_replicas,
        "conditions": _conditions(hpa),
    }


def _describe(r: dict[str, Any]) -> str:
    text = f"{r['name']} ({r['target']}) at {r['current_replicas']}/{r['max_replicas']} replicas"
    if r["cpu_percent"] is not None and r["cpu_target_percent"] is not None:
        text += f", CPU {r['cpu_percent']}% of a {r['cpu_target_percent']}% target"
    return text


@diagnostic(HPA_LIMITS_CHECK, tags=("kubernetes",))
def read_hpa_limits(target: KubernetesTarget) -> Finding:
    """Every HPA of the namespace (of the watched workloads, when the block names some):
    a warning when one runs at its maximum (currentReplicas >= maxReplicas), since it
    cannot add a replica however high the load climbs."""
    with kubernetes_api(target) as api:
        found = call_api(
            api,
            target,
            client.AutoscalingV1Api(api).list_namespaced_horizontal_pod_autoscaler,
            verb="list",
            resource="horizontalpodautoscalers",
            group="autoscaling",
            namespace=target.namespace,
        ).items
    watched = set(target.workloads)
    rows = [
        _row(h)
        for h in sorted(found, key=lambda h: h.metadata.name)
        if not watched or h.spec.scale_target_ref.name in watched
    ]
    full = [r for r in rows if r["at_max"]]
    where = f"namespace '{target.namespace}'"
    if full:
        summary = (
            f"{len(full)} HPA(s) in {where} cannot scale further: "
            + "; ".join(_describe(r) for r in full)
        )[:400]
    elif rows:
        summary = f"{len(rows)} HPA(s) in {where}, each below its maximum replicas"
    else:
        summary = f"no HorizontalPodAutoscaler in {where}"
    return Finding(
        check=HPA_LIMITS_CHECK,
        target=target.label,
        status=FindingStatus.WARNING if full else FindingStatus.OK,
        summary=summary,
        evidence={"hpas": rows, "at_max": [r["name"] for r in full]},
    )
