"""Kubernetes diagnostics the scenarios read before they plan (runbooks 000, 002, 004):
``kubectl rollout history``, ``kubectl logs --previous``, ``kubectl top pods`` and the
Service's endpoints — each a `diagnostic`, through the API boundary that classifies errors.

Works on v1.20 and newer clusters: core/v1 Endpoints, apps/v1 ReplicaSets, metrics.k8s.io.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client
from kubernetes.utils import parse_quantity

from blocks.kubernetes import KubernetesTarget
from incident.investigation import CONFIG_ERROR_PATTERN
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.kubernetes import REVISION_ANNOTATION
from tasks.kubernetes_api import (
    KubernetesPermanentError,
    call_api,
    kubernetes_api,
    list_in_namespace,
    scrub,
)
from tasks.kubernetes_state import matches

__all__ = [
    "read_container_logs",
    "read_pod_usage",
    "read_rollout_history",
    "read_service_endpoints",
]

_HASH = "pod-template-hash"
_ERROR_WORDS = ("error", "fatal", "panic", "exception", "traceback", "oomkilled")


def _deployments(api: client.ApiClient, target: KubernetesTarget) -> list[client.V1Deployment]:
    apps = client.AppsV1Api(api)
    found = call_api(
        api,
        target,
        apps.list_namespaced_deployment,
        verb="list",
        resource="deployments",
        group="apps",
        namespace=target.namespace,
    ).items
    watched = set(target.workloads)
    return [d for d in found if not watched or d.metadata.name in watched]


def _revision(obj: Any) -> int:
    return int((obj.metadata.annotations or {}).get(REVISION_ANNOTATION) or 0)


def _rollback_to(
    revisions: list[dict[str, Any]], current: int, since: datetime | None
) -> dict[str, Any] | None:
    """The revision to return to: the one before the revision that was running when the
    alert began. Rollouts after that (a hurried fix that failed too) are not a base to
    return to; without the alert's start, the revision before the current one."""
    older = [r for r in revisions if r["revision"] < current]  # newest first
    if since is not None:
        running = next(
            (r for r in revisions if datetime.fromisoformat(r["created"]) <= since), None
        )
        if running is not None and running["revision"] < current:
            return next((r for r in older if r["revision"] < running["revision"]), None)
    return older[0] if older else None


@diagnostic("rollout_history", tags=("kubernetes",))
def read_rollout_history(
    target: KubernetesTarget,
    *,
    since: datetime | None = None,
    window: timedelta = timedelta(minutes=30),
) -> Finding:
    """Runbook 004's ``kubectl rollout history``: per deployment its revisions, newest first,
    whether one rolled out within ``window`` before ``since`` (the alert) or after it, and the
    revision ``kubectl rollout undo`` would return to (pinned here, by ReplicaSet and hash)."""
    with kubernetes_api(target) as api:
        deployments = _deployments(api, target)
        sets = call_api(
            api,
            target,
            client.AppsV1Api(api).list_namespaced_replica_set,
            verb="list",
            resource="replicasets",
            group="apps",
            namespace=target.namespace,
        ).items
    rows = []
    for d in sorted(deployments, key=lambda d: d.metadata.name):
        own = [
            rs
            for rs in sets
            if any(o.uid == d.metadata.uid for o in rs.metadata.owner_references or [])
        ]
        revisions = sorted(
            (
                {
                    "revision": _revision(rs),
                    "replicaset": rs.metadata.name,
                    "template_hash": (rs.metadata.labels or {}).get(_HASH),
                    "created": rs.metadata.creation_timestamp.isoformat(),
                    "images": [c.image for c in rs.spec.template.spec.containers],
                }
                for rs in own
            ),
            key=lambda r: r["revision"],
            reverse=True,
        )
        current = _revision(d)
        last = next((r for r in revisions if r["revision"] == current), None)
        last_at = datetime.fromisoformat(last["created"]) if last else None
        moment = since or datetime.now(UTC)  # the alert's start, else now
        recent = bool(last_at and len(revisions) > 1 and last_at >= moment - window)
        previous = _rollback_to(revisions, current, since)
        rows.append(
            {
                "name": d.metadata.name,
                "revision": current,
                "resource_version": d.metadata.resource_version,
                "generation": d.metadata.generation,
                "observed_generation": d.status.observed_generation,
                "images": [c.image for c in d.spec.template.spec.containers],
                "containers": [
                    {
                        "name": c.name,
                        "limits": dict((c.resources.limits if c.resources else None) or {}),
                        "requests": dict((c.resources.requests if c.resources else None) or {}),
                    }
                    for c in d.spec.template.spec.containers
                ],
                "revisions": revisions,
                "last_rollout_at": last_at.isoformat() if last_at else None,
                "recent": recent,
                "rollback_to": previous,
            }
        )
    fresh = [r["name"] for r in rows if r["recent"]]
    return Finding(
        check="rollout_history",
        target=target.label,
        status=FindingStatus.OK,
        summary=(
            f"rolled out shortly before or during the incident: {', '.join(fresh)}"
            if fresh
            else f"no rollout within {int(window.total_seconds() // 60)} min of the incident"
        ),
        evidence={"deployments": rows, "window_seconds": window.total_seconds()},
    )


