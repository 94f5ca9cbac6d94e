"""The post-mortem draft and incident metrics, computed from the record alone.

Every section of the runbooks' templates (000's list, 003's and 004's documents): summary,
timeline, root cause, contributing factors, impact, resolution steps, what went well and
what did not, action items, prevention, lessons, evidence. Runbook 001's metrics (time to
detect / acknowledge / resolve, plus time to mitigate) are differences of the timeline's own
timestamps, so they agree with the timeline a reader sees. A person finishes the draft;
the facts are already in.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from incident.models import Finding, TimelineEvent
from incident.policy import IncidentPolicy
from incident.template_loader import duration_text

__all__ = [
    "PostMortem",
    "draft_postmortem",
    "incident_metrics",
    "milestones",
    "postmortem_markdown",
]

_APPROVAL_ANSWERED = ("approved", "rejected", "auto_approved")


def _first(
    timeline: Sequence[TimelineEvent], milestone: str, *matches: tuple[str, str]
) -> datetime | None:
    """The first event marking ``milestone``: one that says so in its data, or a known step."""
    for event in timeline:
        if event.data.get("milestone") != milestone and (event.step, event.status) not in matches:
            continue
        unanswered = (
            event.step == "approval" and event.data.get("decision") not in _APPROVAL_ANSWERED
        )
        if milestone == "acknowledged" and unanswered:
            continue  # a timed-out approval acknowledged nothing
        return event.at
    return None


def milestones(
    incident: dict[str, Any], timeline: Sequence[TimelineEvent]
) -> dict[str, datetime | None]:
    """When the incident began, was declared, acknowledged, mitigated and resolved.

    From the timeline: ``declare/declared``, an answered ``approval`` (or ``page:acknowledge``),
    ``apply`` completed, ``resolved`` completed, or any event whose data names the milestone.
    Where the timeline has none, the record's own stamp is used.
    """
    found = {
        "started": incident["started_at"],
        "declared": _first(timeline, "declared", ("declared", "completed")),
        "acknowledged": _first(
            timeline,
            "acknowledged",
            ("approval", "completed"),
            ("page:acknowledge", "completed"),
        ),
        "mitigated": _first(timeline, "mitigated", ("apply", "completed")),
        "resolved": _first(timeline, "resolved", ("resolved", "completed")),
    }
    for name in ("declared", "acknowledged", "mitigated", "resolved"):
        if found[name] is None:
            found[name] = incident.get(f"{name}_at")
    return found


def _seconds(later: datetime | None, earlier: datetime | None) -> float | None:
    if later is None or earlier is None:
        return None
    return round((later - earlier).total_seconds(), 3)


def incident_metrics(
    incident: dict[str, Any], timeline: Sequence[TimelineEvent] | None = None
) -> dict[str, float | None]:
    """TTD, TTA, TTM, TTR in seconds; None where the incident never reached that milestone.

    Detect is declared minus began; acknowledge is acknowledged minus declared; mitigate and
    resolve are measured from when the problem began. Without a timeline, the record's stamps.
    """
    m = milestones(incident, timeline or [])
    return {
        "time_to_detect": _seconds(m["declared"], m["started"]),
        "time_to_acknowledge": _seconds(m["acknowledged"], m["declared"]),
        "time_to_mitigate": _seconds(m["mitigated"], m["started"]),
        "time_to_resolve": _seconds(m["resolved"], m["started"]),
    }


class PostMortem(BaseModel):
    """The draft as data: the markdown artifact, and anything else, render from this."""

    incident_id: str
    title: str
    severity: str
    status: str
    started_at: datetime
    duration: str
    impact_summary: str
    root_cause: str
    metrics: dict[str, float | None]
    timeline: list[TimelineEvent]
    analysis: list[str] = Field(description="What each diagnostic found")
    contributing_factors: list[str]
    impact: list[str]
    resolution_steps: list[str]
    went_well: list[str]
    went_wrong: list[str]
    action_items: list[str]
    prevention: list[str]
    lessons: list[str]
    evidence: dict[str, str]


def _judgement(
    metrics: dict[str, float | None],
    timeline: Sequence[TimelineEvent],
    findings: Sequence[Finding],
    approvals: Sequence[dict[str, Any]],
) -> tuple[list[str], list[str]]:
    well, wrong = [], []
    if metrics["time_to_mitigate"] is not None:
        well.append(f"mitigated {metrics['time_to_mitigate']:.1f} s after the alert began")
    if any(a["decision"] == "approved" for a in approvals):
        well.append("the destructive action ran only after explicit approval")
    for approval in approvals:
        if approval["decision"] in ("rejected", "timed_out"):
            reason = approval["reason"] or "no reason given"
            wrong.append(f"approval {approval['decision']}: {reason}")
    failed = [
        e for e in timeline if e.step.startswith(("notify:", "page:")) and e.status == "failed"
    ]
    if failed:
        wrong.append(f"{len(failed)} notification(s) were not delivered")
    else:
        well.append("every notification was delivered")
    escalated = [e for e in timeline if e.step.startswith("escalate:") and e.status == "completed"]
    if escalated:
        wrong.append(f"escalated {len(escalated)} time(s) before anyone acknowledged")
    if any(f.status.value == "unreachable" for f in findings):
        wrong.append("some diagnostics could not reach their target")
    if any(e.phase == "flow" and e.status == "failed" for e in timeline):
        wrong.append("the automated response stopped before the end (see the timeline)")
    return well, wrong


def draft_postmortem(
    incident: dict[str, Any],
    timeline: list[TimelineEvent],
    findings: list[Finding],
    actions: list[dict[str, Any]],
    approvals: list[dict[str, Any]],
    *,
    root_cause: str,
    follow_ups: Sequence[str],
    evidence: dict[str, str] | None = None,
    prevention: Sequence[str] = (),
) -> PostMortem:
    """Every section of the runbooks' templates, filled from the record."""
    metrics = incident_metrics(incident, timeline)
    m = milestones(incident, timeline)
    ended = m["resolved"] or incident.get("closed_at")
    span = duration_text((ended - m["started"]).total_seconds()) if ended else "still open"
    alert = incident.get("alert") or {}
    summary = alert.get("summary") or alert.get("description") or incident["title"]
    problems = [f for f in findings if f.is_problem]
    customer = [e for e in timeline if e.step == "impact:customer" and e.status == "confirmed"]
    well, wrong = _judgement(metrics, timeline, findings, approvals)
    linked = dict(evidence or {})
    for event in timeline:
        for key, link in (event.data.get("evidence") or {}).items():
            linked.setdefault(str(key), str(link))
    return PostMortem(
        incident_id=incident["id"],
        title=incident["title"],
        severity=incident["severity"],
        status=incident["status"],
        started_at=incident["started_at"],
        duration=span,
        impact_summary=summary,
        root_cause=root_cause,
        metrics=metrics,
        timeline=timeline,
        analysis=[f"**{f.check}** ({f.status.value}, {f.target}): {f.summary}" for f in findings],
        contributing_factors=[f"{f.check}: {f.summary}" for f in problems[1:]]
        or [f"{f.check}: {f.summary}" for f in problems],
        impact=[
            summary,
            f"duration: {span}",
            *(f"customers: {e.message}" for e in customer),
            *([] if customer else ["no customer impact was confirmed"]),
        ],
        resolution_steps=[f"{a['action']} on {a['target']}: {a['summary']}" for a in actions],
        went_well=well,
        went_wrong=wrong,
        action_items=list(follow_ups),
        prevention=list(prevention or follow_ups) or ["(to agree at the post-mortem meeting)"],
        lessons=[f"learn from: {w}" for w in wrong]
        + ["(to be completed at the post-mortem meeting, within 48 hours)"],
        evidence=linked,
    )


def postmortem_markdown(
    incident: dict[str, Any],
    timeline: list[TimelineEvent],
    findings: list[Finding],
    actions: list[dict[str, Any]],
    approvals: list[dict[str, Any]],
    *,
    root_cause: str,
    follow_ups: list[str],
    evidence: dict[str, str] | None = None,
    prevention: Sequence[str] = (),
    policy: IncidentPolicy | None = None,
) -> str:
    """The draft as markdown, through the ``postmortem`` template (overridable)."""
    from incident.templates import templates_for  # templates render PostMortem samples

    draft = draft_postmortem(
        incident,
        timeline,
        findings,
        actions,
        approvals,
        root_cause=root_cause,
        follow_ups=follow_ups,
        evidence=evidence,
        prevention=prevention,
    )
    return templates_for(policy).render("postmortem", pm=draft)
