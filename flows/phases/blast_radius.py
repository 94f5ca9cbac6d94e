"""The blast-radius gate around an approval: refuse a plan above its cap, or ask a second,
different person for the same plan before it is applied.

The cap is judged before the dry run, so a refused plan never reaches anyone's form; a
plan that needs two approvers waits twice, each wait under its own pause key bound to the
same digest, so neither answer can be spent on another plan. Both requests are recorded
before anyone is asked: a suspended run re-run from the top finds them and does not ask
again.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime

from prefect import runtime

from flows.phases.approval import await_approval
from flows.phases.mitigate import ApprovalRequest
from flows.response import Response
from incident.blast_radius import OverCap, Verdict, environment_of, judge
from incident.models import Approval, ApprovalDecision, Plan, utcnow
from receiver.slack_blocks import approval_request_blocks

__all__ = ["capped", "refused", "second_approval"]


def capped(response: Response, plan: Plan) -> Verdict:
    """``plan`` against the policy's cap for its action in the alert's environment."""
    labels = response.incident.alert.labels
    return judge(plan, response.policy.blast_radius, environment_of(labels))


def refused(response: Response, verdict: Verdict) -> bool:
    """True (and recorded) when the policy refuses a plan above its cap outright."""
    if not verdict.over or response.policy.blast_radius_over is not OverCap.REFUSE:
        return False
    response.event(
        "mitigate",
        "blast-radius",
        "failed",
        f"{verdict.why}: refused without asking (raise the cap or act by hand)",
        size=verdict.size,
        cap=verdict.cap,
    )
    return True


def _second_request(
    response: Response, request: ApprovalRequest, first: Approval, why: str
) -> ApprovalRequest:
    key = f"{request.key}b"  # awaited_plan() still reads the same digest from it
    for event in reversed(response.record.timeline(response.id)):
        if (event.step, event.status) == ("approval", "started") and event.data.get(
            "pause_key"
        ) == key:
            requested_at = datetime.fromisoformat(event.data["requested_at"])
            return replace(request, key=key, requested_at=requested_at)
    plan = request.plan
    note = (
        f"**Second approval needed**: {why}. {first.approver} approved; a different person "
        "must approve this same plan before anything is applied."
    )
    second = replace(request, key=key, requested_at=utcnow(), form=f"{request.form}\n\n{note}")
    response.event(
        "mitigate",
        "approval",
        "started",
        f"second approval requested for {plan.action} on {len(plan.items)} item(s), plan "
        f"{plan.digest} ({why}); first approved by {first.approver}",
        plan_digest=plan.digest,
        pause_key=key,
        deadline=request.deadline.isoformat(),
        requested_at=second.requested_at.isoformat(),
        second_approval=True,
    )
    run_id = response.incident.flow_run_id or str(runtime.flow_run.id)
    response.announce(
        "mitigate",
        "approval-request",
        f":warning: {why}. {first.approver} approved; a *second, different* approver is "
        f"needed for plan `{plan.digest}` before it runs.",
        blocks=approval_request_blocks(
            response.id,
            plan.digest,
            run_id,
            summary=f"second approval: {plan.action} on {len(plan.items)} item(s)",
            deadline=request.deadline,
        ),
    )
    return second


def second_approval(
    response: Response,
    request: ApprovalRequest,
    first: Approval,
    verdict: Verdict,
    *,
    suspend: bool,
) -> Approval:
    """The answer that decides a plan above its cap: a second approval by someone else.

    Returns ``first`` when no second one is needed; a second approval by the first approver
    is recorded as a rejection (one person cannot pass the cap alone).
    """
    if not (verdict.over and first.covers(request.plan)):
        return first
    second = _second_request(response, request, first, verdict.why)
    answer = await_approval(response, second, suspend=suspend)
    if not answer.covers(request.plan) or answer.approver != first.approver:
        return answer
    same = Approval(
        plan_digest=request.plan.digest,
        decision=ApprovalDecision.REJECTED,
        approver=answer.approver,
        reason=f"the second approval must come from someone other than {first.approver}",
        requested_at=second.requested_at,
    )
    response.record_approval(request.plan, same)
    response.event("mitigate", "approval", "failed", same.reason or "", decision="rejected")
    return same
