"""The generic JSON form, for anything that is neither Alertmanager, Grafana nor PagerDuty.

``{"group_key": "optional", "alerts": [{"name": "DiskFull", "labels": {...}, ...}]}``.
Without a ``group_key`` an alert's group is its name and labels, as ``Alert.dedup_key``.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from incident.models import AlertSource
from receiver.payloads.common import Lenient, Normaliser, OptionalTime, ParsedDelivery, StrMap

__all__ = ["GenericAlert", "GenericPayload"]


class GenericAlert(Lenient):
    name: str = Field(min_length=1)
    status: Literal["firing", "resolved"] = "firing"
    severity: str | int | None = None
    summary: str = ""
    description: str = ""
    service: str = ""
    labels: StrMap = Field(default_factory=dict)
    annotations: StrMap = Field(default_factory=dict)
    starts_at: OptionalTime = None
    ends_at: OptionalTime = None
    fingerprint: str | None = Field(None, max_length=256)
    generator_url: str = ""


class GenericPayload(Lenient):
    group_key: str | None = Field(None, max_length=512)
    alerts: list[GenericAlert] = Field(min_length=1)

    def normalise(self, norm: Normaliser) -> ParsedDelivery:
        return ParsedDelivery(
            AlertSource.MANUAL,
            alerts=[
                norm.received(
                    fingerprint=alert.fingerprint,
                    ends_at=alert.ends_at,
                    name=alert.name,
                    source=AlertSource.MANUAL,
                    status=alert.status,
                    severity=norm.severity(alert.severity, alert.labels.get("severity")),
                    summary=alert.summary,
                    description=alert.description,
                    service=alert.service or alert.labels.get("service", ""),
                    labels=alert.labels,
                    annotations=alert.annotations,
                    starts_at=alert.starts_at,
                    group_key=self.group_key or "",
                    generator_url=alert.generator_url,
                )
                for alert in self.alerts
            ],
        )
