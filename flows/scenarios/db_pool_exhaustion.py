"""Database connection-pool exhaustion: runbook 000 scenario 2, 001 pattern 1, 004 DB issues.

Read top to bottom it is the runbook: declare, check the connection count against its
limits, by state, the long-running queries and the lock tree, and the application's
deployment; plan which backends to kill; ask; kill exactly those; verify the headroom is
back; resolve; write the post-mortem.
"""

from __future__ import annotations

from prefect import flow, runtime
from prefect.states import Completed, State

from blocks.kubernetes import KubernetesTarget
from blocks.loading import resolve_block
from blocks.policy import IncidentPolicyBlock
from blocks.postgres import PostgresTarget
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.approval import request_approval
from flows.assess import Check, assess
from flows.declare import declare
from flows.hooks import OPEN_INCIDENTS, record_abnormal_end, release_incident
from flows.postmortem import publish_record
from flows.resolve import escalate, resolve, verify
from flows.scribe import Scribe
from incident.models import (
    Alert,
    Approval,
    ApprovalDecision,
    Finding,
    FindingStatus,
    IncidentOutcome,
    IncidentStatus,
)
from incident.planning import by_check, plan_backend_termination
from incident.policy import IncidentPolicy
from incident.severity import Severity
from tasks.kubernetes import get_deployment_status
from tasks.postgres import (
    count_connections_by_state,
    list_lock_waits,
    list_long_running_queries,
    measure_connection_headroom,
    terminate_backends,
)

__all__ = ["db_pool_exhaustion"]

SCENARIO = "db-pool-exhaustion"
FOLLOW_UPS = [
    "Review connection usage per service and add pooling (runbook 001 long-term fix)",
    "Alert on idle-in-transaction sessions before the pool is exhausted",
    "Set idle_in_transaction_session_timeout for application roles",
    "Update the runbook with what this incident taught",
]


def _checks(
    target: PostgresTarget, cluster: KubernetesTarget | None, policy: IncidentPolicy
) -> tuple[list[Check], list[Finding]]:
    checks = [
        Check(
            "connection_headroom",
            target.label,
            measure_connection_headroom,
            {"target": target, "min_headroom": policy.min_connection_headroom},
        ),
        Check("connections_by_state", target.label, count_connections_by_state, {"target": target}),
        Check(
            "long_running_queries",
            target.label,
            list_long_running_queries,
            {"target": target, "older_than": policy.long_query_threshold},
        ),
        Check("lock_waits", target.label, list_lock_waits, {"target": target}),
    ]
    if cluster is None:
        return checks, [
            Finding(
                check="deployment_status",
                target="kubernetes",
                status=FindingStatus.SKIPPED,
                summary="no Kubernetes target given: application deployments not checked",
            )
        ]
    checks.append(
        Check("deployment_status", cluster.label, get_deployment_status, {"target": cluster})
    )
    return checks, []


def _ended(outcome: IncidentOutcome, name: str | None = None) -> State:
    """A run that escalated completed its job; its state name says how it ended."""
    names = {IncidentStatus.RESOLVED: "Resolved", IncidentStatus.ESCALATED: "Escalated"}
    return Completed(
        data=outcome,
        name=name or names.get(outcome.status, "Completed"),
        message=outcome.summary,
    )


