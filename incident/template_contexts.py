"""What each message template is given: one builder per template, and a sample of each.

The public functions of `incident.templates` build their context here, and the load-time
check renders every template with these same builders on a sample incident, so a variable
that a template uses and no caller passes is found when the templates load, not mid-incident.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from incident.models import Alert, Incident, Plan, TimelineEvent
from incident.policy import IncidentPolicy
from incident.severity import Severity
from incident.template_loader import duration_text

__all__ = [
    "ROLE_TITLES",
    "SAMPLES",
    "context_approval",
    "context_customer",
    "context_customer_resolution",
    "context_declaration",
    "context_escalation",
    "context_monitoring",
    "context_page",
    "context_resolution",
    "context_roles",
    "context_stakeholders",
    "context_status_update",
    "context_statuspage",
    "human_span",
    "mention",
]

ROLE_TITLES = {
    "incident_commander": "Incident Commander",
    "technical_lead": "Technical Lead",
    "communications_lead": "Communications Lead",
    "scribe": "Scribe",
}
"""Runbook 000's four roles, in the order they are announced."""


def mention(who: str) -> str:
    """A Slack user id becomes a mention; anything else is shown as given."""
    if who[:1] in ("U", "W") and who[1:].isalnum() and who.isupper():
        return f"<@{who}>"
    return who


