"""The contract the approval step keeps with the sweep, on a really paused Prefect run.

The step records ``approval`` started and pauses *once* for `approval_window` (one
``approval_timeout`` per level); the sweep re-sends the request to each level while the run
is Paused; an answer at the second level resumes the run and is applied; with no answer the
pause ends after the last level and nothing is applied. The flow below is that contract in
a dozen lines (the integrator's approval step is the real one).
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from prefect import flow, runtime
from prefect.client.orchestration import get_client
from prefect.exceptions import FlowPauseTimeout
from prefect.flow_runs import pause_flow_run, resume_flow_run
from prefect.states import Running

from blocks.store import IncidentStore
from flows.approval import ApprovalInput
from flows.notify_due import notify_due
from flows.reactions import incident_from_row
from flows.scribe import Scribe
from incident.escalation import approval_window
from incident.models import Plan
from incident.policy import IncidentPolicy
from tests.flows import comms_support as engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

PLAN = Plan(action="terminate_backends", target="orders-db", reason="pool exhausted")


@flow(name="approval-ladder-contract")
def wait_on_the_ladder(store: IncidentStore, incident_id: str, policy: IncidentPolicy) -> str:
    record = store.open()
    record.set_flow_run(incident_id, str(runtime.flow_run.id))
    scribe = Scribe(record, incident_from_row(record.get_incident(incident_id)))
    record.record_plan(incident_id, PLAN)
    scribe.event("mitigate", "approval", "started", "approval requested", plan_digest=PLAN.digest)
    window = approval_window(policy, scribe.incident.severity)
    try:
        answer = pause_flow_run(
            wait_for_input=ApprovalInput.with_initial_data(plan_digest=PLAN.digest),
            timeout=int(window.total_seconds()),
            poll_interval=1,
        )
    except FlowPauseTimeout:
        with get_client(sync_client=True) as client:
            client.set_flow_run_state(runtime.flow_run.id, Running(), force=True)
        scribe.event(
            "mitigate", "approval", "completed", "expired after every level", decision="timed_out"
        )
        return "expired: nothing applied"
    scribe.event(
        "mitigate",
        "approval",
        "completed",
        f"approved by {answer.approver}",
        decision="approved" if answer.approve else "rejected",
    )
    return f"applied, approved by {answer.approver}" if answer.approve else "rejected"


def paused_run(record, incident_id: str, timeout: float = 90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_id = record.get_incident(incident_id)["flow_run_id"]
        if run_id:
            with get_client(sync_client=True) as client:
                state = client.read_flow_run(run_id).state
            if state is not None and state.is_paused():
                return run_id
        time.sleep(0.2)
    raise TimeoutError("the run did not pause for approval")


def asked_at(record, incident_id: str):
    return next(e.at for e in record.timeline(incident_id) if e.step == "approval")


def test_an_answer_at_the_second_level_is_applied(
    record, incident_store, slack_workspace, slack_stub, background
):
    policy = engine.compressed_policy(approval_timeout="PT10S")
    scribe = engine.declare(record)
    run = background(wait_on_the_ladder, incident_store, scribe.incident.id, policy)
    run_id = paused_run(record, scribe.incident.id)

    notify_due(
        store=incident_store,
        slack=slack_workspace,
        status_page=None,
        pager=None,
        policy=policy,
        now=asked_at(record, scribe.incident.id) + timedelta(seconds=11),
    )

    [resent] = [t for t in slack_stub.texts() if t.startswith("⏸ APPROVAL NEEDED")]
    assert "Asking: DevOps Lead (level 2" in resent
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run_id).state.is_paused()  # the run kept waiting
    resume_flow_run(
        run_id,
        run_input={
            "approve": True,
            "approver": "devops-lead",
            "reason": "go",
            "plan_digest": PLAN.digest,
        },
    )

    assert run.join(timeout=120) == "applied, approved by devops-lead"


def test_with_no_answer_the_request_climbs_every_level_then_expires_unapplied(
    record, incident_store, slack_workspace, slack_stub, background
):
    policy = engine.compressed_policy(approval_timeout="PT2S")  # 4 levels: 8 s in all
    scribe = engine.declare(record)
    run = background(wait_on_the_ladder, incident_store, scribe.incident.id, policy)
    paused_run(record, scribe.incident.id)
    asked = asked_at(record, scribe.incident.id)

    for seconds in (3, 5, 7):
        notify_due(
            store=incident_store,
            slack=slack_workspace,
            status_page=None,
            pager=None,
            policy=policy,
            now=asked + timedelta(seconds=seconds),
        )

    assert run.join(timeout=120) == "expired: nothing applied"
    resent = [t for t in slack_stub.texts() if t.startswith("⏸ APPROVAL NEEDED")]
    assert [t.split("Asking: ")[1].split(" (")[0] for t in resent] == [
        "DevOps Lead",
        "Engineering Manager",
        "CTO",
    ]
    answered = [e for e in record.timeline(scribe.incident.id) if e.step == "approval"]
    assert answered[-1].data["decision"] == "timed_out"
