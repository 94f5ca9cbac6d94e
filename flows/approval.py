"""The approval gate: a destructive plan waits here for a person, in the Prefect UI.

The flow run pauses with a form (approve / reject, approver, reason) pre-filled with the
plan's digest. An answer for any other digest does not approve this plan. If nobody answers
within the policy's timeout, nothing is done and the caller escalates.
"""

from __future__ import annotations

from datetime import timedelta

from prefect import runtime
from prefect.artifacts import create_markdown_artifact
from prefect.client.orchestration import get_client
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run
from prefect.input import RunInput
from prefect.states import Running
from pydantic import Field

from blocks.slack import SlackWorkspace
from flows.communicate import announce
from flows.scribe import Scribe
from incident.models import Approval, ApprovalDecision, Finding, Plan, utcnow
from incident.policy import IncidentPolicy
from incident.templates import approval_needed, plan_markdown

__all__ = ["ApprovalInput", "request_approval"]


class ApprovalInput(RunInput):
    """The form an approver fills in on the paused flow run."""

    approve: bool = Field(False, description="Tick to approve exactly the plan described above.")
    approver: str = Field(min_length=1, description="Who decides (name or handle).")
    reason: str = Field("", description="Why: it goes into the timeline and the post-mortem.")
    plan_digest: str = Field(description="The plan this answer is for; leave as pre-filled.")


def _artifact_key(incident_id: str, what: str) -> str:
    return f"{incident_id.lower()}-{what}"


def _resume_running_after_timeout() -> None:
    """A timed-out pause leaves the run Paused; set it Running so the flow may go on."""
    flow_run_id = runtime.flow_run.id
    if flow_run_id:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(flow_run_id, Running(), force=True)


def request_approval(
    scribe: Scribe,
    plan: Plan,
    findings: list[Finding],
    policy: IncidentPolicy,
    slack: SlackWorkspace | None,
) -> Approval:
    """Pause for a person; return their decision, or TIMED_OUT after the policy's timeout."""
    incident = scribe.incident
    timeout = max(1, int(policy.approval_timeout.total_seconds()))
    requested_at = utcnow()
    deadline = requested_at + timedelta(seconds=timeout)
    description = plan_markdown(incident, plan, findings, deadline=deadline)
    create_markdown_artifact(
        key=_artifact_key(incident.id, "approval-request"),
        markdown=description,
        description=f"What {plan.action} will do, awaiting approval",
    )
    where = runtime.flow_run.ui_url or f"flow run {runtime.flow_run.id} in the Prefect UI"
    announce(
        scribe,
        slack,
        policy,
        phase="mitigate",
        kind="approval-request",
        text=approval_needed(incident, plan, policy, deadline=deadline, where=where),
    )
    scribe.event(
        "mitigate",
        "approval",
        "started",
        f"approval requested for {plan.action} on {len(plan.items)} item(s), plan {plan.digest}; "
        f"waiting up to {timeout} s",
        plan_digest=plan.digest,
        items=[item.get("pid") for item in plan.items],
    )
    try:
        answer = pause_flow_run(
            wait_for_input=ApprovalInput.with_initial_data(
                description=description, plan_digest=plan.digest, approve=False
            ),
            timeout=timeout,
            poll_interval=max(1, int(policy.approval_poll_interval.total_seconds())),
        )
    except FlowPauseTimeout:
        _resume_running_after_timeout()
        approval = Approval(
            plan_digest=plan.digest,
            decision=ApprovalDecision.TIMED_OUT,
            reason=f"nobody answered within {timeout} s",
            requested_at=requested_at,
        )
    else:
        approval = _decide(plan, answer, requested_at)
    scribe.record.record_approval(incident.id, plan, approval)
    scribe.event(
        "mitigate",
        "approval",
        "completed",
        f"approval {approval.decision.value}"
        + (f" by {approval.approver}" if approval.approver else "")
        + (f": {approval.reason}" if approval.reason else ""),
        decision=approval.decision.value,
        approver=approval.approver,
    )
    return approval


def _decide(plan: Plan, answer: ApprovalInput, requested_at: object) -> Approval:
    if answer.approve and answer.plan_digest != plan.digest:
        return Approval(
            plan_digest=answer.plan_digest,
            decision=ApprovalDecision.REJECTED,
            approver=answer.approver,
            reason=f"approval named plan {answer.plan_digest}, not {plan.digest}: not applied",
            requested_at=requested_at,
        )
    return Approval(
        plan_digest=plan.digest,
        decision=ApprovalDecision.APPROVED if answer.approve else ApprovalDecision.REJECTED,
        approver=answer.approver,
        reason=answer.reason,
        requested_at=requested_at,
    )
