"""The runbooks' objectives per severity level, and where the runbooks disagree, each one's.

Split from `incident.policy` (which re-exports all of it) so the policy's own fields read in
one file and these tables in another.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, ConfigDict, Field

from incident.severity import Severity, SeverityScheme

__all__ = [
    "DEFAULT_COMPONENT_STATUS",
    "DEFAULT_OBJECTIVES",
    "DEFAULT_STAKEHOLDERS",
    "RUNBOOK_PRESETS",
    "EscalationStep",
    "Objectives",
]


class EscalationStep(BaseModel):
    """Who is brought in once an incident has been open this long."""

    model_config = ConfigDict(frozen=True)

    after: timedelta
    contact: str


class Objectives(BaseModel):
    """What one severity level promises."""

    model_config = ConfigDict(frozen=True)

    initial_response: timedelta
    acknowledgement: timedelta
    resolution_target: timedelta
    status_update_cadence: timedelta | None = Field(
        description="How often the incident channel hears from us; None: no fixed cadence"
    )
    page_on_call: bool
    escalation: tuple[EscalationStep, ...] = ()


def _steps(*pairs: tuple[int, str]) -> tuple[EscalationStep, ...]:
    return tuple(EscalationStep(after=timedelta(minutes=m), contact=c) for m, c in pairs)


# initial response and resolution: runbook 000 (P1-P4); acknowledgement: runbook 003;
# update cadence: runbook 001 (15/30 min) and 002 (1 h for SEV3); paging: runbook 001's
# flow chart (SEV1/2 page, SEV3/4 ticket); escalation: runbook 002's matrix.
DEFAULT_OBJECTIVES: dict[Severity, Objectives] = {
    Severity.CRITICAL: Objectives(
        initial_response=timedelta(minutes=5),
        acknowledgement=timedelta(minutes=15),
        resolution_target=timedelta(hours=1),
        status_update_cadence=timedelta(minutes=15),
        page_on_call=True,
        escalation=_steps(
            (15, "On-call engineer"),
            (30, "DevOps Lead"),
            (60, "Engineering Manager"),
            (120, "CTO"),
        ),
    ),
    Severity.HIGH: Objectives(
        initial_response=timedelta(minutes=15),
        acknowledgement=timedelta(hours=2),
        resolution_target=timedelta(hours=4),
        status_update_cadence=timedelta(minutes=30),
        page_on_call=True,
        escalation=_steps(
            (15, "On-call engineer"), (30, "DevOps Lead"), (60, "Engineering Manager")
        ),
    ),
    Severity.MEDIUM: Objectives(
        initial_response=timedelta(minutes=30),
        acknowledgement=timedelta(hours=4),
        resolution_target=timedelta(hours=24),
        status_update_cadence=timedelta(hours=1),
        page_on_call=False,
        escalation=_steps((15, "On-call engineer"), (30, "DevOps Lead")),
    ),
    Severity.LOW: Objectives(
        initial_response=timedelta(days=1),
        acknowledgement=timedelta(hours=24),
        resolution_target=timedelta(weeks=1),
        status_update_cadence=None,
        page_on_call=False,
        escalation=_steps((15, "On-call engineer")),
    ),
}


# Runbook 000 "Notify stakeholders": engineering, product, customer support, and management
# for P1/P2.
DEFAULT_STAKEHOLDERS: dict[Severity, tuple[str, ...]] = {
    Severity.CRITICAL: ("engineering", "product", "support", "management"),
    Severity.HIGH: ("engineering", "product", "support", "management"),
    Severity.MEDIUM: ("engineering", "product", "support"),
    Severity.LOW: ("engineering", "product", "support"),
}

# Atlassian Statuspage component states for an open incident of each level.
DEFAULT_COMPONENT_STATUS: dict[Severity, str] = {
    Severity.CRITICAL: "major_outage",
    Severity.HIGH: "partial_outage",
    Severity.MEDIUM: "degraded_performance",
    Severity.LOW: "degraded_performance",
}


def _each(field: str, *values: timedelta) -> dict[Severity, dict[str, timedelta]]:
    return {level: {field: value} for level, value in zip(Severity, values, strict=True)}


def _merge(*parts: dict[Severity, dict[str, timedelta]]) -> dict[Severity, dict[str, object]]:
    merged: dict[Severity, dict[str, object]] = {level: {} for level in Severity}
    for part in parts:
        for level, fields in part.items():
            merged[level].update(fields)
    return merged


_M, _H, _D = timedelta(minutes=1), timedelta(hours=1), timedelta(days=1)

# What each source runbook states where they differ; unstated values keep the defaults.
RUNBOOK_PRESETS: dict[str, tuple[SeverityScheme, dict[Severity, dict[str, object]]]] = {
    "000": (
        SeverityScheme.P,
        _merge(
            _each("initial_response", 5 * _M, 15 * _M, 30 * _M, _D),
            _each("resolution_target", _H, 4 * _H, 24 * _H, 7 * _D),
        ),
    ),
    "001": (SeverityScheme.SEV, _merge(_each("initial_response", 5 * _M, 15 * _M, _H, _D))),
    "002": (
        SeverityScheme.SEV,
        _merge(
            _each("initial_response", timedelta(0), 15 * _M, _H, 4 * _H),
            {Severity.CRITICAL: {"status_update_cadence": 30 * _M}},
        ),
    ),
    "003": (
        SeverityScheme.SEV_ZERO,
        _merge(
            _each("initial_response", timedelta(0), 30 * _M, _H, 4 * _H),
            _each("acknowledgement", 15 * _M, 2 * _H, 4 * _H, 24 * _H),
        ),
    ),
    "004": (
        SeverityScheme.SEV,
        _merge(
            _each("initial_response", 15 * _M, 30 * _M, 2 * _H, _D),
            _each("resolution_target", 4 * _H, 8 * _H, 24 * _H, 5 * _D),
        ),
    ),
}
