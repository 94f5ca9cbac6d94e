"""Runbook 001's incident record in YAML ("Incident Template"), exported from the record.

The same keys as the runbook's template (id, severity, title, started_at, detected_by,
resolved_at, impact, timeline, action_items), with full ISO 8601 times in the timeline
instead of the runbook's bare ``14:15`` (which YAML reads as a number, and which loses the
date), so an export read back with `from_yaml` equals what was exported.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field

from incident.ledger import is_news
from incident.models import TimelineEvent
from incident.policy import IncidentPolicy
from incident.severity import Severity

__all__ = ["ExportedEvent", "Impact", "IncidentExport", "export_incident", "from_yaml", "to_yaml"]

_DETECTED_BY = {
    "alertmanager": "monitoring_alert",
    "grafana": "monitoring_alert",
    "pagerduty": "monitoring_alert",
    "manual": "reported",
    "drill": "drill",
}


class ExportedEvent(BaseModel):
    model_config = ConfigDict(extra="forbid")

    time: datetime
    event: str


class Impact(BaseModel):
    model_config = ConfigDict(extra="forbid")

    users_affected: int | None = None
    revenue_lost: str | None = None
    duration_minutes: int | None = None


class IncidentExport(BaseModel):
    """The ``incident:`` document of runbook 001."""

    model_config = ConfigDict(extra="forbid")

    id: str
    severity: str
    title: str
    started_at: datetime
    detected_by: str
    resolved_at: datetime | None = None
    impact: Impact = Field(default_factory=Impact)
    timeline: list[ExportedEvent] = Field(default_factory=list)
    action_items: list[str] = Field(default_factory=list)


def export_incident(
    incident: dict[str, Any],
    timeline: Sequence[TimelineEvent],
    *,
    policy: IncidentPolicy | None = None,
    action_items: Sequence[str] = (),
    users_affected: int | None = None,
    revenue_lost: str | None = None,
) -> IncidentExport:
    """The record's incident in runbook 001's form; the timeline keeps what a person calls news."""
    scheme = (policy or IncidentPolicy()).scheme
    resolved = incident.get("resolved_at")
    duration = None
    if resolved is not None:
        duration = int((resolved - incident["started_at"]).total_seconds() // 60)
    source = str((incident.get("alert") or {}).get("source", "manual"))
    return IncidentExport(
        id=incident["id"],
        severity=Severity.parse(incident["severity"]).label(scheme),
        title=incident["title"],
        started_at=incident["started_at"],
        detected_by=_DETECTED_BY.get(source, source),
        resolved_at=resolved,
        impact=Impact(
            users_affected=users_affected, revenue_lost=revenue_lost, duration_minutes=duration
        ),
        timeline=[ExportedEvent(time=e.at, event=e.message) for e in timeline if is_news(e)],
        action_items=list(action_items),
    )


def to_yaml(export: IncidentExport) -> str:
    return yaml.safe_dump(
        {"incident": export.model_dump(mode="json")}, sort_keys=False, allow_unicode=True
    )


def from_yaml(text: str) -> IncidentExport:
    """Read an export back; a document that is not one says which field is wrong."""
    document = yaml.safe_load(text)
    if not isinstance(document, dict) or "incident" not in document:
        raise ValueError("not an incident export: the document must have an 'incident:' key")
    return IncidentExport.model_validate(document["incident"])
