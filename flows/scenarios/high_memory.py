"""High memory / OOM: runbook 000 scenario 3, 004 "High Memory Usage", 001 memory-leak pattern.

Containers OOM-killed with their usage at the limit → raise that container's memory limit by
the policy's factor (never past its cap) with a strategic-merge patch; verify no new OOM kill
and every pod running under the raised limit."""

from __future__ import annotations

from datetime import datetime

from kubernetes.utils import parse_quantity
from prefect import flow

from blocks.kubernetes import KubernetesTarget
from blocks.policy import IncidentPolicyBlock
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.engine import Scenario, Setting, respond_with
from flows.hooks import record_abnormal_end, release_incident
from flows.phases.assess import Check
from flows.phases.mitigate import Actuator
from flows.scenarios.kubernetes_targets import KubeTargets, kube_checks
from incident.k8s_planning import decide_oom
from incident.models import Alert, Plan
from incident.policy import IncidentPolicy
from incident.severity import Severity
from tasks.kubernetes_actions import patch_container_limits
from tasks.kubernetes_verify_pods import no_new_oom_kills

__all__ = ["HIGH_MEMORY", "high_memory"]


def _verify(t: KubeTargets, plan: Plan, policy: IncidentPolicy, at: datetime) -> list[Check]:
    names = sorted({i["name"] for i in plan.items})
    return [
        Check(
            "no_new_oom_kills",
            t.cluster.label,
            no_new_oom_kills,
            {"target": t.cluster, "deployments": names, "since": at},
        ),
    ]


HIGH_MEMORY: Scenario[KubeTargets] = Scenario(
    name="high-memory",
    title="Containers killed for running out of memory",
    runbooks=("000 scenario 3", "004 High Memory Usage", "001 pattern 2"),
    default_severity=Severity.HIGH,
    targets=KubeTargets.of,
    checks=lambda t, p: kube_checks(t, p, "deployment_status", "pod_usage", "rollout_history"),
    decide=lambda f, t, p, i: decide_oom(
        f,
        t.cluster.identity,
        factor=p.memory_limit_factor,
        cap_bytes=int(parse_quantity(p.memory_limit_cap)),
    ),
    actuators=lambda t: {"patch_container_limits": Actuator(patch_container_limits, t.cluster)},
    verification=(),
    verify=_verify,
    follow_ups=(
        "Profile the container's memory: a leak grows back to any limit (runbook 001)",
        "Set the raised limit in the manifests, or the next deploy undoes it",
    ),
)


@flow(
    name="high-memory",
    flow_run_name="high-memory-{alert.name}",
    on_completion=[release_incident],
    on_failure=[record_abnormal_end],
    on_crashed=[record_abnormal_end],
)
def high_memory(
    alert: Alert,
    cluster: str | KubernetesTarget = "production",
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = "incident-slack",
    policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
    dry_run: bool = False,
    incident_id: str | None = None,
):  # type: ignore[no-untyped-def]
    """Raise the memory limit of containers OOM-killed at it, once approved.

    Args:
        alert: the alert that fired.
        cluster: KubernetesTarget block (name) of the workload's namespace.
        store: IncidentStore block (name) of the incident record.
        slack: SlackWorkspace block (name); None to stay silent.
        policy: IncidentPolicy block (name): the raise factor and its cap.
        dry_run: plan and show, change nothing.
        incident_id: the incident the receiver already recorded for this alert group.
    """
    setting = Setting.resolve(store, slack, policy, dry_run)
    return respond_with(HIGH_MEMORY, {"cluster": cluster}, alert, setting, incident_id=incident_id)
