"""Declaration: the incident exists in the record and the channel hears about it first.

Idempotent: the receiver may have recorded the incident already (it claims one per alert
group and passes its id), and a re-run of the same flow run (after a suspend or a retry)
finds the incident it declared; either way it is adopted, not declared twice.
"""

from __future__ import annotations

from blocks.slack import SlackWorkspace
from flows.phases.phase import phase
from flows.response import Response
from incident import templates
from incident.models import Alert, Incident
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord
from incident.severity import Severity

__all__ = ["declare", "incident_from_row"]


def incident_from_row(row: dict[str, object]) -> Incident:
    return Incident.model_validate({k: v for k, v in row.items() if v is not None})


@phase("declare")
def declare(
    alert: Alert,
    *,
    scenario: str,
    title: str,
    default_severity: Severity,
    record: IncidentRecord,
    policy: IncidentPolicy,
    slack: SlackWorkspace | None,
    run_id: str | None,
    incident_id: str | None = None,
    dry_run: bool = False,
    parameters: dict[str, str] | None = None,
) -> Response:
    """Runbook 000 "How to declare": record, severity, commander, channel, first message."""
    existing = None
    if incident_id:
        existing = record.find_incident(incident_id)
    elif run_id:
        existing = record.incident_for_run(run_id)
    if existing is not None:
        incident = incident_from_row(existing).model_copy(
            update={
                "flow_run_id": existing.get("flow_run_id") or run_id,
                "parameters": existing.get("parameters") or parameters or {},
            }
        )
    else:
        incident = Incident(
            title=title,
            severity=alert.severity or default_severity,
            scenario=scenario,
            alert=alert,
            channel=policy.incident_channel,
            commander=alert.labels.get("commander", "on-call"),
            flow_run_id=run_id,
            dry_run=dry_run,
            drill=alert.source.value == "drill" or alert.labels.get("drill") == "true",
            parameters=parameters or {},
            **({"id": incident_id} if incident_id else {}),
        )
    record.open_incident(incident)
    response = Response(record, incident, policy, slack)
    if response.done("declare", "declared") is not None:
        response.event("declare", "resumed", "info", f"flow run {run_id} resumed the response")
        return response
    label = incident.severity.label(policy.scheme)
    response.event(
        "declare",
        "declared",
        "completed",
        f"incident declared: {label} {incident.title} (alert {alert.name} from "
        f"{alert.source.value})" + (" — DRY RUN: nothing will be changed" if dry_run else ""),
        severity=label,
        alert=alert.name,
        flow_run_id=run_id,
    )
    message = templates.declaration_message(incident, policy)
    response.announce("declare", "declaration", message.text, blocks=message.blocks)
    return response
