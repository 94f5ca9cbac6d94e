"""The incident's vocabulary: what every flow, task, record and message speaks.

Pure pydantic, no I/O: the record stores these, artifacts and Slack render them.
"""

from __future__ import annotations

import enum
import hashlib
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from incident.severity import Severity

__all__ = [
    "Action",
    "ActionStatus",
    "Alert",
    "AlertSource",
    "Approval",
    "ApprovalDecision",
    "Delivery",
    "Finding",
    "FindingStatus",
    "Incident",
    "IncidentOutcome",
    "IncidentStatus",
    "Plan",
    "TimelineEvent",
    "new_incident_id",
    "utcnow",
]


def utcnow() -> datetime:
    return datetime.now(UTC)


class AlertSource(enum.StrEnum):
    ALERTMANAGER = "alertmanager"
    GRAFANA = "grafana"
    PAGERDUTY = "pagerduty"
    MANUAL = "manual"
    DRILL = "drill"


class Alert(BaseModel):
    """An alert from any source, normalised; ``group_key`` is what deduplicates an alert storm."""

    name: str = Field(min_length=1, description="Alert name, e.g. PostgresConnectionsExhausted")
    source: AlertSource = AlertSource.MANUAL
    status: str = Field("firing", pattern="^(firing|resolved)$")
    severity: Severity | None = None
    summary: str = ""
    description: str = ""
    service: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime = Field(default_factory=utcnow, description="When the problem began")
    group_key: str = ""
    generator_url: str = ""

    def dedup_key(self) -> str:
        if self.group_key:
            return self.group_key
        labels = json.dumps(sorted(self.labels.items()))
        return hashlib.sha256(f"{self.source.value}|{self.name}|{labels}".encode()).hexdigest()[:16]


class IncidentStatus(enum.StrEnum):
    """Runbook 002's status-page states, plus the ends a flow can reach."""

    INVESTIGATING = "investigating"
    IDENTIFIED = "identified"
    MITIGATING = "mitigating"
    MONITORING = "monitoring"
    RESOLVED = "resolved"
    ESCALATED = "escalated"
    CRASHED = "crashed"


def new_incident_id() -> str:
    """A fresh incident id; a caller that must know it before declaring (a drill) makes one."""
    return f"INC-{utcnow():%Y%m%d}-{secrets.token_hex(3)}"


class Incident(BaseModel):
    id: str = Field(default_factory=new_incident_id)
    title: str
    severity: Severity
    status: IncidentStatus = IncidentStatus.INVESTIGATING
    scenario: str
    alert: Alert
    commander: str = "on-call"
    channel: str = "#incident-response"
    declared_at: datetime = Field(default_factory=utcnow)
    flow_run_id: str | None = None
    dry_run: bool = False
    drill: bool = Field(False, description="A drill: kept out of real incident metrics")
    parameters: dict[str, str] = Field(
        default_factory=dict,
        description="The scenario's targets by block name (to run a phase again later)",
    )


class FindingStatus(enum.StrEnum):
    OK = "ok"
    WARNING = "warning"
    CRITICAL = "critical"
    UNREACHABLE = "unreachable"
    SKIPPED = "skipped"


class Finding(BaseModel):
    """One diagnostic's verdict with the evidence behind it (a Robusta-style finding)."""

    check: str
    target: str
    status: FindingStatus
    summary: str
    evidence: dict[str, Any] = Field(default_factory=dict)
    observed_at: datetime = Field(default_factory=utcnow)

    @property
    def is_problem(self) -> bool:
        return self.status in (FindingStatus.WARNING, FindingStatus.CRITICAL)


class Plan(BaseModel):
    """Exactly what a destructive action will do; approval is given for its digest."""

    model_config = ConfigDict(frozen=True)

    action: str = Field(description="Registered action name, e.g. terminate_backends")
    target: str
    reason: str
    items: tuple[dict[str, Any], ...] = ()
    params: dict[str, Any] = Field(default_factory=dict)

    @property
    def digest(self) -> str:
        body = json.dumps(
            {
                "action": self.action,
                "target": self.target,
                "items": self.items,
                "params": self.params,
            },
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(body.encode()).hexdigest()[:16]

    @property
    def is_empty(self) -> bool:
        return not self.items


class ApprovalDecision(enum.StrEnum):
    APPROVED = "approved"
    REJECTED = "rejected"
    TIMED_OUT = "timed_out"
    DRY_RUN = "dry_run"


class Approval(BaseModel):
    """A human's answer to one plan; only an approval carrying the plan's digest counts."""

    plan_digest: str
    decision: ApprovalDecision
    approver: str = ""
    reason: str = ""
    requested_at: datetime = Field(default_factory=utcnow)
    decided_at: datetime = Field(default_factory=utcnow)

    @property
    def approved(self) -> bool:
        return self.decision is ApprovalDecision.APPROVED

    def covers(self, plan: Plan) -> bool:
        return self.approved and self.plan_digest == plan.digest


class ActionStatus(enum.StrEnum):
    APPLIED = "applied"
    NOOP = "noop"
    DRY_RUN = "dry_run"
    SKIPPED = "skipped"
    PARTIAL = "partial"
    FAILED = "failed"
    STALE = "stale"  # the target changed since the plan was made: nothing done, re-plan


class Action(BaseModel):
    """What a mitigation actually did, item by item."""

    plan: Plan
    status: ActionStatus
    summary: str
    results: tuple[dict[str, Any], ...] = ()
    approver: str = ""
    at: datetime = Field(default_factory=utcnow)


class TimelineEvent(BaseModel):
    """One line of the incident's story; written the moment it happens."""

    incident_id: str
    phase: str
    step: str
    status: str = Field(description="started, completed, failed, skipped, info")
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    at: datetime = Field(default_factory=utcnow)
    seq: int | None = None


class Delivery(BaseModel):
    """What became of one message to a communication channel."""

    channel: str
    kind: str
    delivered: bool
    attempts: int
    error: str = ""
    ts: str = ""


class IncidentOutcome(BaseModel):
    """What a scenario flow reports when it ends, whichever way it ended."""

    incident_id: str
    status: IncidentStatus
    decision: ApprovalDecision | None = None
    action: ActionStatus | None = None
    summary: str
