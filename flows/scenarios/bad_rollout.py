"""Complete outage after a bad rollout: runbook 000 scenario 1, 004 "Service Outage", 003
application rollback. No ready endpoints, a rollout shortly before → roll back to the
revision pinned when the plan was made; verify the rollout completes on that template and
the services have ready endpoints again."""

from __future__ import annotations

from datetime import datetime

from flows.phases.assess import Check
from flows.phases.mitigate import Actuator
from flows.scenario import Scenario
from flows.scenarios.kubernetes_targets import KubeTargets, kube_checks, kubernetes_flow
from incident.k8s_planning import decide_outage
from incident.models import Plan
from incident.policy import IncidentPolicy
from incident.severity import Severity
from tasks.kubernetes_actions import rollback_deployment
from tasks.kubernetes_reads import read_service_endpoints
from tasks.kubernetes_verify import rollout_complete

__all__ = ["BAD_ROLLOUT", "bad_rollout"]


def _verify(t: KubeTargets, plan: Plan, policy: IncidentPolicy, at: datetime) -> list[Check]:
    names = [i["name"] for i in plan.items]
    hashes = {i["name"]: i["template_hash"] for i in plan.items}
    return [
        Check(
            "rollout_complete",
            t.cluster.label,
            rollout_complete,
            {"target": t.cluster, "deployments": names, "template_hashes": hashes},
        ),
        Check("service_endpoints", t.cluster.label, read_service_endpoints, {"target": t.cluster}),
    ]


BAD_ROLLOUT: Scenario[KubeTargets] = Scenario(
    name="service-outage",
    title="Service outage after a rollout",
    runbooks=("000 scenario 1", "004 Service Outage", "003 Application Rollback"),
    default_severity=Severity.CRITICAL,
    targets=KubeTargets.of,
    checks=lambda t, p: kube_checks(
        t,
        p,
        "deployment_status",
        "rollout_history",
        "service_endpoints",
        "ingress_backends",
        "warning_events",
    ),
    decide=lambda f, t, p, i: decide_outage(f, t.cluster.identity),
    actuators=lambda t: {"rollback_deployment": Actuator(rollback_deployment, t.cluster)},
    verification=(),
    verify=_verify,
    follow_ups=(
        "Find what in the rolled-back release broke the service, fix it forward",
        "Gate rollouts on readiness (progress deadline, canary) so a bad one stops by itself",
    ),
)


bad_rollout = kubernetes_flow(
    BAD_ROLLOUT,
    "Roll a service back to the revision before the rollout that broke it, once approved.",
)
