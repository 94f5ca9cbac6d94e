"""What every drill does around its own fault: fire the alert through `respond` and the
shipped routing rules (so the drill rehearses the routing as well as the response), read
the channel, and finish the scorecard from the record (metrics, the post-mortem)."""

from __future__ import annotations

from typing import Any

from prefect.states import State

from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.drill import DRILL_TOKEN, DrillReport
from flows.respond import respond, routing_rules
from incident.models import Alert, AlertSource
from incident.policy import IncidentPolicy
from incident.postmortem import incident_metrics
from incident.record import IncidentRecord
from sandbox.slack_stub import SlackStub

__all__ = ["ROUTES", "finish", "fire", "posted"]

ROUTES = "deployments/respond-routes.yaml"


def fire(
    alertname: str,
    summary: str,
    labels: dict[str, str],
    *,
    incident_id: str,
    target: tuple[str, Any],
    store: IncidentStore,
    slack_stub: SlackStub,
    policy: IncidentPolicy,
) -> State:
    """The drill's alert, as Alertmanager would send it, answered by `respond`; the shipped
    routes' ``target`` parameter (name, value) points at the drill's own target."""
    return respond(
        alert=Alert(
            name=alertname,
            source=AlertSource.DRILL,
            severity="SEV2",
            summary=f"[DRILL] {summary}",
            labels={**labels, "drill": "true"},
        ),
        incident_id=incident_id,
        routes=routing_rules(ROUTES).with_parameter(*target),
        store=store,
        slack=SlackWorkspace(token=DRILL_TOKEN, api_base_url=slack_stub.base_url),
        policy=policy,
        return_state=True,
    )


def posted(slack_stub: SlackStub, marker: str) -> bool:
    return any(marker in text for text in slack_stub.texts())


def finish(report: DrillReport, record: IncidentRecord) -> DrillReport:
    """Metrics and the post-mortem check from the record; the record is closed."""
    try:
        timeline = record.timeline(report.incident_id)
        report.metrics = incident_metrics(record.get_incident(report.incident_id), timeline)
        report.checks["post-mortem drafted"] = any(
            e.step == "postmortem" and e.status == "completed" for e in timeline
        )
    finally:
        record.close()
    return report
