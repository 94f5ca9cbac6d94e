"""Runbook 002's matrix on a timer: a level whose time passed unacknowledged is brought in.

For every level `incident.escalation.escalations_due` names, the contact is paged (if the
policy pages this severity), the incident's channel is told, and ``escalate:level-N`` is
recorded, so the next sweep moves to the next level and never repeats this one.
"""

from __future__ import annotations

from flows.reactions.pager import page
from flows.reactions.situation import Situation
from incident import ledger, templates
from incident.escalation import escalations_due

__all__ = ["react"]


def react(situation: Situation) -> None:
    row, policy = situation.row, situation.policy
    acknowledged = row.get("acknowledged_at")
    due = escalations_due(
        policy,
        situation.incident.severity,
        started_at=row["started_at"],
        now=situation.now,
        acknowledged_at=acknowledged,
        resolved=situation.resolved,
        paged=ledger.paged_levels(situation.timeline),
    )
    for level in due:
        step = ledger.escalate_step(level.level)
        after = templates.human_span(level.after)
        if acknowledged is None:
            why = f"not acknowledged {after} after it began (matrix level {level.level})"
        else:
            target = templates.human_span(situation.objectives.resolution_target)
            why = f"acknowledged but not resolved within the {target} resolution target"
        situation.note("escalate", step, "started", f"escalating to {level.contact}: {why}")
        paged = False
        if situation.objectives.page_on_call:
            paged = page(situation, "trigger", f"page:level-{level.level}", contact=level.contact)
        text = templates.escalation(
            situation.incident, policy, why, level.contact, level=level.level
        )
        situation.post(f"notify:escalation-level-{level.level}", text)
        situation.note(
            "escalate",
            step,
            "completed",
            f"escalated to {level.contact} (level {level.level})"
            + ("; paged" if paged else "; not paged (level does not page, a drill, or it failed)"),
            contact=level.contact,
            paged=paged,
            why=why,
        )
