"""Rolling restart of a Deployment, once per incident (runbooks 002 "Pod Crashes" / 004).

``kubectl rollout restart`` stamps the pod template with ``kubectl.kubernetes.io/restartedAt:
<now>``, so every retry restarts again. Ours stamps ``firebreak.io/restarted-for:
<incident id>``: a retried apply, or a re-run of the flow after a crash, finds the stamp and
is a no-op, and an incident restarts a Deployment at most once. A later incident stamps its
own id and restarts again.

Plan item: ``kind`` "Deployment", ``namespace``, ``name``, ``resource_version``,
``incident_id``; optionally ``generation``.
"""

from __future__ import annotations

from typing import Any

from prefect.cache_policies import NO_CACHE

import incident.k8s_plan_text  # noqa: F401  (registers how a restart item reads)
from blocks.kubernetes import KubernetesTarget
from incident.models import Action, Approval, Plan
from tasks.destructive import destructive
from tasks.kubernetes_change import Judgement, carry_out, moved_on
from tasks.kubernetes_session import Gone, Kube
from tasks.retrying import retry_only_transient

__all__ = ["RESTARTED_FOR", "restart_deployment"]

RESTARTED_FOR = "firebreak.io/restarted-for"
RESTARTED, WOULD = "restarted", "would restart"


def _judge(kube: Kube, item: dict[str, Any]) -> Judgement:
    name, ns, incident_id = item["name"], kube.target.namespace, str(item["incident_id"])
    if item.get("kind", "Deployment") != "Deployment":
        return Judgement.refused(name, f"{item.get('kind')} cannot be restarted here")
    try:
        deployment = kube.read(
            kube.apps.read_namespaced_deployment,
            resource="deployments",
            group="apps",
            name=name,
            namespace=ns,
        )
    except Gone:
        return Judgement.stale(name, f"deployment {name} no longer exists")
    stamp = (deployment.spec.template.metadata.annotations or {}).get(RESTARTED_FOR)
    if stamp == incident_id:
        return Judgement.already(
            name, f"already restarted for {incident_id}", f"its pods carry {RESTARTED_FOR}"
        )
    if why := moved_on(item, deployment.metadata):
        return Judgement.stale(name, f"deployment {name}: {why}")
    if deployment.spec.paused:
        return Judgement.refused(
            name, f"deployment {name} is paused: resume its rollout first; nothing was done"
        )
    patch = {
        "metadata": {"resourceVersion": deployment.metadata.resource_version},
        "spec": {"template": {"metadata": {"annotations": {RESTARTED_FOR: incident_id}}}},
    }

    def change(dry_run: str | None) -> str:
        kube.write(
            kube.apps.patch_namespaced_deployment,
            verb="patch",
            resource="deployments",
            group="apps",
            name=name,
            namespace=ns,
            body=patch,
            dry_run=dry_run,
        )
        return f"new pods for {name}, marked {RESTARTED_FOR}: {incident_id}"

    return Judgement.to_change(name, change, done=RESTARTED, would=WOULD)


@destructive(
    "restart_deployment",
    retries=2,
    retry_condition_fn=retry_only_transient,
    cache_policy=NO_CACHE,
)
def restart_deployment(
    target: KubernetesTarget, plan: Plan, approval: Approval | None, *, dry_run: bool = False
) -> Action:
    """Replace every pod of the Deployment by a rolling update, at most once per incident.

    Outcomes per item: "restarted", "would restart", "already restarted for INC-…",
    "changed since planned", "refused" (a paused rollout).
    """
    return carry_out(target, plan, approval, dry_run, _judge, done=RESTARTED)
