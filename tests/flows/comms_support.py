"""What the communication tests share: the record written the way the engine's phases write it.

The sweep reads only the record, so these tests write it with the real `Scribe` and
`IncidentRecord` exactly as declare / assess / approval / resolve / the crash hook do,
and then judge what each channel was sent.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flows.response import Response as Scribe
from incident.models import Alert, AlertSource, Incident, IncidentStatus
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord

S = timedelta(seconds=1)


def compressed_policy(**overrides: Any) -> IncidentPolicy:
    """SEV1 with a 10 s update cadence and a 10 s / 20 s / 30 s / 40 s escalation matrix."""
    values: dict[str, Any] = {
        "objectives": {
            "SEV1": {
                "initial_response": "PT5S",
                "acknowledgement": "PT10S",
                "resolution_target": "PT1H",
                "status_update_cadence": "PT10S",
                "page_on_call": True,
                "escalation": [
                    {"after": "PT10S", "contact": "On-call engineer"},
                    {"after": "PT20S", "contact": "DevOps Lead"},
                    {"after": "PT30S", "contact": "Engineering Manager"},
                    {"after": "PT40S", "contact": "CTO"},
                ],
            }
        },
        "roles": {
            "technical_lead": "U0JOHN",
            "communications_lead": "comms@example.com",
            "scribe": "U0SCRIBE",
        },
        "responders": ["U0RESP"],
        "stakeholder_channels": {"management": "#leadership"},
        "status_page_components": {"payments": "cmp-api"},
        "notification_attempts": 2,
        "notification_max_wait": "PT2S",
    }
    values.update(overrides)
    return IncidentPolicy.model_validate(values)


def declare(record: IncidentRecord, *, severity: str = "SEV1", drill: bool = False) -> Scribe:
    """Runbook 000's declaration, as `flows.declare` records it."""
    alert = Alert(
        name="PaymentsDown",
        source=AlertSource.ALERTMANAGER,
        severity=severity,
        summary="all card payments failing",
        service="payments",
    )
    incident = Incident(
        title="Payment processing down",
        severity=alert.severity,
        scenario="outage",
        alert=alert,
        commander="U0JANE",
        drill=drill,
    )
    record.open_incident(incident)
    scribe = Scribe(record, incident, IncidentPolicy(), None)
    scribe.event("declare", "declared", "completed", f"incident declared: {severity}")
    return scribe


def assess_and_ask(scribe: Scribe, *, customers: bool = True) -> None:
    """Assessment finds the cause; the plan waits for approval (the run is paused)."""
    incident_id = scribe.incident.id
    with scribe.step("assess", "assess", "running diagnostics") as out:
        out["message"] = "connection pool exhausted: 100 of 100 in use"
    scribe.record.set_status(incident_id, IncidentStatus.IDENTIFIED)
    if customers:
        scribe.event("assess", "impact:customer", "confirmed", "card payments fail for customers")
    scribe.event("mitigate", "approval", "started", "approval requested", plan_digest="abc123")


def crash(scribe: Scribe) -> None:
    """What `flows.hooks.record_abnormal_end` writes when the run crashes."""
    scribe.event("flow", "crashed", "failed", "flow run crashed during mitigate/approval")
    scribe.record.set_status(scribe.incident.id, IncidentStatus.CRASHED)


def acknowledge(scribe: Scribe) -> None:
    scribe.record.set_status(
        scribe.incident.id, IncidentStatus.IDENTIFIED, milestone="acknowledged_at"
    )


def resolve(scribe: Scribe) -> None:
    """What `flows.resolve.resolve` records."""
    scribe.record.set_status(scribe.incident.id, IncidentStatus.RESOLVED, milestone="resolved_at")
    scribe.event(
        "resolve",
        "resolved",
        "completed",
        "resolved: terminated 6 idle sessions",
        root_cause="idle-in-transaction sessions held the pool",
    )


def at(scribe: Scribe, seconds: float) -> datetime:
    """A moment measured from the incident's start (the sweep is told the time)."""
    return scribe.incident.alert.starts_at + seconds * S
