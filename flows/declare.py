"""Declaration: the incident exists in the record and the channel hears about it first."""

from __future__ import annotations

from prefect import runtime

from blocks.slack import SlackWorkspace
from flows.communicate import announce
from flows.scribe import Scribe
from incident import templates
from incident.models import Alert, Incident
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord
from incident.severity import Severity

__all__ = ["declare"]


def declare(
    alert: Alert,
    *,
    scenario: str,
    title: str,
    default_severity: Severity,
    record: IncidentRecord,
    policy: IncidentPolicy,
    slack: SlackWorkspace | None,
    dry_run: bool = False,
) -> Scribe:
    """Runbook 000 "How to declare": record, severity, commander, channel, first message."""
    flow_run_id = runtime.flow_run.id
    incident = Incident(
        title=title,
        severity=alert.severity or default_severity,
        scenario=scenario,
        alert=alert,
        channel=policy.incident_channel,
        commander=alert.labels.get("commander", "on-call"),
        flow_run_id=str(flow_run_id) if flow_run_id else None,
        dry_run=dry_run,
    )
    record.open_incident(incident)
    scribe = Scribe(record, incident)
    label = incident.severity.label(policy.scheme)
    scribe.event(
        "declare",
        "declared",
        "completed",
        f"incident declared: {label} {title} (alert {alert.name} from {alert.source.value})"
        + (" — DRY RUN: nothing will be changed" if dry_run else ""),
        severity=label,
        alert=alert.name,
        flow_run_id=incident.flow_run_id,
    )
    announce(
        scribe,
        slack,
        policy,
        phase="declare",
        kind="declaration",
        text=templates.declaration(incident, policy),
    )
    return scribe
