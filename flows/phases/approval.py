"""The approval gate: the scenario's run waits here, at its top level, for a person.

The wait is in the scenario's own run, not in a phase subflow, so the run the alert started
is the one that shows Paused with the form, and so a deployment run can be *suspended*
instead of paused: a paused run keeps its process (about 90 MB) and its worker slot while it
waits; a suspended one gives both back and is re-run from the top when answered, every phase
finding its work already done in the record. The answer is bound to the plan by the pause
key (`flows.answer.pause_key`); nobody has to leave a digest box alone.
"""

from __future__ import annotations

import pydantic
from prefect import runtime
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, suspend_flow_run

from flows.answer import ApprovalInput, Decision, set_running
from flows.phases.mitigate import ApprovalRequest, publish_request
from flows.response import Response
from incident.escalation import auto_approval
from incident.models import Approval, ApprovalDecision, utcnow
from tasks.logs import run_logger

__all__ = ["auto_approved", "await_approval", "form_for"]


def form_for(request: ApprovalRequest) -> type[ApprovalInput]:
    """The resume form with this plan's description above it (every field keeps its text)."""
    form = pydantic.create_model("ApprovalInput", __base__=ApprovalInput)
    form._description = request.form  # type: ignore[assignment]
    return form


def _recorded(response: Response, request: ApprovalRequest) -> Approval | None:
    """A decision already in the record for this request (an earlier attempt, or a sweep)."""
    for row in reversed(response.record.approvals(response.id)):
        if (
            row["plan_digest"] == request.plan.digest
            and row["requested_at"] == request.requested_at
        ):
            return Approval.model_validate(row)
    return None


def auto_approved(response: Response, request: ApprovalRequest) -> Approval | None:
    """The policy's own approval of a named low-risk action (or of a drill), recorded as such."""
    incident = response.incident
    reason = auto_approval(
        response.policy, incident.severity, request.plan.action, drill=incident.drill
    )
    if reason is None:
        return None
    approval = Approval(
        plan_digest=request.plan.digest,
        decision=ApprovalDecision.APPROVED,
        approver="policy",
        reason=reason,
        requested_at=request.requested_at,
    )
    _record(response, request, approval)
    return approval


def _record(response: Response, request: ApprovalRequest, approval: Approval) -> None:
    response.record_approval(request.plan, approval)
    publish_request(response, request, approval)
    response.event(
        "mitigate",
        "approval",
        "completed",
        f"approval {approval.decision.value}"
        + (f" by {approval.approver}" if approval.approver else "")
        + (f": {approval.reason}" if approval.reason else ""),
        decision=approval.decision.value,
        approver=approval.approver,
        plan_digest=request.plan.digest,
    )


def await_approval(response: Response, request: ApprovalRequest, *, suspend: bool) -> Approval:
    """Wait for the answer to ``request``; TIMED_OUT (nothing approved) after its deadline."""
    already = _recorded(response, request)
    if already is not None:
        return already
    remaining = max(1, int((request.deadline - utcnow()).total_seconds()))
    run_logger().info(
        "waiting for a decision on plan %s until %s (%d s); answer in the form above",
        request.plan.digest,
        f"{request.deadline:%Y-%m-%d %H:%M:%S} UTC",
        remaining,
    )
    form = form_for(request)
    try:
        if suspend:
            answer = suspend_flow_run(wait_for_input=form, key=request.key, timeout=remaining)
        else:
            answer = pause_flow_run(
                wait_for_input=form,
                key=request.key,
                timeout=remaining,
                poll_interval=max(1, int(response.policy.approval_poll_interval.total_seconds())),
            )
    except FlowPauseTimeout:
        set_running(runtime.flow_run.id)
        approval = Approval(
            plan_digest=request.plan.digest,
            decision=ApprovalDecision.TIMED_OUT,
            reason=f"nobody answered by {request.deadline:%H:%M:%S} UTC, at any escalation level",
            requested_at=request.requested_at,
        )
    else:
        approval = Approval(
            plan_digest=request.plan.digest,
            decision=(
                ApprovalDecision.APPROVED
                if answer.decision is Decision.APPROVE
                else ApprovalDecision.REJECTED
            ),
            approver=answer.approver,
            reason=answer.reason,
            requested_at=request.requested_at,
        )
    _record(response, request, approval)
    return approval
