"""PagerDuty v3 webhooks: one event per delivery, about one PagerDuty incident.

The PagerDuty incident id is the group: every event about it belongs to one Firebreak
incident. ``incident.triggered`` / ``incident.reopened`` fire, ``incident.resolved``
resolves; other incident events (acknowledged, annotated, ...) and ``pagey.ping`` are
accepted and not turned into alerts. PagerDuty retries a delivery with the same event id,
which is therefore the alert's fingerprint.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from incident.models import AlertSource
from receiver.payloads.common import Lenient, Normaliser, OptionalTime, ParsedDelivery

__all__ = ["PagerDutyEvent", "PagerDutyIncident", "PagerDutyWebhook"]

_FIRING = {"incident.triggered", "incident.reopened"}
_RESOLVED = {"incident.resolved"}


class PagerDutyReference(Lenient):
    id: str = ""
    type: str = ""
    summary: str = ""
    html_url: str = ""


class PagerDutyIncident(Lenient):
    id: str = Field(min_length=1, max_length=64)
    type: str = "incident"
    number: int | None = None
    title: str = ""
    status: str = ""
    urgency: str | None = None
    incident_key: str | None = None
    html_url: str = ""
    created_at: OptionalTime = None
    service: PagerDutyReference | None = None
    priority: PagerDutyReference | None = None


class PagerDutyEvent(Lenient):
    id: str = Field(min_length=1, max_length=128)
    event_type: str = Field(min_length=1)
    resource_type: str = ""
    occurred_at: OptionalTime = None
    agent: PagerDutyReference | None = None
    data: dict[str, Any] = Field(default_factory=dict)


class PagerDutyWebhook(Lenient):
    event: PagerDutyEvent

    def normalise(self, norm: Normaliser) -> ParsedDelivery:
        event = self.event
        if event.event_type not in _FIRING | _RESOLVED:
            return ParsedDelivery(
                AlertSource.PAGERDUTY,
                ignored=f"{event.event_type} is recorded by PagerDuty, not an alert to act on",
            )
        incident = PagerDutyIncident.model_validate(event.data)
        service = incident.service.summary if incident.service else ""
        priority = incident.priority.summary if incident.priority else None
        urgency = "high" if incident.urgency == "high" else None
        labels = {
            "pagerduty_incident": incident.id,
            "pagerduty_service": service,
            "urgency": incident.urgency or "",
            "event_type": event.event_type,
        }
        return ParsedDelivery(
            AlertSource.PAGERDUTY,
            alerts=[
                norm.received(
                    fingerprint=event.id,
                    name=incident.title or f"PagerDuty incident {incident.number or incident.id}",
                    source=AlertSource.PAGERDUTY,
                    status="firing" if event.event_type in _FIRING else "resolved",
                    severity=norm.severity(priority, urgency),
                    summary=incident.title,
                    service=service,
                    labels={k: v for k, v in labels.items() if v},
                    annotations={"html_url": incident.html_url} if incident.html_url else {},
                    starts_at=event.occurred_at or incident.created_at,
                    group_key=incident.id,
                    generator_url=incident.html_url,
                )
            ],
        )
