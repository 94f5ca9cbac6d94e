"""Mitigation, first half: the chosen plan is dry-run against the real system, and a person
is asked — in the Prefect UI (the run's resume form) and in the incident channel.

The dry run asks the system itself what would happen (the exact rows for PostgreSQL, a
server-side dry run for Kubernetes), so the approver sees today's answer, not our guess.
The question is recorded with its deadline and pause key before anyone is asked, so a
re-run of the flow finds it and does not ask twice.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from prefect import Task, runtime
from prefect.artifacts import create_markdown_artifact

from flows.answer import pause_key
from flows.phases.phase import phase
from flows.response import Response
from incident import templates
from incident.escalation import approval_stage, approval_window
from incident.models import Action, Approval, Plan, utcnow
from incident.plan_text import plan_artifact_markdown, plan_form_markdown
from receiver.slack_blocks import approval_request_blocks
from tasks.kubernetes_change import STALE as CHANGED

__all__ = ["Actuator", "ApprovalRequest", "mitigate", "publish_request", "recorded_request"]


@dataclass(frozen=True)
class Actuator:
    """How plans of one action kind are applied: the destructive task and its target."""

    task: Task[..., Action]
    target: Any

    @property
    def identity(self) -> str:
        return str(self.target.identity)


@dataclass(frozen=True)
class ApprovalRequest:
    """A question put to people: this plan, this dry run, answer under this key by then."""

    plan: Plan
    dry_run: Action
    deadline: datetime
    requested_at: datetime
    key: str
    form: str
    notes: tuple[str, ...] = ()
    stale: bool = False
    """The dry run found the target changed since the plan: nobody is asked; plan again."""


def _artifact_key(response: Response) -> str:
    return f"{response.id.lower()}-approval-request"


def publish_request(
    response: Response, request: ApprovalRequest, approval: Approval | None = None
) -> None:
    """The approval artifact: awaiting, then (same key, new version) the decision made."""
    create_markdown_artifact(
        key=_artifact_key(response),
        markdown=plan_artifact_markdown(
            response.incident,
            request.plan,
            request.dry_run,
            deadline=request.deadline,
            notes=request.notes,
            approval=approval,
        ),
        description=(
            f"{request.plan.action}: {approval.decision.value}"
            if approval
            else f"{request.plan.action}: awaiting approval"
        ),
    )


def recorded_request(response: Response, plan: Plan, attempt: int) -> ApprovalRequest | None:
    """The request an earlier attempt of this run already made for this plan, if any."""
    key = pause_key(plan.digest, attempt)
    for event in reversed(response.record.timeline(response.id)):
        if (event.step, event.status) == ("approval", "started") and event.data.get(
            "pause_key"
        ) == key:
            dry = Action.model_validate(event.data["dry_run"])
            return ApprovalRequest(
                plan=plan,
                dry_run=dry,
                deadline=datetime.fromisoformat(event.data["deadline"]),
                requested_at=datetime.fromisoformat(event.data["requested_at"]),
                key=key,
                form=str(event.data.get("form", "")),
            )
    return None


@phase("mitigate")
def mitigate(
    response: Response,
    plan: Plan,
    actuator: Actuator,
    *,
    notes: tuple[str, ...] = (),
    attempt: int = 1,
    run_url: str = "",
) -> ApprovalRequest:
    """Dry-run the plan, then ask for approval (unless the whole run is a dry run)."""
    with response.step("mitigate", "dry-run", f"dry run of {plan.action} on {plan.target}") as out:
        dry = actuator.task(actuator.target, plan, None, dry_run=True)
        response.record_action(dry)
        out["message"] = dry.summary
        out["results"] = list(dry.results)
    policy, severity = response.policy, response.incident.severity
    requested_at = utcnow()
    # one approval_timeout per escalation level: the sweep re-sends the request up the
    # ladder while the run waits, and only after the last level does it expire
    deadline = requested_at + approval_window(policy, severity)
    first = approval_stage(policy, severity, requested_at=requested_at, now=requested_at)
    request = ApprovalRequest(
        plan=plan,
        dry_run=dry,
        deadline=deadline,
        requested_at=requested_at,
        key=pause_key(plan.digest, attempt),
        form=plan_form_markdown(response.incident, plan, dry, deadline=deadline, first_level=first),
        notes=notes,
    )
    if any(r.get("outcome") == CHANGED for r in dry.results):
        response.event(
            "mitigate", "dry-run", "info", "the target changed since the plan: planning again"
        )
        return replace(request, stale=True)
    if response.incident.dry_run:
        return request
    publish_request(response, request)
    where = run_url or f"flow run {runtime.flow_run.id} in the Prefect UI"
    text = templates.approval_needed(
        response.incident,
        plan,
        policy,
        deadline=first.deadline,
        where=where,
        contact=first.contact,
        level=first.level,
        last_level=first.last_level,
    )
    buttons = approval_request_blocks(
        response.id,
        plan.digest,
        response.incident.flow_run_id or str(runtime.flow_run.id),
        summary=f"{plan.action} on {len(plan.items)} item(s): {plan.reason}",
        deadline=first.deadline,
        requested_by=response.incident.alert.labels.get("requested_by"),
        run_url=run_url or None,
    )
    response.announce("mitigate", "approval-request", text, blocks=buttons)
    response.event(
        "mitigate",
        "approval",
        "started",
        f"approval requested for {plan.action} on {len(plan.items)} item(s), plan "
        f"{plan.digest}; waiting until {deadline:%H:%M:%S} UTC",
        plan_digest=plan.digest,
        pause_key=request.key,
        deadline=deadline.isoformat(),
        requested_at=requested_at.isoformat(),
        items=[item.get("pid", item.get("name")) for item in plan.items],
        dry_run=dry.model_dump(mode="json"),
        form=request.form,
    )
    return request
