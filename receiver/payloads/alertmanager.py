"""Alertmanager's webhook (``webhook_config``, payload version 4) and Grafana's, its superset.

Grafana unified alerting posts the same body with a few more fields (``orgId``, ``values``,
``valueString``, dashboard and panel links, ``title``/``message``). Both group alerts: the
``groupKey`` names the group a notification is about, so it is the incident key.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from incident.models import AlertSource
from receiver.payloads.common import (
    Lenient,
    Normaliser,
    OptionalTime,
    ParsedDelivery,
    ReceivedAlert,
    StrMap,
    label_fingerprint,
)

__all__ = ["AlertmanagerAlert", "AlertmanagerPayload", "GrafanaAlert", "GrafanaPayload"]

Status = Literal["firing", "resolved"]


class AlertmanagerAlert(Lenient):
    """One alert; ``status`` and ``fingerprint`` are missing in payloads of old releases."""

    status: Status | None = None
    labels: StrMap
    annotations: StrMap = Field(default_factory=dict)
    starts_at: OptionalTime = Field(None, alias="startsAt")
    ends_at: OptionalTime = Field(None, alias="endsAt")
    generator_url: str = Field("", alias="generatorURL")
    fingerprint: str | None = Field(None, max_length=256)

    def effective_status(self, now: datetime) -> Status:
        """Old releases send no per-alert status: an end in the past means resolved."""
        if self.status is not None:
            return self.status
        if self.ends_at is not None and self.ends_at <= now:
            return "resolved"
        return "firing"


class AlertmanagerPayload(Lenient):
    version: str | None = None
    group_key: str | None = Field(None, alias="groupKey")
    truncated_alerts: int = Field(0, alias="truncatedAlerts", ge=0)
    status: Status | None = None
    receiver: str = ""
    group_labels: StrMap = Field(default_factory=dict, alias="groupLabels")
    common_labels: StrMap = Field(default_factory=dict, alias="commonLabels")
    common_annotations: StrMap = Field(default_factory=dict, alias="commonAnnotations")
    external_url: str = Field("", alias="externalURL")
    alerts: list[AlertmanagerAlert] = Field(min_length=1)

    source: ClassVar[AlertSource] = AlertSource.ALERTMANAGER

    def group(self) -> str:
        """The sender's group: ``groupKey``, else (very old senders) the group's labels."""
        if self.group_key:
            return self.group_key
        return "labels:" + label_fingerprint(self.group_labels or self.common_labels)

    def normalise(self, norm: Normaliser) -> ParsedDelivery:
        now = datetime.now(UTC)
        group = self.group()
        return ParsedDelivery(
            source=self.source,
            alerts=[self._one(norm, alert, group, now) for alert in self.alerts],
        )

    def _one(
        self, norm: Normaliser, alert: AlertmanagerAlert, group: str, now: datetime
    ) -> ReceivedAlert:
        labels = {**alert.labels}
        annotations = {**self.common_annotations, **alert.annotations}
        return norm.received(
            fingerprint=alert.fingerprint,
            ends_at=alert.ends_at,
            name=labels.get("alertname") or self.group_labels.get("alertname", ""),
            source=self.source,
            status=alert.effective_status(now),
            severity=norm.severity(labels.get("severity"), labels.get("priority")),
            summary=annotations.get("summary") or annotations.get("message", ""),
            description=annotations.get("description", ""),
            service=labels.get("service") or labels.get("job", ""),
            labels=labels,
            annotations=annotations,
            starts_at=alert.starts_at,
            group_key=group,
            generator_url=alert.generator_url,
        )


class GrafanaAlert(AlertmanagerAlert):
    values: dict[str, Any] | None = None  # null when the rule has no numeric values
    value_string: str = Field("", alias="valueString")
    silence_url: str = Field("", alias="silenceURL")
    dashboard_url: str = Field("", alias="dashboardURL")
    panel_url: str = Field("", alias="panelURL")
    image_url: str = Field("", alias="imageURL")


class GrafanaPayload(AlertmanagerPayload):
    org_id: int | None = Field(None, alias="orgId")
    title: str = ""
    state: str = ""
    message: str = ""
    alerts: list[GrafanaAlert] = Field(min_length=1)  # type: ignore[assignment]

    source: ClassVar[AlertSource] = AlertSource.GRAFANA
