"""Status updates at the severity's cadence for as long as the incident is open.

Runbook 001 (every 15 min SEV1, 30 min SEV2) and 002 (1 h SEV3), from the policy. Each
update says the status, what changed since the previous one, the next steps, and the
timeline so far, and is posted whether the incident's flow is running, paused for an
approval, or dead: the record is all it needs.
"""

from __future__ import annotations

from flows.reactions.situation import Situation
from incident import ledger, templates
from incident.models import IncidentStatus, TimelineEvent

__all__ = ["TIMELINE_LINES", "next_steps", "react"]

TIMELINE_LINES = 15
"""How many of the latest news events an update's timeline shows."""


def _pending_approval(timeline: list[TimelineEvent]) -> TimelineEvent | None:
    asked = ledger.last_event(timeline, "approval")
    return asked if asked is not None and asked.status == "started" else None


def next_steps(situation: Situation) -> list[str]:
    """What happens next, as the record tells it."""
    status, timeline = situation.row["status"], situation.timeline
    crashed = ledger.last_event(timeline, "crashed") or ledger.last_event(timeline, "failed")
    if status == IncidentStatus.CRASHED.value or (crashed and crashed.phase == "flow"):
        return [
            "the automated response stopped: the incident commander continues by hand "
            "(runbook), nothing further is changed automatically",
        ]
    pending = _pending_approval(timeline)
    if pending is not None:
        return [
            f"waiting for a person to approve plan {pending.data.get('plan_digest', '')} "
            "in the Prefect UI; nothing destructive happens before that",
        ]
    window = templates.human_span(situation.policy.monitoring_window)
    return {
        IncidentStatus.INVESTIGATING.value: ["finish the assessment and identify the cause"],
        IncidentStatus.IDENTIFIED.value: ["plan the mitigation and ask for approval"],
        IncidentStatus.MITIGATING.value: ["apply the approved mitigation, then verify it"],
        IncidentStatus.MONITORING.value: [f"verify the fix and monitor for {window}"],
        IncidentStatus.ESCALATED.value: ["the escalation contact takes over the response"],
    }.get(status, ["keep investigating"])


def react(situation: Situation) -> None:
    if situation.resolved:
        return
    timeline = situation.timeline
    due = ledger.status_update_due(
        timeline,
        cadence=situation.objectives.status_update_cadence,
        declared_at=situation.row["declared_at"],
        now=situation.now,
    )
    if not due:
        return
    previous = ledger.last_event(timeline, ledger.STATUS_UPDATE, ("completed",))
    since = int(previous.data.get("through_seq", 0)) if previous else None
    news = ledger.changes_since(timeline, None)
    through = max((e.seq or 0 for e in timeline), default=0)
    message = templates.status_update(
        situation.incident,
        situation.policy,
        status=ledger.public_status(situation.row["status"]),
        changes=ledger.changes_since(timeline, since),
        next_steps=next_steps(situation),
        timeline=news[-TIMELINE_LINES:],
    )
    situation.post(ledger.STATUS_UPDATE, message.text, blocks=message.blocks, through_seq=through)
