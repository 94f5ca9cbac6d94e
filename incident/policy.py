"""Objectives and thresholds: the numbers the runbooks set, as overridable defaults.

Where the runbooks disagree the default names its source and the policy lets a team pick
its own; tests compress every window and cadence here instead of sleeping.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field, field_validator

from incident.blast_radius import OverCap
from incident.objectives import (
    DEFAULT_COMPONENT_STATUS,
    DEFAULT_OBJECTIVES,
    DEFAULT_STAKEHOLDERS,
    RUNBOOK_PRESETS,
    Objectives,
)
from incident.severity import Severity, SeverityScheme

__all__ = ["IncidentPolicy"]  # the objectives tables: `incident.objectives`


class IncidentPolicy(BaseModel):
    """Every threshold a flow consults; one object, saved as the ``IncidentPolicy`` block."""

    scheme: SeverityScheme = Field(
        SeverityScheme.SEV, description="How severities are written in messages"
    )
    objectives: dict[Severity, Objectives] = Field(default_factory=lambda: dict(DEFAULT_OBJECTIVES))
    incident_channel: str = Field("#incident-response", description="Runbook 000's channel")
    approval_timeout: timedelta = Field(
        timedelta(minutes=10),
        description="How long a destructive action waits for a human before escalating",
    )
    approval_poll_interval: timedelta = timedelta(seconds=5)
    approvers: tuple[str, ...] = Field(
        (),
        description=(
            "Who may answer an approval from outside the Prefect UI (Slack buttons, CLI), by "
            "approver name. Empty: nobody; only the Prefect UI form can answer."
        ),
    )
    slack_approvers: dict[str, str] = Field(
        default_factory=dict,
        description=(
            "Slack user id (U...) -> approver name. A Slack user not listed here cannot "
            "approve from Slack, whatever their display name says."
        ),
    )
    approver_must_not_be_requester: bool = Field(
        False,
        description=(
            "Four-eyes rule: refuse an answer from the person who triggered the action "
            "(as named in the approval request)."
        ),
    )
    long_query_threshold: timedelta = Field(
        timedelta(minutes=5), description="Runbooks 001 and 004: queries older than 5 min"
    )
    major_impact_share: float = Field(
        0.5,
        gt=0,
        le=1,
        description="Runbook 002: more than this share of a service failing is SEV2 (most users)",
    )
    rollout_window: timedelta = Field(
        timedelta(minutes=30),
        description="A rollout this long before an alert (or after it) is 'a recent deployment'",
    )
    memory_limit_factor: float = Field(
        1.5, gt=1, description="Runbook 004: an OOM-killed container's limit is raised this much"
    )
    memory_limit_cap: str = Field(
        "8Gi", description="No memory limit is raised above this (a Kubernetes quantity)"
    )
    idle_connection_age: timedelta = Field(
        timedelta(minutes=10),
        description=(
            "Runbook 001's 'kill idle connections': idle sessions older than this are offered "
            "for termination when a pool is exhausted and nothing worse holds it"
        ),
    )
    client_flood_size: int = Field(
        50,
        ge=2,
        description=(
            "A Redis client flood: this many connections idle past idle_connection_age from "
            "one client name (or, unnamed, one host) are a leak to end"
        ),
    )
    min_connection_headroom: float = Field(
        0.10,
        ge=0,
        le=1,
        description="Free share of a connection limit below which it is exhausted",
    )
    verification_window: timedelta = Field(
        timedelta(minutes=2), description="How long to wait for a mitigation to take effect"
    )
    verification_interval: timedelta = timedelta(seconds=10)
    monitoring_window: timedelta = Field(
        timedelta(minutes=30),
        description=(
            "Runbooks 000/001: after a mitigation took effect, every verification check must "
            "stay healthy this long before the incident is called resolved"
        ),
    )
    mitigation_lock_timeout: timedelta = Field(
        timedelta(minutes=10),
        description=(
            "How long a mitigation waits for another one on the same target to finish before "
            "escalating instead"
        ),
    )
    suspend_while_waiting: bool = Field(
        True,
        description=(
            "A deployment run waiting for approval is suspended (its process and worker slot "
            "freed, re-run from the record when answered) instead of paused"
        ),
    )
    max_replans: int = Field(
        2,
        ge=0,
        description="How often a plan whose target changed is re-planned and asked again",
    )
    notification_attempts: int = Field(4, ge=1)
    notification_max_wait: timedelta = Field(
        timedelta(seconds=30),
        le=timedelta(seconds=60),
        description="Longest a message may keep retrying (a 429's Retry-After included)",
    )

    # -- communication (issue 10): who is told what, where; safe defaults say nothing new --
    timed_updates: bool = Field(
        True,
        description=(
            "The notify-due deployment runs and posts status updates at each severity's "
            "cadence; off, messages promise an update only at each change of status"
        ),
    )
    message_templates: str | None = Field(
        None,
        description="Directory of Jinja2 template overrides (same file names as "
        "incident/messages); checked when loaded, so a broken one fails before any incident",
    )
    roles: dict[str, str] = Field(
        default_factory=dict,
        description="On-call roster by role (incident_commander, technical_lead, "
        "communications_lead, scribe): a Slack user id (U...), an e-mail, or a name",
    )
    responders: list[str] = Field(
        default_factory=list,
        description="Who is invited to every incident channel (Slack user ids or e-mails)",
    )
    incident_channel_per_incident: bool = Field(
        True, description="Open a dedicated channel per incident (runbook 001)"
    )
    stakeholders: dict[Severity, tuple[str, ...]] = Field(
        default_factory=lambda: dict(DEFAULT_STAKEHOLDERS),
        description="Who hears of an incident, by severity (runbook 000: management for the "
        "top two levels)",
    )
    stakeholder_channels: dict[str, str] = Field(
        default_factory=dict,
        description="Slack channel per stakeholder group; a group without one is named in "
        "the notice posted to the incident-response channel",
    )
    status_page_components: dict[str, str] = Field(
        default_factory=dict,
        description="Status page component id per service (the alert's service label)",
    )
    component_status: dict[Severity, str] = Field(
        default_factory=lambda: dict(DEFAULT_COMPONENT_STATUS),
        description="Status page component status while an incident of this level is open",
    )
    blast_radius: dict[str, int] = Field(
        default_factory=lambda: {"terminate_backends": 100, "delete_pod": 3, "scale_workload": 10},
        description="Most one plan may touch, per action ('terminate_backends': backends, "
        "'delete_pod': pods, 'scale_workload': replicas removed, others: items); a key "
        "'action@environment' applies where the alert's environment label says so",
    )
    blast_radius_over: OverCap = Field(
        OverCap.REFUSE,
        description="A plan above its cap: refuse it, or ask a second, different approver",
    )
    auto_approve: dict[Severity, tuple[str, ...]] = Field(
        default_factory=dict,
        description="Low-risk actions applied without a person's answer, by severity "
        "(recorded as auto-approved); none by default",
    )
    drills_auto_approve: bool = Field(
        False, description="Drills approve their own plans (recorded as such)"
    )
    sweep_lookback: timedelta = Field(
        timedelta(hours=24),
        description="How long after closing an incident the sweep still finishes what its "
        "channels owe it (resolution posts, page resolve, status page)",
    )
    customer_channel: str | None = Field(
        None,
        description="Slack channel (e.g. a shared one) for customer notices; without one they "
        "are posted to the incident's channel for the communications lead to send",
    )
    customer_signature: str = Field(
        "The Operations Team", description="How customer notices are signed (runbook 003)"
    )

    @field_validator("objectives", mode="before")
    @classmethod
    def _merge_with_defaults(cls, value: object) -> object:
        """An override may name a few levels; the others keep the runbook defaults."""
        if isinstance(value, dict):
            merged: dict[object, object] = dict(DEFAULT_OBJECTIVES)
            for key, objectives in value.items():
                merged[Severity.parse(key)] = objectives
            return merged
        return value

    @classmethod
    def from_runbook(cls, runbook: str, **overrides: object) -> IncidentPolicy:
        """The policy as one source runbook states it, where the runbooks disagree.

        ``IncidentPolicy.from_runbook("004")`` gives WearForce's SEV 1-4 with its 15 min /
        30 min / 2 h / 1 day responses and 4 h / 8 h / 24 h / 5 day resolution targets.
        """
        if runbook not in RUNBOOK_PRESETS:
            raise ValueError(
                f"no preset for runbook {runbook!r}: use one of {list(RUNBOOK_PRESETS)}"
            )
        scheme, changes = RUNBOOK_PRESETS[runbook]
        objectives = {
            level: DEFAULT_OBJECTIVES[level].model_copy(update=changes.get(level, {}))
            for level in Severity
        }
        return cls.model_validate({"scheme": scheme, "objectives": objectives, **overrides})

    def for_severity(self, severity: Severity) -> Objectives:
        return self.objectives[severity]

    def escalation_contact(self, severity: Severity, elapsed: timedelta) -> str:
        """The contact the escalation matrix reaches at this age, one step up (see below)."""
        steps = self.objectives[severity].escalation
        if not steps:
            return "On-call engineer"
        reached = [s for s in steps if s.after <= elapsed]
        # An approval nobody gave is itself a reason to go one step up.
        index = min(len(reached), len(steps) - 1)
        return steps[index].contact
