"""Kubernetes scenarios: from findings to plans (runbooks 000 sc. 1/3, 002 "Pod Crashes", 004).

Pure functions over the findings of `deployment_status`, `rollout_history`, `pod_usage` and
`container_logs`. Every plan item pins what it acts on — the revision and ReplicaSet to roll
back to, the limit it was planned from, the pod's uid — and the object's ``generation``, so
the action changes nothing if the spec moved on after the approval (it returns STALE and the
engine plans again).
"""

from __future__ import annotations

import math
from typing import Any

from kubernetes.utils import parse_quantity

from incident.decision import Decision, by_check
from incident.investigation import CONFIG_ERROR_PATTERN
from incident.models import Finding, Plan

__all__ = [
    "broken_deployments",
    "decide_crash_loop",
    "decide_oom",
    "decide_outage",
    "rollback_plan",
]

_MI = 1024 * 1024


def _rows(findings: dict[str, Finding], check: str, key: str) -> list[dict[str, Any]]:
    finding = findings.get(check)
    return list(finding.evidence.get(key, [])) if finding is not None else []


def broken_deployments(checks: dict[str, Finding]) -> dict[str, dict[str, Any]]:
    """Deployments `deployment_status` found down or degraded, by name."""
    return {
        r["name"]: r
        for r in _rows(checks, "deployment_status", "deployments")
        if r.get("health") != "ok"
    }


def rollback_plan(checks: dict[str, Finding], target: str, only: set[str] | None = None) -> Plan:
    """Roll back each broken deployment that rolled out recently and has a revision to go to."""
    broken = broken_deployments(checks)
    items = []
    for row in _rows(checks, "rollout_history", "deployments"):
        back = row.get("rollback_to")
        if row["name"] not in broken or not row.get("recent") or not back:
            continue
        if only is not None and row["name"] not in only:
            continue
        items.append(
            {
                "kind": "Deployment",
                "namespace": target.rsplit("/", 1)[-1],
                "name": row["name"],
                "resource_version": row["resource_version"],
                "generation": row["generation"],
                "from_revision": row["revision"],
                "to_revision": back["revision"],
                "to_replicaset": back["replicaset"],
                "template_hash": back["template_hash"],
                "images_now": row["images"],
                "images_after": back["images"],
            }
        )
    return Plan(
        action="rollback_deployment",
        target=target,
        reason=(
            f"{len(items)} deployment(s) broke right after a rollout: back to the revision before"
        ),
        items=tuple(items),
    )


def decide_outage(findings: list[Finding], target: str) -> Decision:
    """000 sc. 1 / 004 "Service Outage": no ready endpoints after a rollout → roll it back."""
    checks = by_check(findings)
    endpoints = checks.get("service_endpoints")
    down = endpoints.evidence.get("without_ready", []) if endpoints else []
    if not down and not broken_deployments(checks):
        return Decision.escalate(
            "every service has ready endpoints: the outage is not in this namespace"
        )
    plan = rollback_plan(checks, target)
    if plan.is_empty:
        return Decision.escalate(
            f"services without ready endpoints ({', '.join(down) or 'none'}) but no rollout "
            "to undo: check the application and its dependencies (runbook 004 Service Outage)"
        )
    return Decision.mitigate(f"outage after a rollout: {', '.join(down) or 'pods failing'}", [plan])


def _format(bytes_: int) -> str:
    return f"{bytes_ // _MI}Mi" if bytes_ % _MI == 0 else str(bytes_)