def _pods(api: client.ApiClient, target: KubernetesTarget) -> list[client.V1Pod]:
    return list_in_namespace(api, target, "pods")


def _owner(deployments: list[client.V1Deployment], pod: client.V1Pod) -> str | None:
    labels = pod.metadata.labels or {}
    return next((d.metadata.name for d in deployments if matches(d.spec.selector, labels)), None)


@diagnostic("container_logs", tags=("kubernetes",))
def read_container_logs(target: KubernetesTarget, *, tail_lines: int = 50) -> Finding:
    """Runbook 002 "Pod Crashes": ``kubectl logs --previous`` of every container that has
    restarted (the run that crashed), the current log otherwise, with error lines counted.
    A log that says the configuration is wrong makes the finding say so."""
    entries = []
    with kubernetes_api(target) as api:
        deployments = _deployments(api, target)
        core = client.CoreV1Api(api)
        for pod in _pods(api, target):
            owner = _owner(deployments, pod)
            if owner is None:
                continue
            for cs in pod.status.container_statuses or []:
                previous = bool(cs.restart_count) and bool(
                    cs.last_state and cs.last_state.terminated
                )
                try:
                    text = call_api(
                        api,
                        target,
                        core.read_namespaced_pod_log,
                        verb="get",
                        resource="pods/log",
                        name=pod.metadata.name,
                        namespace=target.namespace,
                        container=cs.name,
                        previous=previous,
                        tail_lines=tail_lines,
                    )
                except KubernetesPermanentError as exc:  # e.g. still pulling: say so, go on
                    text = f"(no log: {exc})"
                lines = [scrub(line) for line in str(text).splitlines()]
                errors = [line for line in lines if any(w in line.lower() for w in _ERROR_WORDS)]
                entries.append(
                    {
                        "pod": pod.metadata.name,
                        "deployment": owner,
                        "container": cs.name,
                        "previous": previous,
                        "lines": lines[-tail_lines:],
                        "error_count": len(errors),
                        "errors": errors[:5],
                    }
                )
    config = [e for e in entries if any(CONFIG_ERROR_PATTERN.search(x) for x in e["errors"])]
    erring = [e for e in entries if e["error_count"]]
    if config:
        summary = f"{config[0]['pod']} says its configuration is wrong: {config[0]['errors'][0]}"
    elif erring:
        first = erring[0]
        summary = f"{len(erring)} log(s) with errors, e.g. {first['pod']}: {first['errors'][0]}"
    else:
        summary = f"{len(entries)} container log(s) read, no error lines"
    return Finding(
        check="container_logs",
        target=target.label,
        status=FindingStatus.WARNING if erring else FindingStatus.OK,
        summary=summary[:400],
        evidence={"logs": entries, "configuration_errors": [e["pod"] for e in config]},
    )


def _bytes(value: Any) -> int | None:
    return int(parse_quantity(value)) if value is not None else None


