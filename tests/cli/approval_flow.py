"""A small flow that pauses for approval the way the engine's flows do (flows/answer.py).

It opens an incident, stores its plan, and waits under ``pause_key(digest)`` for an
``ApprovalInput``; it returns what it was told, so a test can see exactly what reached it.
"""

from __future__ import annotations

from typing import Any

from prefect import flow, runtime
from prefect.flow_runs import pause_flow_run

from blocks.store import IncidentStore
from flows.answer import ApprovalInput, pause_key
from incident.models import Alert, Incident, Plan, TimelineEvent
from incident.severity import Severity

SCENARIO = "cli-approval-test"


def sample_plan(target: str = "orders-db") -> Plan:
    return Plan(
        action="terminate_backends",
        target=target,
        reason="idle in transaction past 5 min, holding the lock others wait on",
        items=(
            {"pid": 31337, "user": "app", "state": "idle in transaction", "age": "612 s"},
            {"pid": 31338, "user": "app", "state": "active", "age": "3600 s"},
        ),
    )


@flow(name="cli-approval-probe")
def wait_for_decision(store: IncidentStore, plan: Plan, timeout: int = 180) -> dict[str, Any]:
    record = store.open()
    try:
        incident = record.open_incident(
            Incident(
                title="CLI approval probe",
                severity=Severity.HIGH,
                scenario=SCENARIO,
                alert=Alert(name="ApprovalProbe"),
                flow_run_id=str(runtime.flow_run.id),
            )
        )
        record.record_plan(incident.id, plan)
        record.append(
            TimelineEvent(
                incident_id=incident.id,
                phase="mitigate",
                step="approval",
                status="started",
                message="waiting",
                data={"plan_digest": plan.digest},
            )
        )
        answer = pause_flow_run(
            wait_for_input=ApprovalInput, key=pause_key(plan.digest), timeout=timeout
        )
    finally:
        record.close()
    return {
        "incident": incident.id,
        "decision": answer.decision.value,
        "approver": answer.approver,
        "reason": answer.reason,
    }
