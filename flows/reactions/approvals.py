"""Approvals that escalate instead of expiring: a request nobody answered goes up a level.

While the record shows an approval pending (``mitigate/approval`` started, not completed),
each ``approval_timeout`` that passes unanswered re-sends the request to the next level of
runbook 002's matrix (a message in the incident's channel, and a page if the severity
pages), once per level. The run itself keeps waiting for `approval_window` in all; after
the last level's window it expires with nothing applied (the approval step records that).
"""

from __future__ import annotations

from prefect.settings import PREFECT_UI_URL

from flows.reactions.pager import page
from flows.reactions.situation import Situation
from incident import ledger, templates
from incident.escalation import approval_stage

__all__ = ["react", "run_link"]


def run_link(flow_run_id: str | None) -> str:
    """Where the approver answers: the run's page in the Prefect UI, if its URL is known."""
    base = PREFECT_UI_URL.value()
    if flow_run_id and base:
        return f"{base.rstrip('/')}/runs/flow-run/{flow_run_id}"
    return f"flow run {flow_run_id} in the Prefect UI" if flow_run_id else "the Prefect UI"


def react(situation: Situation) -> None:
    pending = ledger.last_event(situation.timeline, "approval")
    if pending is None or pending.status != "started" or situation.resolved:
        return
    stage = approval_stage(
        situation.policy, situation.incident.severity, requested_at=pending.at, now=situation.now
    )
    step = f"approval:level-{stage.level}"
    if stage.expired or stage.level < 2 or situation.sent(step):
        return  # level 1 is the original request; expiry is the approval step's to record
    digest = str(pending.data.get("plan_digest", ""))
    plans = [p for p in situation.record.plans(situation.row["id"]) if p.digest == digest]
    if not plans:
        situation.note("escalate", step, "failed", f"plan {digest} is not in the record")
        return
    situation.note("escalate", step, "started", f"approval re-sent to {stage.contact}")
    if situation.objectives.page_on_call:
        page(situation, "trigger", f"page:approval-level-{stage.level}", contact=stage.contact)
    text = templates.approval_needed(
        situation.incident,
        plans[0],
        situation.policy,
        deadline=stage.deadline,
        where=run_link(situation.row.get("flow_run_id")),
        contact=stage.contact,
        level=stage.level,
        last_level=stage.last_level,
    )
    delivery = situation.post(f"notify:approval-level-{stage.level}", text)
    delivered = delivery is not None and delivery.delivered
    situation.note(
        "escalate",
        step,
        "completed" if delivered else "failed",
        f"approval request re-sent to {stage.contact} (level {stage.level}), answer by "
        f"{stage.deadline:%H:%M:%S} UTC" + ("" if delivered else ": message not delivered"),
        contact=stage.contact,
        deadline=stage.deadline.isoformat(),
    )
