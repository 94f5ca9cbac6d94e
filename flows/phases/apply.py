"""Mitigation, second half: apply exactly the approved plan, once, one mitigation per target.

The destructive task itself refuses any approval not for this plan and this target
(`tasks.destructive`); here the apply is serialised per target (`flows.locks`) and made
idempotent against the record: a re-run of the flow that finds this plan already applied
reports that action instead of acting again.
"""

from __future__ import annotations

from prefect.exceptions import MissingResult
from prefect.states import State

from flows.locks import hold_target
from flows.phases.mitigate import Actuator, ApprovalRequest
from flows.phases.phase import phase
from flows.response import Response
from incident.models import Action, ActionStatus, Approval, IncidentStatus, Plan

__all__ = ["applied_action", "apply", "recorded_action"]


def recorded_action(response: Response, digest: str) -> Action | None:
    """The action an earlier attempt of this run applied for this plan, if any."""
    for row in reversed(response.record.actions(response.id)):
        if row["plan_digest"] == digest and row["status"] != ActionStatus.DRY_RUN.value:
            plan = response.plan(digest)
            if plan is None:
                return None
            return Action(
                plan=plan,
                status=row["status"],
                summary=row["summary"],
                results=tuple(row["results"]),
                approver=row["approver"],
                at=row["at"],
            )
    return None


@phase("apply")
def apply(
    response: Response, request: ApprovalRequest, approval: Approval, actuator: Actuator
) -> Action:
    plan = request.plan
    done = recorded_action(response, plan.digest)
    if done is not None:
        response.event("mitigate", "apply", "info", f"already applied: {done.summary}")
        return done
    response.set_status(IncidentStatus.MITIGATING)
    with (
        hold_target(actuator.identity, timeout=response.policy.mitigation_lock_timeout),
        response.step(
            "mitigate", "apply", f"{plan.action} on {len(plan.items)} item(s), as approved"
        ) as out,
    ):
        action = actuator.task(actuator.target, plan, approval)
        response.record_action(action)
        out["message"] = action.summary
        out["action_status"] = action.status.value
        out["results"] = list(action.results)
    if action.status in (ActionStatus.APPLIED, ActionStatus.NOOP):
        response.set_status(IncidentStatus.MONITORING, milestone="mitigated_at")
    return action


def applied_action(response: Response, state: State, plan: Plan) -> Action:
    """The apply phase's action; from the record when its state came back without data (a
    state call retried against a slow API is answered from the server, without it)."""
    try:
        return state.result()
    except MissingResult:
        action = recorded_action(response, plan.digest)
        if action is None:
            raise
        return action
