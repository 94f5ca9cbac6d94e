"""Kubernetes diagnostics (runbook checks ``kubectl get pods``, ``kubectl rollout status``,
``kubectl get events --sort-by=.lastTimestamp``).

Requests go through `tasks.kubernetes_api`, where every failure is classified once; a read
that still fails after its retries ends as an ``unreachable`` Finding, never an exception.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import prefect.runtime
from kubernetes import client
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from blocks.kubernetes import KubernetesTarget
from incident.errors import FirebreakError, PermanentError
from incident.models import Finding, FindingStatus
from tasks.kubernetes_api import (
    KubernetesError,
    call_api,
    describe_target,
    kubernetes_api,
    scrub,
)
from tasks.kubernetes_state import (
    SETTLING_REASONS,
    event_time,
    involves,
    iso,
    matches,
    pod_problem,
    rollout_status,
)
from tasks.retrying import retry_only_transient

__all__ = [
    "DEPLOYMENT_STATUS_CHECK",
    "get_deployment_status",
    "read_deployment_status",
]

DEPLOYMENT_STATUS_CHECK = "deployment_status"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"

READ_RETRIES = 3
READ_RETRY_DELAY_SECONDS = 1.0  # backoff factor: 1, 2, 4 s, plus up to 50 % jitter
READ_RETRY_JITTER_FACTOR = 0.5
REQUESTS_PER_READ = 3  # deployments, pods, events
MAX_WARNING_EVENTS = 10

_EPOCH = datetime.min.replace(tzinfo=UTC)


def _assess(
    target: KubernetesTarget,
    deployments: list[client.V1Deployment],
    pods: list[client.V1Pod],
    events: list[client.CoreV1Event],
) -> Finding:
    watched = set(target.workloads)
    if watched:
        deployments = [d for d in deployments if d.metadata.name in watched]
    missing = sorted(watched - {d.metadata.name for d in deployments})

    rows: list[dict[str, Any]] = []
    problem_pods: list[dict[str, Any]] = []
    for d in sorted(deployments, key=lambda d: d.metadata.name):
        name, st = d.metadata.name, d.status
        desired = d.spec.replicas if d.spec.replicas is not None else 1
        available = st.available_replicas or 0
        own = [p for p in pods if matches(d.spec.selector, p.metadata.labels or {})]
        problems = [dict(p, deployment=name) for p in map(pod_problem, own) if p]
        problem_pods += problems
        rollout = rollout_status(d, desired)
        if desired > 0 and available == 0:
            health = "down"
        elif (
            available < desired
            or rollout.startswith("stalled")
            or any(p["reason"] not in SETTLING_REASONS for p in problems)
        ):
            health = "degraded"
        else:
            health = "ok"
        rows.append(
            {
                "name": name,
                "health": health,
                "desired": desired,
                "ready": st.ready_replicas or 0,
                "updated": st.updated_replicas or 0,
                "available": available,
                "unavailable": st.unavailable_replicas or max(desired - available, 0),
                "revision": (d.metadata.annotations or {}).get(REVISION_ANNOTATION),
                "images": [c.image for c in d.spec.template.spec.containers],
                "rollout": rollout,
                "restarts": sum(
                    cs.restart_count or 0 for p in own for cs in p.status.container_statuses or []
                ),
                "problem_reasons": sorted({p["reason"] for p in problems}),
            }
        )

    warnings = [e for e in events if e.type == "Warning"]
    if watched:
        warnings = [e for e in warnings if involves(e, watched)]
    warnings.sort(key=lambda e: event_time(e) or _EPOCH, reverse=True)
    recent = [
        {
            "last_seen": iso(event_time(e)),
            "reason": e.reason,
            "object": f"{e.involved_object.kind}/{e.involved_object.name}",
            "message": scrub(e.message or ""),
            "count": e.count or 1,
        }
        for e in warnings[:MAX_WARNING_EVENTS]
    ]

    down = [r for r in rows if r["health"] == "down"]
    degraded = [r for r in rows if r["health"] == "degraded"]
    if down or missing:
        status = FindingStatus.CRITICAL
    elif degraded or not rows:
        status = FindingStatus.WARNING
    else:
        status = FindingStatus.OK

    def describe(r: dict[str, Any]) -> str:
        why = ", ".join(r["problem_reasons"]) or r["rollout"]
        return f"{r['name']} {r['available']}/{r['desired']} available ({why})"

    ns = f"namespace '{target.namespace}'"
    if not rows and not missing:
        where = describe_target(target)
        summary = f"no deployments in {ns}: check the namespace and workloads in {where}"
    elif status is FindingStatus.OK:
        summary = (
            f"deployment {rows[0]['name']} in {ns} has every replica available"
            if len(rows) == 1
            else f"all {len(rows)} deployments in {ns} have every replica available"
        )
    else:
        parts = [f"{n} not found (deleted, or a typo in workloads)" for n in missing]
        parts += [describe(r) for r in down + degraded]
        summary = f"{len(parts)} of {len(rows) + len(missing)} deployments in {ns} need "
        summary += "attention: " + "; ".join(parts)
        if recent:
            summary += f". Latest warning: {recent[0]['reason']} on {recent[0]['object']}"

    return Finding(
        check=DEPLOYMENT_STATUS_CHECK,
        target=target.label,
        status=status,
        summary=summary,
        evidence={
            "namespace": target.namespace,
            "deployments": rows,
            "missing": missing,
            "problem_pods": problem_pods,
            "warning_events": recent,
        },
    )


def _attempt_timeout(target: KubernetesTarget) -> float:
    """One attempt's bound: every request at its own timeout, plus slack for the rest."""
    return REQUESTS_PER_READ * target.request_timeout_seconds + 5


