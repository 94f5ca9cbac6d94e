"""The post-mortem, metrics, YAML export and checklists, from an incident recorded in PostgreSQL."""

from __future__ import annotations

import re

import pytest

from flows.response import Response as Scribe
from incident.checklists import (
    checklist_markdown,
    commander_checklist,
    follow_up_checklist,
    progress,
    tick_step,
)
from incident.incident_yaml import export_incident, from_yaml, to_yaml
from incident.models import (
    Action,
    ActionStatus,
    Alert,
    AlertSource,
    Approval,
    ApprovalDecision,
    Finding,
    FindingStatus,
    Incident,
    IncidentStatus,
    Plan,
)
from incident.policy import IncidentPolicy
from incident.postmortem import draft_postmortem, incident_metrics, postmortem_markdown
from incident.record import IncidentRecord

SECTIONS = [
    "Summary",
    "Metrics",
    "Timeline",
    "Root Cause",
    "Contributing Factors",
    "Impact",
    "Resolution Steps",
    "What Went Well",
    "What Didn't Go Well",
    "Action Items",
    "Prevention Measures",
    "Lessons Learned",
    "Evidence",
]
FOLLOW_UPS = ["Add pooling per service", "Alert on idle-in-transaction sessions"]


@pytest.fixture
def recorded(record: IncidentRecord) -> Scribe:
    """A resolved pool-exhaustion incident, written as the scenario writes it."""
    alert = Alert(
        name="PostgresConnectionsExhausted",
        source=AlertSource.ALERTMANAGER,
        severity="SEV2",
        summary="orders-db connection pool exhausted",
        service="orders",
    )
    incident = Incident(
        title="Orders DB pool exhausted",
        severity=alert.severity,
        scenario="db-pool-exhaustion",
        alert=alert,
    )
    record.open_incident(incident)
    scribe = Scribe(record, incident, IncidentPolicy(), None)
    scribe.event("declare", "declared", "completed", "incident declared: SEV2")
    with scribe.step("assess", "diagnostics", "running 2 diagnostics"):
        pass
    for finding in (
        Finding(
            check="connection_headroom",
            target="orders-db",
            status=FindingStatus.CRITICAL,
            summary="100 of 100 connections in use",
        ),
        Finding(
            check="lock_waits",
            target="orders-db",
            status=FindingStatus.WARNING,
            summary="3 sessions wait on a row lock",
        ),
        Finding(
            check="deployment_status",
            target="k8s",
            status=FindingStatus.OK,
            summary="all replicas ready",
        ),
    ):
        record.add_finding(incident.id, finding)
    scribe.event("assess", "impact:customer", "confirmed", "checkout fails for customers")
    plan = Plan(
        action="terminate_backends",
        target="orders-db",
        reason="idle in transaction",
        items=({"pid": 1},),
    )
    scribe.event("mitigate", "approval", "started", "approval requested", plan_digest=plan.digest)
    approval = Approval(
        plan_digest=plan.digest,
        decision=ApprovalDecision.APPROVED,
        approver="jane",
        reason="pool exhausted",
    )
    record.record_approval(incident.id, plan, approval)
    scribe.event(
        "mitigate", "approval", "completed", "approval approved by jane", decision="approved"
    )
    with scribe.step("mitigate", "apply", "terminating 1 backend(s)"):
        record.record_action(
            incident.id,
            Action(plan=plan, status=ActionStatus.APPLIED, summary="terminated 1 of 1 backend(s)"),
        )
    scribe.event("post-incident", "notify:stakeholders:#eng", "failed", "not delivered")
    scribe.event(
        "resolve",
        "resolved",
        "completed",
        "resolved: terminated 1 of 1 backend(s)",
        root_cause="idle-in-transaction sessions held the pool",
        evidence={"logs": "https://logs.example.com/INC"},
    )
    record.set_status(incident.id, IncidentStatus.RESOLVED, milestone="resolved_at")
    return scribe


def build(scribe: Scribe) -> tuple[dict, list, str]:
    record, incident_id = scribe.record, scribe.incident.id
    row = record.get_incident(incident_id)
    timeline = record.timeline(incident_id)
    markdown = postmortem_markdown(
        row,
        timeline,
        record.findings(incident_id),
        record.actions(incident_id),
        record.approvals(incident_id),
        root_cause="idle-in-transaction sessions held the pool",
        follow_ups=FOLLOW_UPS,
        evidence={"metrics": "https://grafana.example.com/d/orders"},
    )
    return row, timeline, markdown