def human_span(span: timedelta) -> str:
    """``15 minutes``, ``4 hours``, ``5 days``: the largest whole unit, as people say it."""
    seconds = int(span.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {unit}{'s' if count != 1 else ''}"
    return f"{seconds} seconds" if seconds >= 60 or seconds != 1 else "1 second"


def _next_update(incident: Incident, policy: IncidentPolicy) -> str:
    """Only what will happen: timed updates need the notify-due sweep to be deployed."""
    cadence = policy.for_severity(incident.severity).status_update_cadence
    if not policy.timed_updates or cadence is None:
        return "at each change of status"
    return human_span(cadence)


def _impact(incident: Incident) -> str:
    return incident.alert.summary or incident.alert.description or "being assessed"


def _base(incident: Incident, policy: IncidentPolicy) -> dict[str, Any]:
    return {
        "incident": incident,
        "label": incident.severity.label(policy.scheme),
        "impact": _impact(incident),
        "next_update": _next_update(incident, policy),
    }


# -- contexts: one per template; the load-time check uses the same builders -------------------


def context_declaration(
    incident: Incident, policy: IncidentPolicy, commander: str | None, channel: str | None
) -> dict[str, Any]:
    return _base(incident, policy) | {
        "status": "Investigating",
        "commander": mention(commander or incident.commander),
        "started": incident.alert.starts_at,
        "channel": channel or incident.channel,
    }


def context_roles(
    incident: Incident, policy: IncidentPolicy, roles: dict[str, str], channel: str
) -> dict[str, Any]:
    announced = [
        {"key": key, "title": title, "mention": mention(roles[key])}
        for key, title in ROLE_TITLES.items()
        if roles.get(key)
    ]
    return _base(incident, policy) | {"roles": announced, "channel": channel}


def context_status_update(
    incident: Incident,
    policy: IncidentPolicy,
    status: str,
    changes: Sequence[TimelineEvent],
    next_steps: Sequence[str],
    timeline: Sequence[TimelineEvent],
    impact: str | None,
) -> dict[str, Any]:
    return _base(incident, policy) | {
        "status": status.capitalize(),
        "changes": list(changes),
        "next_steps": list(next_steps) or ["keep investigating"],
        "timeline": list(timeline),
        "impact": impact or _impact(incident),
    }


def context_resolution(
    incident: Incident,
    resolved_at: datetime,
    root_cause: str,
    fix: str,
    monitoring: str,
    impact: str | None,
    follow_ups: Sequence[str],
) -> dict[str, Any]:
    return {
        "incident": incident,
        "resolved_at": resolved_at,
        "duration": duration_text((resolved_at - incident.alert.starts_at).total_seconds()),
        "root_cause": root_cause,
        "fix": fix,
        "monitoring": monitoring,
        "impact": impact or _impact(incident),
        "follow_ups": list(follow_ups),
    }


def context_escalation(
    incident: Incident, policy: IncidentPolicy, why: str, contact: str, level: int | None
) -> dict[str, Any]:
    return _base(incident, policy) | {"why": why, "contact": contact, "level": level}


def context_monitoring(incident: Incident, policy: IncidentPolicy, watching: str) -> dict[str, Any]:
    return _base(incident, policy) | {"watching": watching}


def context_approval(
    incident: Incident,
    plan: Plan,
    policy: IncidentPolicy,
    deadline: datetime,
    where: str,
    contact: str,
    level: int,
    last_level: bool,
) -> dict[str, Any]:
    after = (
        "nothing is done and the approval expires"
        if last_level
        else "the request goes to the next escalation level"
    )
    if not contact:  # the single-level request of today's approval step
        after = "nothing is done and the incident is escalated"
    return _base(incident, policy) | {
        "plan": plan,
        "deadline": deadline,
        "where": where,
        "contact": contact,
        "level": level,
        "after_deadline": after,
    }


def context_stakeholders(
    incident: Incident,
    policy: IncidentPolicy,
    channel: str,
    status_page: str,
    roles: dict[str, str],
) -> dict[str, Any]:
    return _base(incident, policy) | {
        "started": incident.alert.starts_at,
        "channel": channel,
        "status_page": status_page,
        "commander": mention(roles.get("incident_commander") or incident.commander),
        "tech_lead": mention(roles["technical_lead"]) if roles.get("technical_lead") else "",
        "audience": list(policy.stakeholders.get(incident.severity, ())),
    }


def context_customer(
    incident: Incident, policy: IncidentPolicy, status: str, impact: str | None
) -> dict[str, Any]:
    target = policy.for_severity(incident.severity).resolution_target
    return _base(incident, policy) | {
        "status": status.capitalize(),
        "impact": impact or _impact(incident),
        "estimated_resolution": f"within {human_span(target)}",
        "signature": policy.customer_signature,
    }


def context_customer_resolution(
    incident: Incident, policy: IncidentPolicy, root_cause: str, prevention: str
) -> dict[str, Any]:
    return {
        "incident": incident,
        "root_cause": root_cause,
        "prevention": prevention,
        "signature": policy.customer_signature,
    }


def context_statuspage(status: str, service: str) -> dict[str, Any]:
    return {"status": status, "service": service or "our service"}


def context_page(incident: Incident, policy: IncidentPolicy, contact: str) -> dict[str, Any]:
    return _base(incident, policy) | {"contact": contact}


def _sample_incident() -> Incident:
    started = datetime(2026, 12, 2, 3, 0, tzinfo=UTC)
    alert = Alert(name="Sample", summary="sample impact", service="payments", starts_at=started)
    return Incident(title="Sample incident", severity=Severity.HIGH, scenario="s", alert=alert)


def _samples() -> dict[str, Callable[[], dict[str, Any]]]:
    i, p = _sample_incident(), IncidentPolicy()
    plan = Plan(action="terminate_backends", target="db", reason="r", items=({"pid": 1},))
    e = TimelineEvent(
        incident_id=i.id,
        phase="declare",
        step="declared",
        status="completed",
        message="declared",
        at=i.declared_at,
    )
    at = i.alert.starts_at + timedelta(minutes=5)
    return {
        "declaration": lambda: context_declaration(i, p, None, None),
        "roles": lambda: context_roles(i, p, {k: "U0SAMPLE" for k in ROLE_TITLES}, "#c"),
        "status_update": lambda: context_status_update(i, p, "identified", [e], ["x"], [e], None),
        "resolution": lambda: context_resolution(i, at, "cause", "fix", "watching", None, ["a"]),
        "escalation": lambda: context_escalation(i, p, "why", "DevOps Lead", 2),
        "monitoring": lambda: context_monitoring(i, p, "30 min"),
        "approval_needed": lambda: context_approval(i, plan, p, at, "ui", "Lead", 2, False),
        "stakeholder_notice": lambda: context_stakeholders(i, p, "#c", "https://s", {}),
        "customer_notification": lambda: context_customer(i, p, "investigating", None),
        "customer_resolution": lambda: context_customer_resolution(i, p, "cause", "measures"),
        "statuspage": lambda: context_statuspage("identified", "payments"),
        "statuspage_title": lambda: context_statuspage("investigating", "payments"),
        "page": lambda: context_page(i, p, "On-call engineer"),
        "postmortem": lambda: {"pm": _sample_postmortem(i, e)},
    }


def _sample_postmortem(incident: Incident, event: TimelineEvent) -> Any:
    from incident.postmortem import draft_postmortem  # it renders through these templates

    row = {
        "id": incident.id,
        "title": incident.title,
        "severity": "high",
        "status": "resolved",
        "started_at": incident.alert.starts_at,
        "alert": incident.alert.model_dump(mode="json"),
        "resolved_at": incident.alert.starts_at + timedelta(minutes=30),
    }
    action = {"action": "terminate_backends", "target": "db", "summary": "terminated 1"}
    approval = {"decision": "approved", "reason": ""}
    return draft_postmortem(
        row,
        [event],
        [],
        [action],
        [approval],
        root_cause="cause",
        follow_ups=["a"],
        evidence={"logs": "https://logs"},
    )


SAMPLES = _samples()
