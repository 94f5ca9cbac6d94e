"""``kubectl get events --field-selector type=Warning --sort-by=.lastTimestamp``: the
namespace's Warning events within a window, newest first (issue 7 §2).

core/v1 events, which every cluster serves and every writer (kubelet, controllers,
``events.k8s.io`` clients through the compatibility view) shows up in; the newer
``series`` fields are read when present, so a repeated event counts as it does in kubectl.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from kubernetes import client

from blocks.kubernetes import KubernetesTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.kubernetes_api import call_api, kubernetes_api, scrub

__all__ = ["WARNING_EVENTS_CHECK", "read_warning_events"]

WARNING_EVENTS_CHECK = "warning_events"
MAX_EVENTS = 20
_EPOCH = datetime.min.replace(tzinfo=UTC)


def last_seen(e: client.CoreV1Event) -> datetime | None:
    """When the event last happened, whichever API wrote it."""
    series = e.series.last_observed_time if e.series else None
    return (
        series or e.last_timestamp or e.event_time or e.first_timestamp
    ) or e.metadata.creation_timestamp


def _count(e: client.CoreV1Event) -> int:
    if e.series and e.series.count:
        return int(e.series.count)
    return int(e.count or 1)


def _concerns(e: client.CoreV1Event, names: set[str]) -> bool:
    """The event is about a watched workload, or one of its ReplicaSets or pods."""
    obj = e.involved_object.name or ""
    return any(obj == n or obj.startswith(f"{n}-") for n in names)


@diagnostic(WARNING_EVENTS_CHECK, tags=("kubernetes",))
def read_warning_events(
    target: KubernetesTarget,
    *,
    window: timedelta = timedelta(hours=1),
    until: datetime | None = None,
    limit: int = MAX_EVENTS,
) -> Finding:
    """The namespace's Warning events last seen within ``window`` before ``until`` (now),
    newest first, at most ``limit`` of them; with ``workloads`` set on the block, only the
    events of those workloads (their ReplicaSets and pods included)."""
    with kubernetes_api(target) as api:
        events = call_api(
            api,
            target,
            client.CoreV1Api(api).list_namespaced_event,
            verb="list",
            resource="events",
            namespace=target.namespace,
            field_selector="type=Warning",
        ).items
    end = until or datetime.now(UTC)
    start = end - window
    watched = set(target.workloads)
    recent = [
        e
        for e in events
        if e.type == "Warning"  # a server ignoring the selector must not change the answer
        and start <= (last_seen(e) or _EPOCH) <= end + timedelta(minutes=1)  # clock skew
        and (not watched or _concerns(e, watched))
    ]
    recent.sort(key=lambda e: last_seen(e) or _EPOCH, reverse=True)
    rows: list[dict[str, Any]] = [
        {
            "reason": e.reason,
            "object": f"{e.involved_object.kind}/{e.involved_object.name}",
            "message": scrub(e.message or "")[:500],
            "count": _count(e),
            "last_seen": (last_seen(e) or _EPOCH).isoformat(),
            "source": (e.source.component if e.source else None) or e.reporting_component,
        }
        for e in recent[:limit]
    ]
    minutes = int(window.total_seconds() // 60)
    where = f"namespace '{target.namespace}'"
    if rows:
        newest = rows[0]
        summary = (
            f"{len(recent)} Warning event(s) in {where} in the last {minutes} min, newest: "
            f"{newest['reason']} on {newest['object']} (x{newest['count']}): {newest['message']}"
        )[:400]
    else:
        summary = f"no Warning event in {where} in the last {minutes} min"
    return Finding(
        check=WARNING_EVENTS_CHECK,
        target=target.label,
        status=FindingStatus.WARNING if rows else FindingStatus.OK,
        summary=summary,
        evidence={
            "namespace": target.namespace,
            "window_seconds": window.total_seconds(),
            "total": len(recent),
            "events": rows,
            "reasons": sorted({r["reason"] for r in rows if r["reason"]}),
        },
    )
