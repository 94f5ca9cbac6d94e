"""What the timeline says every channel was already told: the sweep's only memory.

Each delivery is a timeline event with a known step name (``notify:status-update``,
``page:trigger``, ``escalate:level-2``, ...). The sweep reads them back to decide what is due,
so it keeps no state of its own: a restarted worker, a second sweep, or a crashed incident
flow all see the same answer. Pure functions over `TimelineEvent` lists; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from incident.models import IncidentStatus, TimelineEvent

__all__ = [
    "CUSTOMER_IMPACT",
    "PUBLIC_STATUS",
    "STATUS_UPDATE",
    "changes_since",
    "customer_impact",
    "escalate_step",
    "last_event",
    "paged_levels",
    "public_status",
    "sent",
    "status_update_due",
]

STATUS_UPDATE = "notify:status-update"
CUSTOMER_IMPACT = "impact:customer"
"""Step of the event that confirms customer impact (status ``confirmed``); see `customer_impact`."""

_ESCALATE = "escalate:level-"

# Atlassian Statuspage / runbook 002 states for each record status.
PUBLIC_STATUS: dict[str, str] = {
    IncidentStatus.INVESTIGATING.value: "investigating",
    IncidentStatus.IDENTIFIED.value: "identified",
    IncidentStatus.MITIGATING.value: "identified",
    IncidentStatus.ESCALATED.value: "identified",
    IncidentStatus.CRASHED.value: "investigating",
    IncidentStatus.MONITORING.value: "monitoring",
    IncidentStatus.RESOLVED.value: "resolved",
}


def public_status(status: str) -> str:
    """The status-page state for a record status (``crashed`` still reads Investigating)."""
    return PUBLIC_STATUS.get(status, "investigating")


def escalate_step(level: int) -> str:
    return f"{_ESCALATE}{level}"


def last_event(
    timeline: Sequence[TimelineEvent], step: str, statuses: Iterable[str] | None = None
) -> TimelineEvent | None:
    wanted = set(statuses) if statuses is not None else None
    for event in reversed(timeline):
        if event.step == step and (wanted is None or event.status in wanted):
            return event
    return None


def sent(timeline: Sequence[TimelineEvent], step: str) -> bool:
    """Whether a delivery of ``step`` was attempted and did not fail (started counts: a
    sweep that died mid-call may have delivered, and a duplicate beats a repeat storm)."""
    latest = last_event(timeline, step)
    return latest is not None and latest.status in ("started", "completed")


def paged_levels(timeline: Sequence[TimelineEvent]) -> set[int]:
    """Escalation levels already paged, from ``escalate:level-N`` events; a level whose
    latest attempt failed is not, so the next sweep tries it again."""
    latest: dict[int, str] = {}
    for e in timeline:
        number = e.step[len(_ESCALATE) :]
        if e.step.startswith(_ESCALATE) and number.isdigit():
            latest[int(number)] = e.status
    return {level for level, status in latest.items() if status in ("started", "completed")}


def status_update_due(
    timeline: Sequence[TimelineEvent],
    *,
    cadence: timedelta | None,
    declared_at: datetime,
    now: datetime,
) -> bool:
    """Whether the cadence has passed since the last update (or the declaration).

    Measured from the last *attempt*, so a Slack outage is retried at the cadence rather
    than on every sweep; None cadence (the lowest level): never on a timer.
    """
    if cadence is None:
        return False
    last = last_event(timeline, STATUS_UPDATE)
    since = last.at if last is not None else declared_at
    return now - since >= cadence


def changes_since(timeline: Sequence[TimelineEvent], seq: int | None) -> list[TimelineEvent]:
    """What happened after event ``seq`` that a person would call news.

    Deliveries (notify, page, status page, escalation bookkeeping) and step starts are left
    out: "the update was posted" is not a change in the incident.
    """
    return [e for e in timeline if (seq is None or (e.seq or 0) > seq) and is_news(e)]


def is_news(event: TimelineEvent) -> bool:
    if event.step.split(":", 1)[0] in ("notify", "page", "statuspage", "slack"):
        return False
    return event.status not in ("started",)


def customer_impact(timeline: Sequence[TimelineEvent]) -> TimelineEvent | None:
    """The event confirming customer impact, if any (the latest ``impact:customer`` decides:
    ``confirmed`` or ``none``)."""
    event = last_event(timeline, CUSTOMER_IMPACT)
    return event if event is not None and event.status == "confirmed" else None