def decide_oom(findings: list[Finding], target: str, *, factor: float, cap_bytes: int) -> Decision:
    """000 sc. 3 / 004 "High Memory": OOM-killed containers at their limit → raise that limit."""
    checks = by_check(findings)
    oom = {
        (p.get("deployment"), c["name"])
        for p in _rows(checks, "deployment_status", "problem_pods")
        for c in p.get("containers", [])
        if "OOMKilled" in (c.get("last_terminated_reason"), c.get("terminated_reason"))
    }
    if not oom:
        return Decision.escalate("no container was OOM-killed: memory is not what fails here")
    history = {r["name"]: r for r in _rows(checks, "rollout_history", "deployments")}
    pod_limits: dict[tuple[Any, Any], int] = {}
    for row in _rows(checks, "pod_usage", "containers"):
        if row.get("memory_limit_bytes"):
            pod_limits.setdefault((row["deployment"], row["container"]), row["memory_limit_bytes"])
    items: list[dict[str, Any]] = []
    notes: list[str] = []
    for key in sorted(oom, key=str):
        if key[0] not in history:
            continue
        deployment = history[key[0]]
        spec = next((c for c in deployment.get("containers", []) if c["name"] == key[1]), {})
        # raised from what the template says now (mid-rollout, pods run older limits); a
        # pod's limit only when the template sets none (a LimitRange default)
        template_limit = spec.get("limits", {}).get("memory")
        base = int(parse_quantity(template_limit)) if template_limit else pod_limits.get(key)
        if not base:
            notes.append(f"{key[0]}/{key[1]} has no memory limit to raise")
            continue
        after = min(math.ceil(base * factor / _MI) * _MI, cap_bytes)
        if after <= base:
            notes.append(
                f"{key[0]}/{key[1]} is at the policy's cap ({_format(cap_bytes)}): not raised"
            )
            continue
        items.append(
            {
                "kind": "Deployment",
                "namespace": target.rsplit("/", 1)[-1],
                "name": key[0],
                "container": key[1],
                "resource": "memory",
                # as the Deployment's template says, not the pod (a pod's request defaults
                # to its limit; the template's may be unset)
                "limit_now": template_limit or _format(base),
                "limit_after": _format(after),
                "request_now": spec.get("requests", {}).get("memory"),
                "resource_version": deployment["resource_version"],
                "generation": deployment["generation"],
            }
        )
    if not items:
        return Decision.escalate(
            "containers are OOM-killed but their limits cannot be raised: "
            + ("; ".join(notes) or "none of them belongs to a Deployment"),
            notes=notes,
        )
    plan = Plan(
        action="patch_container_limits",
        target=target,
        reason=(
            f"{len(items)} container(s) OOM-killed at their memory limit: raise it by a factor "
            f"of {factor:g}"
        ),
        items=tuple(items),
        params={"factor": factor},
    )
    return Decision.mitigate("OOM kills at the memory limit", [plan], notes=notes)


def decide_crash_loop(findings: list[Finding], target: str, incident_id: str) -> Decision:
    """002 "Pod Crashes": a rollout before it → roll back; the logs blame the configuration →
    escalate; one bad pod among healthy ones → delete it; else restart the deployment once."""
    checks = by_check(findings)
    looping = [
        p
        for p in _rows(checks, "deployment_status", "problem_pods")
        if p.get("reason") in ("CrashLoopBackOff", "Error") or p.get("restarts", 0) > 0
    ]
    if not looping:
        return Decision.escalate("no pod is crash-looping")
    names = {p["deployment"] for p in looping}
    rollback = rollback_plan(checks, target, only=names)
    if not rollback.is_empty:
        return Decision.mitigate("crash loop after a rollout", [rollback])
    config = [
        line
        for entry in _rows(checks, "container_logs", "logs")
        if entry.get("deployment") in names
        for line in entry.get("errors", [])
        if CONFIG_ERROR_PATTERN.search(line)
    ]
    if config:
        return Decision.escalate(
            f"configuration error, a restart would crash the same way: {config[0]}"
        )
    deployments = broken_deployments(checks)
    namespace = target.rsplit("/", 1)[-1]
    plans = []
    for name in sorted(names):
        row = deployments.get(name, {})
        mine = [p for p in looping if p["deployment"] == name]
        if len(mine) == 1 and row.get("available", 0) >= 1:
            pod = mine[0]
            plans.append(
                Plan(
                    action="delete_pod",
                    target=target,
                    reason=f"one pod of {name} crash-loops while the others serve: replace it",
                    items=(
                        {
                            "namespace": namespace,
                            "name": pod["pod"],
                            "uid": pod.get("uid"),
                            "deployment": name,
                        },
                    ),
                )
            )
        else:
            history = {r["name"]: r for r in _rows(checks, "rollout_history", "deployments")}
            plans.append(
                Plan(
                    action="restart_deployment",
                    target=target,
                    reason=f"{name}'s pods crash-loop with no rollout to undo: restart it once",
                    items=(
                        {
                            "kind": "Deployment",
                            "namespace": namespace,
                            "name": name,
                            "resource_version": history.get(name, {}).get("resource_version"),
                            "generation": history.get(name, {}).get("generation"),
                            "incident_id": incident_id,
                        },
                    ),
                )
            )
    return Decision.mitigate(f"crash loop in {', '.join(sorted(names))}", plans[:1])