@flow(
    name=SCENARIO,
    flow_run_name="db-pool-exhaustion-{alert.name}",
    on_completion=[release_incident],
    on_failure=[record_abnormal_end],
    on_crashed=[record_abnormal_end],
)
def db_pool_exhaustion(
    alert: Alert,
    database: str | PostgresTarget = "orders-db",
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = "incident-slack",
    cluster: str | KubernetesTarget | None = None,
    policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
    dry_run: bool = False,
) -> State:
    """Respond to an exhausted PostgreSQL connection pool, terminating only approved backends.

    Args:
        alert: the alert that fired (Alertmanager, Grafana, PagerDuty, a person, a drill).
        database: PostgresTarget block (name) of the server whose pool is exhausted.
        store: IncidentStore block (name) of the incident record database.
        slack: SlackWorkspace block (name) for the incident channel; None to stay silent.
        cluster: KubernetesTarget block (name) of the application's deployments, if any.
        policy: IncidentPolicy block (name): thresholds, approval timeout, objectives.
        dry_run: plan and show, terminate nothing.
    """
    target = resolve_block(PostgresTarget, database)
    record = resolve_block(IncidentStore, store).open()
    workspace = resolve_block(SlackWorkspace, slack) if slack is not None else None
    kube = resolve_block(KubernetesTarget, cluster) if cluster is not None else None
    rules = (
        policy
        if isinstance(policy, IncidentPolicy)
        else (resolve_block(IncidentPolicyBlock, policy).policy)
    )

    scribe = declare(
        alert,
        scenario=SCENARIO,
        title=alert.summary or f"Database connection pool exhausted on {target.label}",
        default_severity=Severity.HIGH,
        record=record,
        policy=rules,
        slack=workspace,
        dry_run=dry_run,
    )
    OPEN_INCIDENTS[str(runtime.flow_run.id)] = scribe
    incident = scribe.incident

    checks, skipped = _checks(target, kube, rules)
    findings = assess(scribe, checks, skipped=skipped)
    headroom = by_check(findings)["connection_headroom"]

    with scribe.step("investigate", "plan", "choosing backends to terminate") as out:
        plan = plan_backend_termination(
            findings,
            target=target.label,
            older_than=rules.long_query_threshold,
            protected_roles=target.protected_roles,
        )
        out["message"] = f"plan {plan.digest}: {plan.reason}"
        out["items"] = [item["pid"] for item in plan.items]

    if headroom.status is FindingStatus.UNREACHABLE:
        return _ended(_escalated(scribe, workspace, rules, f"cannot assess: {headroom.summary}"))
    if not headroom.is_problem:
        resolve(
            scribe,
            workspace,
            rules,
            root_cause=f"no exhaustion found: {headroom.summary}",
            fix="none needed",
        )
        publish_record(scribe, root_cause=headroom.summary, follow_ups=FOLLOW_UPS)
        return _ended(_outcome(incident.id, IncidentStatus.RESOLVED, "pool has headroom"))
    if plan.is_empty:
        why = (
            f"pool exhausted ({headroom.summary}) but no backend is older than "
            f"{rules.long_query_threshold}: restart the application to reset its pools "
            "(runbook 004) or raise the pool limit"
        )
        return _ended(_escalated(scribe, workspace, rules, why))

    if dry_run:
        action = terminate_backends(target, plan, None, dry_run=True)
        scribe.record.record_action(incident.id, action)
        scribe.event("mitigate", "dry-run", "completed", action.summary, results=action.results)
        scribe.record.set_status(incident.id, IncidentStatus.IDENTIFIED)
        publish_record(scribe, root_cause=plan.reason, follow_ups=FOLLOW_UPS)
        return _ended(_outcome(incident.id, IncidentStatus.IDENTIFIED, action.summary), "DryRun")

    scribe.record.set_status(incident.id, IncidentStatus.IDENTIFIED)
    approval = request_approval(scribe, plan, findings, rules, workspace)
    if approval.decision is not ApprovalDecision.TIMED_OUT:
        scribe.record.set_status(
            incident.id, IncidentStatus.IDENTIFIED, milestone="acknowledged_at"
        )
    if not approval.covers(plan):
        why = _why_not(approval, plan.digest)
        return _ended(_escalated(scribe, workspace, rules, why, approval=approval))

    scribe.record.set_status(incident.id, IncidentStatus.MITIGATING)
    with scribe.step("mitigate", "apply", f"terminating {len(plan.items)} backend(s)") as out:
        action = terminate_backends(target, plan, approval)
        scribe.record.record_action(incident.id, action)
        out["message"] = action.summary
        out["results"] = list(action.results)
    scribe.record.set_status(incident.id, IncidentStatus.MONITORING, milestone="mitigated_at")

    headroom_check = next(c for c in checks if c.name == "connection_headroom")
    after = verify(scribe, headroom_check, rules)
    if after.status is not FindingStatus.OK:
        why = f"terminated {action.summary} but headroom did not recover: {after.summary}"
        return _ended(_escalated(scribe, workspace, rules, why, approval=approval))
    root_cause = plan.reason
    resolve(scribe, workspace, rules, root_cause=root_cause, fix=action.summary)
    publish_record(scribe, root_cause=root_cause, follow_ups=FOLLOW_UPS)
    return _ended(
        IncidentOutcome(
            incident_id=incident.id,
            status=IncidentStatus.RESOLVED,
            decision=approval.decision,
            action=action.status,
            summary=f"{action.summary}; headroom restored: {after.summary}",
        )
    )


def _outcome(incident_id: str, status: IncidentStatus, summary: str) -> IncidentOutcome:
    return IncidentOutcome(incident_id=incident_id, status=status, summary=summary)


def _why_not(approval: Approval, digest: str) -> str:
    if approval.decision is ApprovalDecision.TIMED_OUT:
        return f"approval timed out ({approval.reason}); no backend was terminated"
    if approval.plan_digest != digest:
        return f"{approval.reason}; no backend was terminated"
    who = approval.approver or "the approver"
    return f"{who} rejected the plan ({approval.reason or 'no reason given'}); nothing terminated"


def _escalated(
    scribe: Scribe,
    workspace: SlackWorkspace | None,
    rules: IncidentPolicy,
    why: str,
    approval: Approval | None = None,
) -> IncidentOutcome:
    contact = escalate(scribe, workspace, rules, why=why)
    publish_record(scribe, root_cause=why, follow_ups=FOLLOW_UPS)
    outcome = _outcome(
        scribe.incident.id, IncidentStatus.ESCALATED, f"escalated to {contact}: {why}"
    )
    return outcome.model_copy(update={"decision": approval.decision if approval else None})
