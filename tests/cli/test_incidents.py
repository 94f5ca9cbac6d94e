"""``firebreak incidents``: the record's incidents, and one incident's whole story."""

from __future__ import annotations

import pytest
from prefect.settings import PREFECT_API_URL, temporary_settings

from incident.models import (
    Action,
    ActionStatus,
    Alert,
    Approval,
    ApprovalDecision,
    Finding,
    FindingStatus,
    Incident,
    Plan,
    TimelineEvent,
)
from incident.severity import Severity

pytestmark = pytest.mark.prefect


def _incident(record, title: str, *, drill: bool = False) -> Incident:
    incident = Incident(
        title=title,
        severity=Severity.HIGH,
        scenario="db-pool-exhaustion",
        alert=Alert(name="PostgresConnectionsExhausted"),
        drill=drill,
    )
    return record.open_incident(incident)


@pytest.fixture
def saved_store(incident_store, block_names):
    with temporary_settings({PREFECT_API_URL: PREFECT_API_URL.value()}):
        incident_store.save(block_names.store)
    return incident_store


def test_incidents_lists_every_incident_and_marks_drills(firebreak, saved_store, record):
    real = _incident(record, "orders-db pool exhausted")
    drill = _incident(record, "sandbox pool exhausted", drill=True)

    listed = firebreak("incidents")
    assert listed.code == 0, listed.output
    assert real.id in listed.stdout and drill.id in listed.stdout
    drill_line = next(line for line in listed.stdout.splitlines() if drill.id in line)
    real_line = next(line for line in listed.stdout.splitlines() if real.id in line)
    assert "DRILL" in drill_line and "DRILL" not in real_line

    without = firebreak("incidents", "--no-drills")
    assert without.code == 0, without.output
    assert real.id in without.stdout and drill.id not in without.stdout


def test_show_prints_the_timeline_findings_plans_approvals_and_actions(
    firebreak, saved_store, record
):
    incident = _incident(record, "orders-db pool exhausted")
    other = _incident(record, "another incident entirely")
    record.append(
        TimelineEvent(
            incident_id=incident.id,
            phase="declare",
            step="declared",
            status="completed",
            message="declared by the test",
        )
    )
    record.append(
        TimelineEvent(
            incident_id=other.id,
            phase="declare",
            step="declared",
            status="completed",
            message="not this incident's event",
        )
    )
    record.add_finding(
        incident.id,
        Finding(
            check="connection_headroom",
            target="orders-db",
            status=FindingStatus.CRITICAL,
            summary="0 of 7 free",
        ),
    )
    plan = Plan(
        action="terminate_backends",
        target="orders-db",
        reason="idle in transaction",
        items=({"pid": 4242},),
    )
    record.record_plan(incident.id, plan)
    approval = Approval(
        plan_digest=plan.digest,
        decision=ApprovalDecision.APPROVED,
        approver="alice",
        reason="looks right",
    )
    record.record_approval(incident.id, plan, approval)
    record.record_action(
        incident.id,
        Action(
            plan=plan, status=ActionStatus.APPLIED, summary="terminated 1 of 1", approver="alice"
        ),
    )

    shown = firebreak("incidents", "show", incident.id)
    assert shown.code == 0, shown.output
    for expected in (
        "declared by the test",
        "connection_headroom",
        "0 of 7 free",
        plan.digest,
        "alice",
        "looks right",
        "terminated 1 of 1",
        "terminate_backends",
    ):
        assert expected in shown.stdout, expected
    assert "not this incident's event" not in shown.stdout


def test_show_of_an_unknown_incident_fails_saying_so(firebreak, saved_store):
    shown = firebreak("incidents", "show", "INC-19700101-000000")
    assert shown.code == 1
    assert "INC-19700101-000000 is not in the record" in shown.stderr
    assert "Traceback" not in shown.output


def test_a_missing_store_block_fails_naming_it_and_how_to_create_it(firebreak, block_names):
    listed = firebreak("incidents")
    assert listed.code == 1
    assert block_names.store in listed.stderr
    assert "does not exist" in listed.stderr
