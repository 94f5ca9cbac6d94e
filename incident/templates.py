"""Message templates from the runbooks, filled from the incident record."""

from __future__ import annotations

from datetime import datetime

from incident.models import Finding, Incident, Plan
from incident.policy import IncidentPolicy

__all__ = [
    "approval_needed",
    "declaration",
    "escalation",
    "monitoring",
    "plan_markdown",
    "resolution",
]

RULE = "━" * 22


def _time(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h {minutes}m {secs}s" if hours else f"{minutes}m {secs}s"


def declaration(incident: Incident, policy: IncidentPolicy) -> str:
    """Runbook 000's declaration and 004's Slack template."""
    # Only what the flow does: it posts at each change of status (no timed updates yet).
    next_update = "at each change of status"
    label = incident.severity.label(policy.scheme)
    return (
        f"🚨 INCIDENT DECLARED - {label} 🚨\n{RULE}\n"
        f"Incident: {incident.id}{' (DRY RUN)' if incident.dry_run else ''}\n"
        f"Issue: {incident.title}\n"
        f"Impact: {incident.alert.summary or incident.alert.description or 'being assessed'}\n"
        f"Severity: {label}\n"
        f"Commander: {incident.commander}\n"
        f"Started: {_time(incident.alert.starts_at)}\n"
        f"Next Update: {next_update}\n"
        f"Channel: {incident.channel}"
    )


def monitoring(incident: Incident, policy: IncidentPolicy, *, watching: str) -> str:
    """Runbook 002's "Monitoring" status: the fix is in, and this is how long we watch."""
    label = incident.severity.label(policy.scheme)
    return (
        f"👀 MONITORING - {label} {incident.id}\n{RULE}\n"
        f"Issue: {incident.title}\n"
        f"Status: mitigation applied and took effect; every check is healthy\n"
        f"Next: watching every check for {watching}; resolved only if none turns bad"
    )


def escalation(incident: Incident, policy: IncidentPolicy, why: str, contact: str) -> str:
    label = incident.severity.label(policy.scheme)
    return (
        f"⏫ ESCALATION - {label} {incident.id}\n{RULE}\n"
        f"Issue: {incident.title}\n"
        f"Why: {why}\n"
        f"Escalated to: {contact}\n"
        "Nothing destructive was done without approval."
    )


def approval_needed(
    incident: Incident, plan: Plan, policy: IncidentPolicy, *, deadline: datetime, where: str
) -> str:
    """The channel hears that a person must decide, by when, and where."""
    label = incident.severity.label(policy.scheme)
    return (
        f"⏸ APPROVAL NEEDED - {label} {incident.id}\n{RULE}\n"
        f"Action: {plan.action} on {plan.target} ({len(plan.items)} item(s), plan {plan.digest})\n"
        f"Why: {plan.reason}\n"
        f"Answer by: {_time(deadline)} (then nothing is done and the incident is escalated)\n"
        f"Where: {where}"
    )


def resolution(
    incident: Incident,
    *,
    resolved_at: datetime,
    root_cause: str,
    fix: str,
    monitoring: str,
) -> str:
    """Runbook 000's resolution template."""
    duration = (resolved_at - incident.alert.starts_at).total_seconds()
    return (
        f"✅ INCIDENT RESOLVED ✅\n{RULE}\n"
        f"Incident: {incident.id}\n"
        f"Resolution Time: {_time(resolved_at)}\n"
        f"Total Duration: {_duration(duration)}\n"
        f"Root Cause: {root_cause}\n"
        f"Fix Applied: {fix}\n"
        f"Monitoring: {monitoring}\n"
        "Post-Mortem: draft attached to the flow run"
    )


def plan_markdown(
    incident: Incident, plan: Plan, findings: list[Finding], *, deadline: datetime
) -> str:
    """What the approver reads in the Prefect UI before deciding, deadline first."""
    lines = [
        f"## Approve `{plan.action}` on {plan.target}?",
        "",
        f"**Answer by {_time(deadline)}.** After that nothing is done and the incident is "
        "escalated.",
        "",
        f"**Incident** {incident.id}: {incident.title}",
        f"**Why**: {plan.reason}",
        f"**Plan digest**: `{plan.digest}` (the approval is valid for this exact plan only)",
        "",
        "| pid | user | database | state | age (s) | reason | query |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in plan.items:
        query = str(item.get("query") or "").replace("|", "\\|").replace("\n", " ")[:120]
        lines.append(
            f"| {item['pid']} | {item.get('usename')} | {item.get('datname')} | "
            f"{item.get('state')} | {item.get('age_seconds')} | {item.get('reason')} | "
            f"`{query}` |"
        )
    lines += ["", "### Findings", ""]
    lines += [f"- **{f.check}** ({f.status.value}): {f.summary}" for f in findings]
    lines += [
        "",
        "Approve to terminate exactly these backends; reject (or let the approval time out) "
        "to terminate nothing and escalate.",
    ]
    return "\n".join(lines)
