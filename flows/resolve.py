"""Resolution & verification, and the other way an incident ends: escalation."""

from __future__ import annotations

import time

from blocks.slack import SlackWorkspace
from flows.assess import Check, finding_from_state
from flows.communicate import announce
from flows.scribe import Scribe
from incident import templates
from incident.models import Finding, FindingStatus, IncidentStatus, utcnow
from incident.policy import IncidentPolicy

__all__ = ["escalate", "resolve", "verify"]


def verify(scribe: Scribe, check: Check, policy: IncidentPolicy) -> Finding:
    """Runbook 002's verification: re-run the symptom's check until it is healthy or time is up."""
    window = policy.verification_window.total_seconds()
    interval = max(policy.verification_interval.total_seconds(), 0.1)
    deadline = time.monotonic() + window
    with scribe.step(
        "resolve", "verify", f"verifying {check.name} for up to {window:.0f} s"
    ) as out:
        attempt = 0
        while True:
            attempt += 1
            finding = finding_from_state(check, check.task(**check.kwargs, return_state=True))
            if finding.status is FindingStatus.OK or time.monotonic() >= deadline:
                break
            time.sleep(interval)
        scribe.record.add_finding(scribe.incident.id, finding)
        healthy = finding.status is FindingStatus.OK
        out["message"] = (
            f"{check.name} {'healthy' if healthy else 'still ' + finding.status.value} after "
            f"{attempt} check(s): {finding.summary}"
        )
        out["healthy"] = healthy
    return finding


def resolve(
    scribe: Scribe,
    slack: SlackWorkspace | None,
    policy: IncidentPolicy,
    *,
    root_cause: str,
    fix: str,
) -> None:
    """Runbook 000 phase 4: mark resolved, post the resolution template, say what we watch."""
    scribe.record.set_status(scribe.incident.id, IncidentStatus.RESOLVED, milestone="resolved_at")
    scribe.event("resolve", "resolved", "completed", f"resolved: {fix}", root_cause=root_cause)
    announce(
        scribe,
        slack,
        policy,
        phase="resolve",
        kind="resolution",
        text=templates.resolution(
            scribe.incident,
            resolved_at=utcnow(),
            root_cause=root_cause,
            fix=fix,
            monitoring=f"watching for {int(policy.monitoring_window.total_seconds() // 60)} min",
        ),
    )


def escalate(
    scribe: Scribe, slack: SlackWorkspace | None, policy: IncidentPolicy, *, why: str
) -> str:
    """Runbook 002's matrix: hand over to the next contact; nothing destructive was done."""
    incident = scribe.incident
    contact = policy.escalation_contact(incident.severity, utcnow() - incident.alert.starts_at)
    scribe.record.set_status(incident.id, IncidentStatus.ESCALATED)
    scribe.event("mitigate", "escalated", "escalated", f"escalated to {contact}: {why}")
    announce(
        scribe,
        slack,
        policy,
        phase="mitigate",
        kind="escalation",
        text=templates.escalation(incident, policy, why, contact),
    )
    return contact
