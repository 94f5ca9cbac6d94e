"""What the Kubernetes scenarios share: their target and the runbook checks they read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from blocks.kubernetes import KubernetesTarget
from blocks.loading import resolve_block
from flows.phases.assess import Check
from incident.policy import IncidentPolicy
from tasks.kubernetes import get_deployment_status
from tasks.kubernetes_events import read_warning_events
from tasks.kubernetes_ingress import read_ingress_backends
from tasks.kubernetes_nodes import read_node_conditions
from tasks.kubernetes_reads import (
    read_container_logs,
    read_pod_usage,
    read_rollout_history,
    read_service_endpoints,
)
from tasks.kubernetes_scaling_reads import read_hpa_limits
from tasks.kubernetes_usage import read_resource_usage

__all__ = ["KubeTargets", "kube_checks"]

_READS = {
    "deployment_status": get_deployment_status,
    "rollout_history": read_rollout_history,
    "service_endpoints": read_service_endpoints,
    "pod_usage": read_pod_usage,
    "container_logs": read_container_logs,
    # the diagnostics catalogue (issue 7 §2): available to every scenario by name
    "warning_events": read_warning_events,
    "node_conditions": read_node_conditions,
    "hpa_limits": read_hpa_limits,
    "ingress_backends": read_ingress_backends,
    "resource_usage": read_resource_usage,
}


@dataclass(frozen=True)
class KubeTargets:
    cluster: KubernetesTarget

    @classmethod
    def of(cls, p: Mapping[str, Any]) -> KubeTargets:
        return cls(cluster=resolve_block(KubernetesTarget, p["cluster"]))


def kube_checks(t: KubeTargets, policy: IncidentPolicy, *names: str) -> list[Check]:
    """The named runbook checks on the scenario's namespace."""
    extra: dict[str, dict[str, Any]] = {"rollout_history": {"window": policy.rollout_window}}
    return [
        Check(name, t.cluster.label, _READS[name], {"target": t.cluster, **extra.get(name, {})})
        for name in names
    ]
