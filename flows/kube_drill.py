"""The Kubernetes drills: a bad rollout, a crash loop, an OOM kill, each answered for real.

The fault is a Deployment of the drill's own in the drill namespace (`sandbox.injectors`);
the alert goes through `respond` and the shipped routing rules, as Alertmanager's would, so
the drill rehearses the routing too. The on-call approves only a plan confined to the
drill's own Deployment: on a shared staging namespace, a plan that would also touch a real
workload is rejected and the drill fails, which is what a person should see. The scorecard
reads the cluster, not the flow's report of itself, and every other Deployment of the
namespace must keep its generation (nothing else was changed).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

from kubernetes import client
from kubernetes.client.rest import ApiException

from blocks.kubernetes import KubernetesTarget
from blocks.store import IncidentStore
from flows.drill import DRILL_POLICY, DRILL_TOKEN, RECORD_SCHEMA, DrillReport
from flows.drill_run import finish, fire, posted
from incident.errors import PermanentError
from incident.models import Plan, new_incident_id
from sandbox.approver import OnCall
from sandbox.drill_registry import drill_spec
from sandbox.injectors import INJECTORS, DrillTargets, FaultSession
from sandbox.injectors.kubernetes import DeploymentFault
from sandbox.slack_stub import SlackStub

__all__ = ["run_bad_rollout_drill", "run_crash_loop_drill", "run_oom_kill_drill"]

KUBE_POLICY = DRILL_POLICY.model_copy(update={"verification_window": timedelta(seconds=90)})

# drill → the alert kube-prometheus would fire for it (the routes pick the scenario)
ALERTS = {
    "bad-rollout": "KubeDeploymentRolloutStuck",
    "crash-loop": "KubePodCrashLooping",
    "oom-kill": "KubeContainerOOMKilled",
}


def _generations(cluster: KubernetesTarget, but: str) -> dict[str, int]:
    """Every other Deployment's generation: it moves only when its spec is changed."""
    with cluster.api_client() as api:
        items = client.AppsV1Api(api).list_namespaced_deployment(cluster.namespace).items
    return {d.metadata.name: d.metadata.generation for d in items if d.metadata.name != but}


def _require_namespace(cluster: KubernetesTarget) -> None:
    with cluster.api_client() as api:
        try:
            client.CoreV1Api(api).read_namespace(cluster.namespace)
        except ApiException as exc:
            if exc.status == 404:
                raise PermanentError(
                    f"the drill namespace {cluster.namespace!r} does not exist: create it "
                    f"(kubectl create namespace {cluster.namespace}) or name another one "
                    "(FIREBREAK_DRILL_NAMESPACE)"
                ) from None
            raise


def _healthy(fault: DeploymentFault, cluster: KubernetesTarget) -> bool:
    """The drill's Deployment serves again: every replica updated and available."""
    with cluster.api_client() as api:
        d = client.AppsV1Api(api).read_namespaced_deployment(fault.name, fault.namespace)
    want, status = d.spec.replicas or 0, d.status
    return bool(
        status
        and (status.observed_generation or 0) >= (d.metadata.generation or 0)
        and (status.updated_replicas or 0) == want
        and (status.available_replicas or 0) == want
        and not fault.present()
    )


def _eventually(check: Callable[[], bool], timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(1)
    return True


def run_kubernetes_drill(
    kind: str, admin_dsn: str, cluster: KubernetesTarget, approve_after: float = 1.0
) -> DrillReport:
    """Inject ``kind``'s fault, respond through the routes, approve, score; always remove."""
    alertname, scenario = ALERTS[kind], drill_spec(kind).responder
    _require_namespace(cluster)
    report = DrillReport(scenario=kind)
    store = IncidentStore(dsn=admin_dsn, schema_name=RECORD_SCHEMA)
    record = store.open()
    targets = DrillTargets(kubernetes=cluster)
    fault = INJECTORS[kind](targets)
    assert isinstance(fault, DeploymentFault)
    with (
        SlackStub(token=DRILL_TOKEN) as slack_stub,
        FaultSession(admin_dsn, RECORD_SCHEMA, targets) as session,
        session.injected(fault),
    ):
        was_present = fault.present()  # read from the cluster, as the alert would see it
        others = _generations(cluster, but=fault.name)
        own = new_incident_id()
        on_call = OnCall(
            record, scenario, own, read_seconds=approve_after, judge=_confined_to(fault.name)
        )
        on_call.start()
        state = fire(
            alertname,
            f"{fault.target}: {kind}",
            {"namespace": cluster.namespace, "deployment": fault.name},
            incident_id=own,
            target=("cluster", cluster),
            store=store,
            slack_stub=slack_stub,
            policy=KUBE_POLICY,
        )
        on_call.join(timeout=5)
        report.state, report.incident_id = state.name or "", own
        report.checks = {
            f"fault injected ({kind} seen on the cluster)": was_present,
            "incident declared in the channel": posted(slack_stub, "INCIDENT DECLARED"),
            "approval asked for in the channel": posted(slack_stub, "APPROVAL NEEDED"),
            "plan confined to the drill's deployment": on_call.objection is None,
            "approval requested and given": on_call.approved,
            "drill deployment healthy again (read from the cluster)": _eventually(
                lambda: _healthy(fault, cluster)
            ),
            "every other deployment untouched": _generations(cluster, but=fault.name) == others,
            "resolution posted": posted(slack_stub, "INCIDENT RESOLVED"),
            "run ended Resolved": state.name == "Resolved",
        }
    return finish(report, record)


def _confined_to(deployment: str) -> Callable[[list[Plan]], str | None]:
    """The on-call's objection to plans reaching beyond the drill's own Deployment."""

    def judge(plans: list[Plan]) -> str | None:
        touched = {i.get("deployment") or i.get("name") for p in plans for i in p.items}
        if touched == {deployment}:
            return None
        return f"plan reaches beyond the drill: {', '.join(sorted(map(str, touched)))}"

    return judge


def run_bad_rollout_drill(admin_dsn: str, targets: DrillTargets) -> DrillReport:
    return run_kubernetes_drill("bad-rollout", admin_dsn, _cluster(targets))


def run_crash_loop_drill(admin_dsn: str, targets: DrillTargets) -> DrillReport:
    return run_kubernetes_drill("crash-loop", admin_dsn, _cluster(targets))


def run_oom_kill_drill(admin_dsn: str, targets: DrillTargets) -> DrillReport:
    return run_kubernetes_drill("oom-kill", admin_dsn, _cluster(targets))


def _cluster(targets: DrillTargets) -> KubernetesTarget:
    if targets.kubernetes is None:
        raise PermanentError(
            "the Kubernetes drills need a cluster: set FIREBREAK_DRILL_KUBECONFIG (the local "
            "control plane, kind, k3d) or the drill deployment's `cluster` block; the other "
            "drills run without one"
        )
    return targets.kubernetes