def _read(
    target: KubernetesTarget, ns: str
) -> tuple[list[client.V1Deployment], list[client.V1Pod], list[client.CoreV1Event]]:
    """The three reads behind the check: deployments, pods, Warning events (core/v1 events,
    which every cluster version serves and the python client can parse)."""
    with kubernetes_api(target) as api:
        apps, core = client.AppsV1Api(api), client.CoreV1Api(api)
        deployments = call_api(
            api,
            target,
            apps.list_namespaced_deployment,
            verb="list",
            resource="deployments",
            group="apps",
            namespace=ns,
        ).items
        pods = call_api(
            api, target, core.list_namespaced_pod, verb="list", resource="pods", namespace=ns
        ).items
        events = call_api(
            api,
            target,
            core.list_namespaced_event,
            verb="list",
            resource="events",
            namespace=ns,
            field_selector="type=Warning",
        ).items
    return deployments, pods, events


@task(
    name="read_deployment_status",
    retries=READ_RETRIES,
    retry_delay_seconds=exponential_backoff(backoff_factor=READ_RETRY_DELAY_SECONDS),
    retry_jitter_factor=READ_RETRY_JITTER_FACTOR,
    retry_condition_fn=retry_only_transient,
    timeout_seconds=REQUESTS_PER_READ * 10 + 5,
    cache_policy=NO_CACHE,
    tags=["kubernetes", "read"],
)
def read_deployment_status(target: KubernetesTarget) -> Finding:
    """One attempt at the deployment-status check; raises Transient/PermanentError.

    Prefect retries the transient failures; callers wanting a Finding whatever happens use
    `get_deployment_status`. Each failure carries the attempt it ended, for the Finding.
    """
    ns = target.namespace
    try:
        deployments, pods, events = _read(target, ns)
    except KubernetesError as exc:
        exc.attempts = prefect.runtime.task_run.run_count or 1
        raise
    return _assess(target, deployments, pods, events)


@task(name="get_deployment_status", cache_policy=NO_CACHE, tags=["kubernetes"])
def get_deployment_status(
    target: KubernetesTarget,
    retries: int = READ_RETRIES,
    retry_delay_seconds: float = READ_RETRY_DELAY_SECONDS,
) -> Finding:
    """Runbook checks ``kubectl get pods``, ``rollout status``, ``get events``: one Finding.

    CRITICAL when a deployment has no available replica, WARNING when some are unavailable
    or pods crash-loop / are OOM-killed, OK otherwise; ``unreachable`` (with what to do next)
    when the API cannot be read even after ``retries`` retries with exponential backoff
    (``retry_delay_seconds`` doubling, plus jitter), so a dead cluster never crashes the flow.
    """
    read = read_deployment_status.with_options(
        retries=retries,
        retry_delay_seconds=exponential_backoff(backoff_factor=retry_delay_seconds),
        timeout_seconds=_attempt_timeout(target),
    )
    if threading.current_thread() is not threading.main_thread():
        # Prefect cannot interrupt a sync task in a worker thread (and warns on every run);
        # there the per-request timeouts, which work in any thread, are the bound.
        read.timeout_seconds = None
    state = read(target, return_state=True)
    if state.is_completed():
        return state.result()
    error = state.result(raise_on_failure=False)
    if not isinstance(error, FirebreakError | TimeoutError):
        # A bug, not the cluster: let it be seen.
        raise error if isinstance(error, BaseException) else RuntimeError(state.message)
    transient = not isinstance(error, PermanentError)
    attempts = getattr(error, "attempts", None)
    if isinstance(error, FirebreakError):
        summary = scrub(str(error))
    else:
        summary = (
            f"reading {describe_target(target)} took longer than "
            f"{_attempt_timeout(target):g} s: the Kubernetes API answers too slowly; check the "
            "apiserver's health, or raise request_timeout_seconds in the block"
        )
    if attempts and attempts > 1:
        summary += f" (gave up after {attempts} attempts)"
    return Finding(
        check=DEPLOYMENT_STATUS_CHECK,
        target=target.label,
        status=FindingStatus.UNREACHABLE,
        summary=summary,
        evidence={
            "namespace": target.namespace,
            "error": type(error).__name__,
            "http_status": getattr(error, "status", None),
            "transient": transient,
            "attempts": attempts,
        },
    )
