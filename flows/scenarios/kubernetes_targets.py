"""What the Kubernetes scenarios share: their target and the runbook checks they read."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from prefect import Flow, flow
from prefect.states import State

from blocks.kubernetes import KubernetesTarget
from blocks.loading import resolve_block
from blocks.policy import IncidentPolicyBlock
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.engine import respond_with
from flows.hooks import record_abnormal_end, release_incident
from flows.phases.assess import Check
from flows.scenario import Scenario, Setting
from incident.models import Alert
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

__all__ = ["KubeTargets", "kube_checks", "kubernetes_flow"]

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
    since: datetime | None = None
    """When the alert began: what was running then is the rollout under suspicion."""

    @classmethod
    def of(cls, p: Mapping[str, Any]) -> KubeTargets:
        return cls(cluster=resolve_block(KubernetesTarget, p["cluster"]), since=p.get("since"))


def kube_checks(t: KubeTargets, policy: IncidentPolicy, *names: str) -> list[Check]:
    """The named runbook checks on the scenario's namespace."""
    extra: dict[str, dict[str, Any]] = {
        "rollout_history": {"window": policy.rollout_window, "since": t.since}
    }
    return [
        Check(name, t.cluster.label, _READS[name], {"target": t.cluster, **extra.get(name, {})})
        for name in names
    ]


_ARGS = """

    Args:
        alert: the alert that fired.
        cluster: KubernetesTarget block (name) of the workload's namespace.
        store: IncidentStore block (name) of the incident record.
        slack: SlackWorkspace block (name); None to stay silent.
        policy: IncidentPolicy block (name).
        dry_run: plan and show, change nothing.
        incident_id: the incident the receiver already recorded for this alert group.
    """


def kubernetes_flow(scenario: Scenario[KubeTargets], summary: str) -> Flow[..., Any]:
    """The scenario's flow: the same parameters for every Kubernetes scenario (its form in
    the UI), one namespace as its target, the engine doing the rest."""

    def respond_in_namespace(
        alert: Alert,
        cluster: str | KubernetesTarget = "production",
        store: str | IncidentStore = "incident-store",
        slack: str | SlackWorkspace | None = "incident-slack",
        policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
        dry_run: bool = False,
        incident_id: str | None = None,
    ) -> State:
        setting = Setting.resolve(store, slack, policy, dry_run)
        return respond_with(
            scenario,
            {"cluster": cluster, "since": alert.starts_at},
            alert,
            setting,
            incident_id=incident_id,
        )

    respond_in_namespace.__doc__ = summary + _ARGS
    return flow(
        name=scenario.name,
        flow_run_name=f"{scenario.name}-{{alert.name}}",
        on_completion=[release_incident],
        on_failure=[record_abnormal_end],
        on_crashed=[record_abnormal_end],
    )(respond_in_namespace)