@diagnostic("pod_usage", tags=("kubernetes",))
def read_pod_usage(target: KubernetesTarget, *, metrics_version: str = "v1beta1") -> Finding:
    """``kubectl top pods`` against each container's request and limit, worst first;
    ``skipped`` when the cluster serves no metrics API (the OOM planner does without)."""
    with kubernetes_api(target) as api:
        deployments = _deployments(api, target)
        pods = {p.metadata.name: p for p in _pods(api, target)}
        custom = client.CustomObjectsApi(api)

        def list_pod_metrics(**kw: Any) -> dict[str, Any]:
            return custom.list_namespaced_custom_object(
                "metrics.k8s.io", metrics_version, target.namespace, "pods", **kw
            )

        try:
            metrics = call_api(
                api, target, list_pod_metrics, verb="list", resource="pods", group="metrics.k8s.io"
            )
        except KubernetesPermanentError as exc:
            if exc.status != 404:
                raise
            return Finding(  # kind and many clusters ship without metrics-server
                check="pod_usage",
                target=target.label,
                status=FindingStatus.SKIPPED,
                summary=(
                    f"metrics.k8s.io/{metrics_version} is not served (404): install "
                    "metrics-server to see usage"
                ),
                evidence={
                    "http_status": 404,
                    "api": f"metrics.k8s.io/{metrics_version}",
                    "containers": [],
                },
            )
    rows = []
    for item in metrics.get("items", []):
        pod = pods.get(item["metadata"]["name"])
        if pod is None or _owner(deployments, pod) is None:
            continue
        specs = {c.name: c for c in pod.spec.containers}
        for c in item.get("containers", []):
            spec = specs.get(c["name"])
            limits = (spec.resources.limits or {}) if spec and spec.resources else {}
            requests = (spec.resources.requests or {}) if spec and spec.resources else {}
            used, limit = _bytes(c["usage"].get("memory")), _bytes(limits.get("memory"))
            rows.append(
                {
                    "pod": pod.metadata.name,
                    "deployment": _owner(deployments, pod),
                    "container": c["name"],
                    "memory_bytes": used,
                    "memory_limit_bytes": limit,
                    "memory_request_bytes": _bytes(requests.get("memory")),
                    "memory_ratio": round(used / limit, 3) if used is not None and limit else None,
                    "cpu_millicores": float(parse_quantity(c["usage"].get("cpu", "0")) * 1000),
                }
            )
    rows.sort(key=lambda r: r["memory_ratio"] or 0, reverse=True)
    hot = [r for r in rows if (r["memory_ratio"] or 0) >= 0.9]
    return Finding(
        check="pod_usage",
        target=target.label,
        status=FindingStatus.WARNING if hot else FindingStatus.OK,
        summary=(
            f"{len(hot)} container(s) at ≥ 90 % of their memory limit, worst "
            f"{hot[0]['pod']}/{hot[0]['container']} at {hot[0]['memory_ratio']:.0%}"
            if hot
            else f"{len(rows)} container(s) under 90 % of their memory limit"
        ),
        evidence={"containers": rows},
    )


@diagnostic("service_endpoints", tags=("kubernetes",))
def read_service_endpoints(target: KubernetesTarget) -> Finding:
    """Runbook 004 "Service Outage": ``kubectl get endpoints`` — services nobody can reach."""
    with kubernetes_api(target) as api:
        services = list_in_namespace(api, target, "services")
        endpoints = {e.metadata.name: e for e in list_in_namespace(api, target, "endpoints")}
    rows = []
    for svc in services:
        if not svc.spec.selector:  # ExternalName / manually managed: nothing to judge
            continue
        subsets = (endpoints.get(svc.metadata.name) or client.V1Endpoints()).subsets or []
        rows.append(
            {
                "name": svc.metadata.name,
                "ready": sum(len(s.addresses or []) for s in subsets),
                "not_ready": sum(len(s.not_ready_addresses or []) for s in subsets),
            }
        )
    down = [r["name"] for r in rows if not r["ready"]]
    return Finding(
        check="service_endpoints",
        target=target.label,
        status=FindingStatus.CRITICAL if down else FindingStatus.OK,
        summary=(
            f"no ready endpoint behind: {', '.join(down)}"
            if down
            else f"{len(rows)} service(s), each with ready endpoints"
        ),
        evidence={"services": rows, "without_ready": down},
    )
