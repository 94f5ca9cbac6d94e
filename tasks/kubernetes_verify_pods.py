"""The verification checks that read a workload's pods: no new OOM kill, no crash loop.

Part of `tasks.kubernetes_verify` (which exports them); see there for what ok, warning and
critical mean. Each docstring lists the Finding's evidence.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.kubernetes_api import kubernetes_api
from tasks.kubernetes_session import Kube
from tasks.kubernetes_workloads import TerminationSeen, pods_of, terminations, waiting_reasons

__all__ = ["crash_loop_ended", "no_new_oom_kills", "verification_finding"]


def verification_finding(
    check: str, target: KubernetesTarget, status: FindingStatus, summary: str, **evidence: Any
) -> Finding:
    """A verification check's Finding on ``target``, its evidence as keyword arguments."""
    return Finding(
        check=check, target=target.label, status=status, summary=summary, evidence=evidence
    )


def _pods(kube: Kube, deployments: Sequence[str]) -> tuple[list[client.V1Pod], list[str]]:
    """The pods of every named deployment, and the names that are no deployment at all."""
    pods: list[client.V1Pod] = []
    missing: list[str] = []
    for name in deployments:
        found = pods_of(kube, name)
        if found is None:
            missing.append(name)
        else:
            pods += found
    return pods, missing


def _oom_since(seen: TerminationSeen, since: datetime, baseline: Mapping[str, int]) -> bool:
    if seen.reason != "OOMKilled":
        return False
    if seen.finished_at is not None and seen.finished_at >= since:
        return True
    return seen.pod in baseline and seen.pod_restarts > baseline[seen.pod]


@diagnostic("no_new_oom_kills")
def no_new_oom_kills(
    target: KubernetesTarget,
    deployments: Sequence[str],
    since: datetime,
    restart_baseline: Mapping[str, int] | None = None,
) -> Finding:
    """No container of the named deployments' pods OOM-killed since ``since``, all running.

    An OOM kill counts when its termination finished at or after ``since`` (the mitigation's
    time), or when a pod in ``restart_baseline`` (pod name → restarts of all its containers
    then) restarted since and was last OOM-killed. Terminating pods are not counted.

    Evidence: ``since``, ``oom_killed`` (``pod``, ``container``, ``finished_at``,
    ``restarts``), ``not_running`` (``pod``, ``phase``, ``reasons``), ``pods`` (how many).
    """
    baseline = restart_baseline or {}
    with kubernetes_api(target) as api:
        pods, missing = _pods(Kube(api, target), deployments)
    killed = [
        {
            "pod": t.pod,
            "container": t.container,
            "finished_at": t.finished_at.isoformat() if t.finished_at else None,
            "restarts": t.restarts,
        }
        for pod in pods
        for t in terminations(pod)
        if _oom_since(t, since, baseline)
    ]
    not_running = [
        {"pod": p.metadata.name, "phase": p.status.phase, "reasons": waiting_reasons(p)}
        for p in pods
        if p.status.phase != "Running" or waiting_reasons(p)
    ]
    if missing:
        status, summary = FindingStatus.CRITICAL, f"no such deployment: {', '.join(missing)}"
    elif killed:
        status = FindingStatus.CRITICAL
        summary = f"{len(killed)} OOM kill(s) since {since:%H:%M:%S} UTC: " + ", ".join(
            f"{k['pod']}/{k['container']}" for k in killed
        )
    elif not pods or not_running:
        status = FindingStatus.WARNING
        summary = f"no OOM kill since {since:%H:%M:%S} UTC, but not running yet: " + (
            ", ".join(r["pod"] for r in not_running) or "no pods"
        )
    else:
        status = FindingStatus.OK
        summary = f"no OOM kill since {since:%H:%M:%S} UTC; {len(pods)} pod(s) running"
    return verification_finding(
        "no_new_oom_kills",
        target,
        status,
        summary,
        since=since.isoformat(),
        oom_killed=killed,
        not_running=not_running,
        pods=len(pods),
        missing=missing,
    )


def _restarts(pods: Sequence[client.V1Pod]) -> dict[tuple[str, str], int]:
    return {
        (p.metadata.uid, cs.name): cs.restart_count or 0
        for p in pods
        for cs in p.status.container_statuses or []
    }


@diagnostic("crash_loop_ended")
def crash_loop_ended(
    target: KubernetesTarget, deployments: Sequence[str], between_reads_seconds: float = 12.0
) -> Finding:
    """No pod of the named deployments in CrashLoopBackOff, and no restart count rising
    between two reads ``between_reads_seconds`` apart (a container that crashes after
    running a while is not waiting in CrashLoopBackOff at every read).

    Evidence: ``crash_looping`` (``pod``, ``reasons``), ``restarted`` (``pod``,
    ``container``, ``before``, ``after``), ``between_reads_seconds``, ``pods``.
    """
    with kubernetes_api(target) as api:
        kube = Kube(api, target)
        first = _restarts(_pods(kube, deployments)[0])
        time.sleep(between_reads_seconds)
        pods, missing = _pods(kube, deployments)
    names = {p.metadata.uid: p.metadata.name for p in pods}
    restarted = [
        {"pod": names[uid], "container": c, "before": first[(uid, c)], "after": n}
        for (uid, c), n in _restarts(pods).items()
        if (uid, c) in first and n > first[(uid, c)]
    ]
    looping = [
        {"pod": p.metadata.name, "reasons": waiting_reasons(p)}
        for p in pods
        if "CrashLoopBackOff" in waiting_reasons(p)
    ]
    if missing:
        status, summary = FindingStatus.CRITICAL, f"no such deployment: {', '.join(missing)}"
    elif looping or restarted:
        status = FindingStatus.CRITICAL
        summary = "still crashing: " + ", ".join(
            sorted({r["pod"] for r in looping} | {r["pod"] for r in restarted})
        )
    elif not pods:
        status, summary = FindingStatus.WARNING, "no pods yet"
    else:
        status = FindingStatus.OK
        summary = f"no crash loop; no restart in {between_reads_seconds:g} s ({len(pods)} pods)"
    return verification_finding(
        "crash_loop_ended",
        target,
        status,
        summary,
        crash_looping=looping,
        restarted=restarted,
        between_reads_seconds=between_reads_seconds,
        pods=len(pods),
        missing=missing,
    )
