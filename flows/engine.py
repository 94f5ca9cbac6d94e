"""The engine: every scenario's response runs the runbook's phases in the same order.

A scenario says only what is specific to it (`Scenario`: its checks, how findings become a
decision, the actions that apply its plans, what verifies them, its follow-ups); the engine
runs declare → assess → investigate → mitigate (dry run, approval) → apply → resolve
(verify, monitor) → post-incident, escalating wherever a person must take over, and ends
the run in a state named for how the incident ended (Resolved, Escalated, DryRun).

Every phase finds its work in the record before doing it, so the same flow run can be run
again from the top (a suspended approval answered, a retry) and go on where it stopped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, TypeVar

from prefect import runtime
from prefect.states import Completed, State

from flows.hooks import OPEN_INCIDENTS
from flows.phases.apply import applied_action, apply
from flows.phases.approval import auto_approved, await_approval
from flows.phases.assess import Check, assess
from flows.phases.blast_radius import capped, refused, second_approval
from flows.phases.declare import declare
from flows.phases.investigate import investigate, recorded_decision
from flows.phases.mitigate import Actuator, ApprovalRequest, mitigate, recorded_request
from flows.phases.post_incident import post_incident
from flows.phases.resolve import escalate, resolve
from flows.response import Response
from flows.scenario import Scenario, Setting
from incident.decision import Decision, Verdict
from incident.errors import FirebreakError
from incident.models import (
    Action,
    ActionStatus,
    Alert,
    Approval,
    ApprovalDecision,
    IncidentOutcome,
    IncidentStatus,
    Plan,
)
from incident.templates import templates_for

__all__ = ["respond_with"]  # what a scenario hands it: `flows.scenario`

T = TypeVar("T")


def _ended(response: Response, status: IncidentStatus, name: str, summary: str, **kw: Any) -> State:
    outcome = IncidentOutcome(incident_id=response.id, status=status, summary=summary, **kw)
    return Completed(data=outcome, name=name, message=summary)


def _escalated(
    response: Response,
    scenario: Scenario[Any],
    why: str,
    *,
    approval: Approval | None = None,
    action: Action | None = None,
) -> State:
    contact = escalate(response, why)
    post_incident(response, root_cause=why, follow_ups=list(scenario.follow_ups))
    return _ended(
        response,
        IncidentStatus.ESCALATED,
        "Escalated",
        f"escalated to {contact}: {why}",
        decision=approval.decision if approval else None,
        action=action.status if action else None,
    )


def _why_not(approval: Approval, others: Sequence[Plan]) -> str:
    alternatives = (
        "; other candidates a person may choose: " + "; ".join(p.reason for p in others)
        if others
        else ""
    )
    if approval.decision is ApprovalDecision.TIMED_OUT:
        return f"approval timed out ({approval.reason}); nothing was changed" + alternatives
    who = approval.approver or "the approver"
    why = approval.reason or "no reason given"
    return f"{who} rejected the plan ({why}); nothing was changed" + alternatives


def _decide(
    response: Response, scenario: Scenario[T], targets: T, checks: Sequence[Check]
) -> Decision:
    findings = assess(response, checks, skipped=scenario.skipped(targets))
    return investigate(
        response,
        findings,
        lambda found: scenario.decide(found, targets, response.policy, response.incident),
    )


def _request(
    response: Response, plan: Plan, actuator: Actuator, decision: Decision, attempt: int
) -> ApprovalRequest:
    done = recorded_request(response, plan, attempt)
    if done is not None:
        return done
    url = runtime.flow_run.ui_url or ""
    return mitigate(response, plan, actuator, notes=decision.notes, attempt=attempt, run_url=url)


def respond_with(
    scenario: Scenario[T],
    parameters: Mapping[str, Any],
    alert: Alert,
    setting: Setting,
    *,
    incident_id: str | None = None,
) -> State:
    """Run the whole response for ``scenario``; call it from the scenario's ``@flow`` with its
    target parameters (block names from a deployment, or blocks from a test or a drill)."""
    targets = scenario.targets(parameters)
    names = {k: v for k, v in parameters.items() if isinstance(v, str)}
    templates_for(setting.policy)  # a broken template override fails now, not mid-incident
    run_id = str(runtime.flow_run.id) if runtime.flow_run.id else None
    record = setting.store.open()
    response = declare(
        alert,
        scenario=scenario.name,
        title=alert.summary or scenario.title,
        default_severity=scenario.default_severity,
        record=record,
        policy=setting.policy,
        slack=setting.slack,
        run_id=run_id,
        incident_id=incident_id,
        dry_run=setting.dry_run,
        parameters=names,
    )
    if run_id:
        OPEN_INCIDENTS[run_id] = response
    policy = setting.policy
    checks = scenario.checks(targets, policy)
    verification = [c for c in checks if c.name in scenario.verification]
    actuators = scenario.actuators(targets)
    suspend = bool(runtime.deployment.id) and policy.suspend_while_waiting
    decision = recorded_decision(response) or _decide(response, scenario, targets, checks)
    replans = 0
    while True:
        if decision.verdict is Verdict.NO_INCIDENT:
            post_incident(response, root_cause=decision.why, follow_ups=[])
            return _ended(response, IncidentStatus.RESOLVED, "NoIncident", decision.why)
        if decision.verdict is Verdict.ESCALATE:
            return _escalated(response, scenario, decision.why)
        response.set_status(IncidentStatus.IDENTIFIED)
        for index, plan in enumerate(decision.plans):
            later = decision.plans[index + 1 :]
            cap = capped(response, plan)
            if refused(response, cap):
                if later:
                    continue
                return _escalated(response, scenario, f"{cap.why}: refused, nothing applied")
            actuator = actuators[plan.action]
            request = _request(response, plan, actuator, decision, attempt=replans + 1)
            if request.stale:
                break  # the dry run saw the target move on: re-plan before asking anyone
            if response.incident.dry_run:
                response.event("mitigate", "dry-run", "info", f"dry run: {request.dry_run.summary}")
                post_incident(
                    response, root_cause=plan.reason, follow_ups=list(scenario.follow_ups)
                )
                return _ended(
                    response, IncidentStatus.IDENTIFIED, "DryRun", request.dry_run.summary
                )
            approval = (None if cap.over else auto_approved(response, request)) or (
                second_approval(
                    response,
                    request,
                    await_approval(response, request, suspend=suspend),
                    cap,
                    suspend=suspend,
                )
            )
            if approval.decision is not ApprovalDecision.TIMED_OUT:
                response.set_status(IncidentStatus.IDENTIFIED, milestone="acknowledged_at")
            if not approval.covers(plan):
                return _escalated(response, scenario, _why_not(approval, later), approval=approval)
            state = apply(response, request, approval, actuator, return_state=True)
            if state.is_failed():
                error = state.result(raise_on_failure=False)
                if not isinstance(error, FirebreakError):
                    raise error if isinstance(error, BaseException) else RuntimeError(state.message)
                return _escalated(
                    response,
                    scenario,
                    f"the approved {plan.action} could not run: {error}",
                    approval=approval,
                )
            action = applied_action(response, state, plan)
            if action.status is ActionStatus.STALE:
                break  # the target changed under the plan: re-plan and ask again
            if action.status in (ActionStatus.PARTIAL, ActionStatus.FAILED):
                return _escalated(
                    response,
                    scenario,
                    f"{plan.action} {action.summary}",
                    approval=approval,
                    action=action,
                )
            checked = (
                scenario.verify(targets, plan, policy, action.at)
                if scenario.verify is not None
                else verification
            )
            verdict = resolve(response, checked, root_cause=plan.reason, fix=action.summary)
            if verdict.healthy:
                post_incident(
                    response, root_cause=plan.reason, follow_ups=list(scenario.follow_ups)
                )
                return _ended(
                    response,
                    IncidentStatus.RESOLVED,
                    "Resolved",
                    f"{action.summary}; {verdict.why}",
                    decision=approval.decision,
                    action=action.status,
                )
            if not verdict.took_effect or not later:
                return _escalated(
                    response,
                    scenario,
                    f"after {action.summary}: {verdict.why}",
                    approval=approval,
                    action=action,
                )
            response.event(
                "mitigate", "next-candidate", "info", f"{verdict.why}; next: {later[0].reason}"
            )
        else:
            return _escalated(response, scenario, "no candidate plan resolved the incident")
        replans += 1
        if replans > policy.max_replans:
            return _escalated(
                response, scenario, f"the target kept changing under the plan ({replans} re-plans)"
            )
        response.event(
            "investigate",
            "replan",
            "info",
            "the target changed since the plan was made: re-planning",
        )
        decision = _decide(response, scenario, targets, checks)
