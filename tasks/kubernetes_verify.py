"""Did the Kubernetes mitigation take effect, and does it hold? The verification checks the
resolve phase samples over its windows (runbook 002: verify, then monitor).

Each is a `tasks.diagnostic.diagnostic`: retried on transient failures, ``unreachable`` when
the API never answers. A Finding is ``ok`` only when the mitigation's effect is really
there; ``warning`` while it is still on its way (a rollout in progress, pods starting);
``critical`` when it did not work or is undone (a wrong template, new OOM kills, a crash loop,
no ready endpoint). Each docstring lists the Finding's evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.kubernetes_api import kubernetes_api
from tasks.kubernetes_session import Gone, Kube
from tasks.kubernetes_verify_pods import crash_loop_ended, no_new_oom_kills, verification_finding
from tasks.kubernetes_workloads import current_template_hash, read_deployment

__all__ = ["crash_loop_ended", "endpoints_ready", "no_new_oom_kills", "rollout_complete"]


def _worst(statuses: Sequence[FindingStatus]) -> FindingStatus:
    for status in (FindingStatus.CRITICAL, FindingStatus.WARNING):
        if status in statuses:
            return status
    return FindingStatus.OK


def _rollout(
    kube: Kube, name: str, template_hash: str | None, revision: str | None
) -> dict[str, Any]:
    deployment = read_deployment(kube, name)
    if deployment is None:
        return {"name": name, "status": FindingStatus.CRITICAL, "why": "no such deployment"}
    meta, spec, st = deployment.metadata, deployment.spec, deployment.status
    desired = spec.replicas if spec.replicas is not None else 1
    row: dict[str, Any] = {
        "name": name,
        "revision": (meta.annotations or {}).get("deployment.kubernetes.io/revision"),
        "template_hash": current_template_hash(kube, deployment),
        "generation": meta.generation,
        "observed_generation": st.observed_generation,
        "desired": desired,
        "updated": st.updated_replicas or 0,
        "ready": st.ready_replicas or 0,
        "available": st.available_replicas or 0,
        "total": st.replicas or 0,
    }
    stuck = [
        c.message
        for c in st.conditions or []
        if c.type == "Progressing" and c.reason == "ProgressDeadlineExceeded"
    ]
    if template_hash and row["template_hash"] != template_hash:
        row["status"], row["why"] = (
            FindingStatus.CRITICAL,
            f"runs template {row['template_hash']}, expected {template_hash}",
        )
    elif revision and str(row["revision"]) != str(revision):
        row["status"], row["why"] = (
            FindingStatus.CRITICAL,
            f"on revision {row['revision']}, expected {revision}",
        )
    elif (st.observed_generation or 0) >= (meta.generation or 0) and (
        row["updated"] == row["available"] == row["total"] == desired
    ):
        row["status"], row["why"] = FindingStatus.OK, "rolled out"
    elif stuck:
        row["status"], row["why"] = FindingStatus.CRITICAL, f"rollout stuck: {stuck[0]}"
    else:
        row["status"], row["why"] = (
            FindingStatus.WARNING,
            f"rolling out: {row['updated']} updated, {row['available']} available of "
            f"{desired}, {row['total']} pods",
        )
    return row


@diagnostic("rollout_complete")
def rollout_complete(
    target: KubernetesTarget,
    deployments: Sequence[str],
    template_hashes: Mapping[str, str] | None = None,
    revisions: Mapping[str, str] | None = None,
) -> Finding:
    """``kubectl rollout status`` for each named deployment, and on the expected template.

    Complete: observedGeneration ≥ generation and updated = available = all pods = desired.
    ``template_hashes`` (deployment → ``pod-template-hash``, e.g. a rollback plan's
    ``template_hash``) and ``revisions`` say which template it must be running.

    Evidence: ``deployments``: one row per name with ``revision``, ``template_hash``,
    ``generation``, ``observed_generation``, ``desired``, ``updated``, ``ready``,
    ``available``, ``total``, ``status`` and ``why``.
    """
    with kubernetes_api(target) as api:
        kube = Kube(api, target)
        rows = [
            _rollout(kube, n, (template_hashes or {}).get(n), (revisions or {}).get(n))
            for n in deployments
        ]
    status = _worst([r["status"] for r in rows])
    bad = [f"{r['name']}: {r['why']}" for r in rows if r["status"] is not FindingStatus.OK]
    summary = "; ".join(bad) if bad else f"rolled out: {', '.join(deployments)}"
    return verification_finding("rollout_complete", target, status, summary, deployments=rows)


def _endpoints(kube: Kube, service: str) -> dict[str, Any]:
    ns = kube.target.namespace
    try:
        endpoints = kube.read(
            kube.core.read_namespaced_endpoints, resource="endpoints", name=service, namespace=ns
        )
    except Gone:
        try:
            kube.read(
                kube.core.read_namespaced_service, resource="services", name=service, namespace=ns
            )
        except Gone:
            return {"service": service, "ready": 0, "not_ready": 0, "why": "no such service"}
        return {"service": service, "ready": 0, "not_ready": 0, "why": "no endpoints"}
    subsets = endpoints.subsets or []
    ready = sum(len(s.addresses or []) for s in subsets)
    not_ready = sum(len(s.not_ready_addresses or []) for s in subsets)
    why = f"{ready} ready" + (f", {not_ready} not ready" if not_ready else "")
    return {"service": service, "ready": ready, "not_ready": not_ready, "why": why}


@diagnostic("endpoints_ready")
def endpoints_ready(target: KubernetesTarget, services: Sequence[str]) -> Finding:
    """Each named service has at least one ready endpoint address (traffic has somewhere to go).

    Evidence: ``services``: one row per name with ``ready``, ``not_ready`` (address counts)
    and ``why``.
    """
    with kubernetes_api(target) as api:
        kube = Kube(api, target)
        rows = [_endpoints(kube, s) for s in services]
    empty = [r for r in rows if not r["ready"]]
    if empty:
        summary = "no ready endpoint: " + "; ".join(f"{r['service']} ({r['why']})" for r in empty)
        status = FindingStatus.CRITICAL
    else:
        summary = "ready endpoints: " + ", ".join(f"{r['service']} {r['ready']}" for r in rows)
        status = FindingStatus.OK
    return verification_finding("endpoints_ready", target, status, summary, services=rows)
