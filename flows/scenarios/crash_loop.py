"""Pod crash loop: runbook 002 "Pod Crashes", with runbook 000's checks.

CrashLoopBackOff, previous-container logs read → roll back if a rollout preceded it; escalate
as a configuration error when the logs say so; delete the one bad pod among healthy ones;
else restart the deployment, once per incident. Verify the crash loop ended."""

from __future__ import annotations

from datetime import datetime

from flows.phases.assess import Check
from flows.phases.mitigate import Actuator
from flows.scenario import Scenario
from flows.scenarios.kubernetes_targets import KubeTargets, kube_checks, kubernetes_flow
from incident.k8s_planning import decide_crash_loop
from incident.models import Plan
from incident.policy import IncidentPolicy
from incident.severity import Severity
from tasks.kubernetes_actions import delete_pod, restart_deployment, rollback_deployment
from tasks.kubernetes_verify_pods import crash_loop_ended

__all__ = ["CRASH_LOOP", "crash_loop"]


def _verify(t: KubeTargets, plan: Plan, policy: IncidentPolicy, at: datetime) -> list[Check]:
    names = sorted({i.get("deployment") or i["name"] for i in plan.items})
    return [
        Check(
            "crash_loop_ended",
            t.cluster.label,
            crash_loop_ended,
            {"target": t.cluster, "deployments": names},
        ),
    ]


CRASH_LOOP: Scenario[KubeTargets] = Scenario(
    name="crash-loop",
    title="Pods crash-looping",
    runbooks=("002 Pod Crashes", "000 Investigation"),
    default_severity=Severity.HIGH,
    targets=KubeTargets.of,
    checks=lambda t, p: kube_checks(
        t, p, "deployment_status", "rollout_history", "container_logs", "warning_events"
    ),
    decide=lambda f, t, p, i: decide_crash_loop(f, t.cluster.identity, i.id),
    actuators=lambda t: {
        "rollback_deployment": Actuator(rollback_deployment, t.cluster),
        "restart_deployment": Actuator(restart_deployment, t.cluster),
        "delete_pod": Actuator(delete_pod, t.cluster),
    },
    verification=(),
    verify=_verify,
    follow_ups=(
        "Read the crashed container's logs in the evidence artifact and fix the cause",
        "Add a startup or liveness probe that tells a crash from a slow start",
    ),
)


crash_loop = kubernetes_flow(
    CRASH_LOOP, "End a crash loop the way its evidence points to, once approved."
)
