"""Runbook 002's escalation matrix as pure functions of time: who is due, and when.

Nothing here pages or posts; the sweep (`flows.notify_due`) and the approval step ask these
questions and act. Every answer depends only on the record's timestamps, the policy and
``now``, so the same question asked again after a restart gets the same answer, and what was
already done is passed in (the levels the timeline says were paged) rather than remembered.

Two clocks run on the same matrix:

- **the incident's**: a level whose time (15 min, 30 min, 1 h, 2 h for SEV1) has passed while
  the incident is still unacknowledged is paged; an acknowledged incident stops climbing until
  its resolution target passes unresolved, when the next level up is brought in once.
- **a pending approval's**: each level in turn gets ``approval_timeout`` to answer; after the
  last level's window the approval expires (nothing is applied).
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict

from incident.policy import IncidentPolicy
from incident.severity import Severity

__all__ = [
    "ApprovalStage",
    "EscalationLevel",
    "approval_stage",
    "approval_window",
    "auto_approval",
    "escalation_levels",
    "escalations_due",
]

_FALLBACK_CONTACT = "On-call engineer"


class EscalationLevel(BaseModel):
    """One row of the matrix for one severity: level 1 is the first contact."""

    model_config = ConfigDict(frozen=True)

    level: int
    after: timedelta
    contact: str


def escalation_levels(policy: IncidentPolicy, severity: Severity) -> tuple[EscalationLevel, ...]:
    """The severity's matrix row, numbered; never empty (the on-call engineer at least)."""
    steps = policy.for_severity(severity).escalation
    if not steps:
        return (EscalationLevel(level=1, after=timedelta(0), contact=_FALLBACK_CONTACT),)
    ordered = sorted(steps, key=lambda s: s.after)
    return tuple(
        EscalationLevel(level=i, after=s.after, contact=s.contact)
        for i, s in enumerate(ordered, start=1)
    )


def escalations_due(
    policy: IncidentPolicy,
    severity: Severity,
    *,
    started_at: datetime,
    now: datetime,
    acknowledged_at: datetime | None,
    resolved: bool,
    paged: Collection[int],
) -> list[EscalationLevel]:
    """The levels to page now, lowest first; ``paged``: levels the timeline says were paged.

    - resolved (or closed): nobody.
    - unacknowledged: every level whose time has come and that was not paged yet; a sweep
      that was down for an hour catches up level by level, in order.
    - acknowledged: the climb stops; once the resolution target has passed unresolved, the
      next level above the highest paged is brought in (once).
    """
    if resolved:
        return []
    levels = escalation_levels(policy, severity)
    elapsed = now - started_at
    if acknowledged_at is None:
        return [lv for lv in levels if lv.after <= elapsed and lv.level not in paged]
    if elapsed < policy.for_severity(severity).resolution_target:
        return []
    highest = max(paged, default=0)
    above = [lv for lv in levels if lv.level > highest]
    return above[:1]


class ApprovalStage(BaseModel):
    """Where a pending approval stands: who is being asked, until when, or that it expired."""

    model_config = ConfigDict(frozen=True)

    level: int
    contact: str
    asked_at: datetime
    deadline: datetime
    last_level: bool
    expired: bool

    def remaining(self, now: datetime) -> timedelta:
        return max(self.deadline - now, timedelta(0))


def approval_stage(
    policy: IncidentPolicy, severity: Severity, *, requested_at: datetime, now: datetime
) -> ApprovalStage:
    """The level a request made at ``requested_at`` has reached by ``now``.

    Level k is asked from ``requested_at + (k-1) * approval_timeout`` until k windows have
    passed; after the last level's window the stage is ``expired`` (still naming the last
    level, so the record can say who was asked last).
    """
    levels = escalation_levels(policy, severity)
    window = max(policy.approval_timeout, timedelta(seconds=1))
    index = int((now - requested_at) / window) if now > requested_at else 0
    expired = index >= len(levels)
    index = min(index, len(levels) - 1)
    level = levels[index]
    asked_at = requested_at + window * index
    return ApprovalStage(
        level=level.level,
        contact=level.contact,
        asked_at=asked_at,
        deadline=asked_at + window,
        last_level=index == len(levels) - 1,
        expired=expired,
    )


def approval_window(policy: IncidentPolicy, severity: Severity) -> timedelta:
    """How long a request waits in all before it expires: one timeout per escalation level.

    The approval step pauses this long once; the sweep re-sends the request to each level as
    its turn comes (`approval_stage`), so the run keeps waiting instead of expiring early.
    """
    window = max(policy.approval_timeout, timedelta(seconds=1))
    return window * len(escalation_levels(policy, severity))


def auto_approval(
    policy: IncidentPolicy, severity: Severity, action: str, *, drill: bool
) -> str | None:
    """Why ``action`` needs no person's answer at this severity, or None if it does.

    Only actions the policy names for the level (or any action in a drill, if the policy says
    drills may auto-approve); the reason goes into the record as the approval's reason.
    """
    if action in policy.auto_approve.get(severity, ()):
        return f"auto-approved by policy: {action} is low-risk at {severity.label(policy.scheme)}"
    if drill and policy.drills_auto_approve:
        return "auto-approved: a drill, and the policy lets drills approve themselves"
    return None
