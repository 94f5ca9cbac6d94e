"""What an investigation concludes: no incident, escalate to a person, or mitigate.

A scenario's ``decide(findings, policy)`` is a pure function returning one of these, so
what an approver is asked is exactly what the evidence said, and every branch is testable
without a database or a cluster.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict

from incident.models import Finding, Plan

__all__ = ["Decision", "Verdict", "by_check"]


def by_check(findings: Iterable[Finding]) -> dict[str, Finding]:
    """The latest finding of each check."""
    return {f.check: f for f in findings}


class Verdict(enum.StrEnum):
    NO_INCIDENT = "no_incident"
    ESCALATE = "escalate"
    MITIGATE = "mitigate"


class Decision(BaseModel):
    """The investigation's answer; ``plans`` is a ladder of candidates, best first."""

    model_config = ConfigDict(frozen=True)

    verdict: Verdict
    why: str
    plans: tuple[Plan, ...] = ()
    notes: tuple[str, ...] = ()
    """What the evidence showed that no plan acts on (reported, never silently dropped)."""

    @classmethod
    def no_incident(cls, why: str, notes: Iterable[str] = ()) -> Decision:
        return cls(verdict=Verdict.NO_INCIDENT, why=why, notes=tuple(notes))

    @classmethod
    def escalate(cls, why: str, notes: Iterable[str] = ()) -> Decision:
        return cls(verdict=Verdict.ESCALATE, why=why, notes=tuple(notes))

    @classmethod
    def mitigate(cls, why: str, plans: Iterable[Plan], notes: Iterable[str] = ()) -> Decision:
        ladder = tuple(p for p in plans if not p.is_empty)
        if not ladder:
            raise ValueError("a mitigation needs at least one non-empty plan")
        return cls(verdict=Verdict.MITIGATE, why=why, plans=ladder, notes=tuple(notes))
