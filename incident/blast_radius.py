"""The blast-radius cap: how much one approved plan may touch, decided before anyone is asked.

A person approving at 3 a.m. reads the first items of a long plan; a planner bug or an
odd database state can put 400 backends or every pod of a service in it. The policy caps
each action kind (per environment where the alert names one), in the unit that hurts:
backends terminated, pods deleted, replicas removed, items otherwise. A plan above its cap
is refused outright or, if the policy says so, needs a second, different approver; either
way the message says which cap, how far over, and what to change.

Pure functions: the engine asks, the record and the channel say the answer.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from incident.models import Plan

__all__ = ["OverCap", "Verdict", "environment_of", "judge", "radius"]

_UNITS = {
    "terminate_backends": "backend(s) terminated",
    "delete_pod": "pod(s) deleted",
    "scale_workload": "replica(s) removed",
}


class OverCap(enum.StrEnum):
    """What the policy does with a plan above its cap."""

    REFUSE = "refuse"
    SECOND_APPROVER = "second_approver"


@dataclass(frozen=True)
class Verdict:
    """Within the cap (``over`` is False), or above it with the sentence that says so."""

    over: bool
    size: int
    cap: int | None
    why: str = ""


def radius(plan: Plan) -> int:
    """How much of the system the plan touches, in its action's unit."""
    if plan.action == "scale_workload":
        return sum(
            max(0, int(item.get("replicas_now", 0)) - int(item.get("replicas_after", 0)))
            for item in plan.items
        )
    return len(plan.items)


def environment_of(labels: dict[str, str]) -> str | None:
    """The alert's environment label, as Alertmanager and Grafana setups usually name it."""
    for name in ("environment", "env", "stage"):
        if labels.get(name):
            return labels[name]
    return None


def judge(plan: Plan, caps: dict[str, int], environment: str | None = None) -> Verdict:
    """``plan`` against the cap for its action (``action@environment`` first, then ``action``).

    No cap for the action means no limit; scaling to zero replicas is always a person's
    call anyway (the scenarios never auto-approve it), so it is measured like any other.
    """
    size = radius(plan)
    keys = ([f"{plan.action}@{environment}"] if environment else []) + [plan.action]
    key = next((k for k in keys if k in caps), None)
    if key is None:
        return Verdict(over=False, size=size, cap=None)
    cap = caps[key]
    if size <= cap:
        return Verdict(over=False, size=size, cap=cap)
    unit = _UNITS.get(plan.action, "item(s)")
    return Verdict(
        over=True,
        size=size,
        cap=cap,
        why=(
            f"{plan.action} on {plan.target} would have {size} {unit}, above the policy's "
            f"blast-radius cap of {cap} ({key!r} in blast_radius)"
        ),
    )
