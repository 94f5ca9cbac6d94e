"""High memory / OOM: runbook 000 scenario 3, 004 "High Memory Usage", 001 memory-leak pattern.

Containers OOM-killed with their usage at the limit → raise that container's memory limit by
the policy's factor (never past its cap) with a strategic-merge patch; verify no new OOM kill
and every pod running under the raised limit."""

from __future__ import annotations

from datetime import datetime

from kubernetes.utils import parse_quantity

from flows.phases.assess import Check
from flows.phases.mitigate import Actuator
from flows.scenario import Scenario
from flows.scenarios.kubernetes_targets import KubeTargets, kube_checks, kubernetes_flow
from incident.k8s_planning import decide_oom
from incident.models import Plan
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
    checks=lambda t, p: kube_checks(
        t,
        p,
        "deployment_status",
        "pod_usage",
        "rollout_history",
        "warning_events",
        "node_conditions",
    ),
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


high_memory = kubernetes_flow(
    HIGH_MEMORY, "Raise the memory limit of containers OOM-killed at it, once approved."
)