def section(markdown: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", markdown, re.S | re.M)
    assert match, f"section {title!r} missing"
    return match.group(1).strip()


def test_every_template_section_is_present_and_filled_from_the_record(recorded: Scribe) -> None:
    row, timeline, markdown = build(recorded)

    assert [line[3:] for line in markdown.splitlines() if line.startswith("## ")] == SECTIONS
    assert f"**Incident:** {row['id']}" in section(markdown, "Summary")
    assert "**Impact:** orders-db connection pool exhausted" in section(markdown, "Summary")
    assert all(f"| {e.seq} |" in section(markdown, "Timeline") for e in timeline)
    assert "100 of 100 connections in use" in section(markdown, "Root Cause")
    assert "lock_waits: 3 sessions wait on a row lock" in section(markdown, "Contributing Factors")
    assert "all replicas ready" not in section(markdown, "Contributing Factors")
    assert "customers: checkout fails for customers" in section(markdown, "Impact")
    assert "1. terminate_backends on orders-db: terminated 1 of 1" in section(
        markdown, "Resolution Steps"
    )
    assert "only after explicit approval" in section(markdown, "What Went Well")
    assert "1 notification(s) were not delivered" in section(markdown, "What Didn't Go Well")
    assert all(f"- [ ] {item}" in section(markdown, "Action Items") for item in FOLLOW_UPS)
    assert FOLLOW_UPS[0] in section(markdown, "Prevention Measures")
    assert "notification(s) were not delivered" in section(markdown, "Lessons Learned")
    evidence = section(markdown, "Evidence")
    assert "logs: https://logs.example.com/INC" in evidence  # linked from the timeline
    assert "metrics: https://grafana.example.com/d/orders" in evidence


def test_metrics_are_the_differences_of_the_timelines_timestamps(recorded: Scribe) -> None:
    row, timeline, _ = build(recorded)
    at = {(e.step, e.status): e.at for e in timeline}

    metrics = incident_metrics(row, timeline)

    started = row["started_at"]
    declared = at[("declared", "completed")]
    assert metrics == {
        "time_to_detect": round((declared - started).total_seconds(), 3),
        "time_to_acknowledge": round((at[("approval", "completed")] - declared).total_seconds(), 3),
        "time_to_mitigate": round((at[("apply", "completed")] - started).total_seconds(), 3),
        "time_to_resolve": round((at[("resolved", "completed")] - started).total_seconds(), 3),
    }
    assert (
        draft_postmortem(row, timeline, [], [], [], root_cause="x", follow_ups=[]).metrics
        == metrics
    )


def test_a_timed_out_approval_acknowledges_nothing(record: IncidentRecord) -> None:
    alert = Alert(name="x", severity="SEV3")
    incident = record.open_incident(
        Incident(title="t", severity=alert.severity, scenario="s", alert=alert)
    )
    scribe = Scribe(record, incident, IncidentPolicy(), None)
    scribe.event("declare", "declared", "completed", "declared")
    scribe.event("mitigate", "approval", "completed", "approval timed_out", decision="timed_out")

    metrics = incident_metrics(record.get_incident(incident.id), record.timeline(incident.id))

    assert metrics["time_to_acknowledge"] is None
    assert metrics["time_to_resolve"] is None


def test_the_yaml_export_has_runbook_001s_form_and_round_trips(recorded: Scribe) -> None:
    row, timeline, _ = build(recorded)

    export = export_incident(row, timeline, action_items=FOLLOW_UPS, users_affected=1500)
    text = to_yaml(export)

    assert text.startswith("incident:\n  id: ")
    assert from_yaml(text) == export
    assert export.severity == "SEV2" and export.detected_by == "monitoring_alert"
    assert export.impact.users_affected == 1500
    assert export.impact.duration_minutes == int(
        (row["resolved_at"] - row["started_at"]).total_seconds() // 60
    )
    assert export.timeline[0].event == "incident declared: SEV2"
    assert "approval requested" not in [e.event for e in export.timeline]  # a start is not news
    assert (
        export_incident(row, timeline, policy=IncidentPolicy.from_runbook("000")).severity == "P2"
    )


def test_a_document_that_is_not_an_export_is_refused_clearly() -> None:
    with pytest.raises(ValueError, match="'incident:' key"):
        from_yaml("- just a list\n")


def test_the_checklists_tick_what_the_record_shows_and_what_a_person_ticks(
    recorded: Scribe,
) -> None:
    row, timeline, _ = build(recorded)

    commander = {i.key: i.done for i in commander_checklist(row, timeline)}
    assert commander["declared"] and commander["assessment"] and commander["mitigation"]
    assert not commander["roles"] and not commander["documentation"]
    before = follow_up_checklist(timeline, FOLLOW_UPS)
    assert progress(before) == 0.0 and len(before) == 6 + len(FOLLOW_UPS)

    recorded.event("post-incident", tick_step("runbooks"), "completed", "runbook 004 updated")
    after = follow_up_checklist(recorded.record.timeline(recorded.incident.id), FOLLOW_UPS)

    assert [i.key for i in after if i.done] == ["runbooks"]
    assert 0 < progress(after) < 100
    assert "- [x] Runbooks updated (#" in checklist_markdown("Follow-up", after)
