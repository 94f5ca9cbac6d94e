"""DB connection-pool exhaustion, end to end, against a real exhausted PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client

from flows.scenarios.db_pool_exhaustion import SCENARIO
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import (
    approval_form_description,
    artifact_keys,
    artifact_markdown,
    fast_policy,
)

pytestmark = pytest.mark.prefect


def test_approved_plan_terminates_exactly_the_offending_backends_and_restores_headroom(
    pool_exhaustion,
    record,
    slack_stub,
    slack_workspace,
    kubernetes_target,
    respond,
):
    assert not pool_exhaustion.can_connect(), "the fault must really exhaust the role's pool"
    healthy = set(pool_exhaustion.pids["healthy"])
    run = respond(slack=slack_workspace, cluster=kubernetes_target)

    incident_id, flow_run_id, digest = wait_for_approval_request(record, SCENARIO)
    form = approval_form_description(flow_run_id)  # what the approver reads in the UI
    for pid in pool_exhaustion.offending:
        assert f"| {pid} | {pool_exhaustion.role} |" in form
    assert "pg_sleep(3600)" in form and digest in form
    assert "**Answer by " in form and "nothing is done and the incident is escalated" in form
    assert all(f"| {pid} |" not in form for pid in pool_exhaustion.pids["healthy"])
    planned = next(
        e for e in record.timeline(incident_id) if (e.step, e.status) == ("approval", "started")
    ).data["items"]
    assert set(planned) == pool_exhaustion.offending
    assert pool_exhaustion.alive() >= pool_exhaustion.offending, "nothing may die before approval"

    answer(flow_run_id, approve=True, approver="alice", reason="pool exhausted", plan_digest=digest)
    state = run.join()

    assert state.is_completed() and state.name == "Resolved", state.message
    assert pool_exhaustion.alive() == healthy
    assert pool_exhaustion.can_connect()

    steps = [(e.phase, e.step, e.status) for e in record.timeline(incident_id)]
    expected_order = [
        ("declare", "declared", "completed"),
        ("assess", "diagnostics", "completed"),
        ("investigate", "plan", "completed"),
        ("mitigate", "approval", "started"),
        ("mitigate", "approval", "completed"),
        ("mitigate", "apply", "completed"),
        ("resolve", "verify", "completed"),
        ("resolve", "resolved", "completed"),
        ("post-incident", "postmortem", "completed"),
    ]
    positions = [steps.index(step) for step in expected_order]
    assert positions == sorted(positions), steps
    # messages go out in the background: each is recorded after what it announces,
    # and before the post-mortem that reports on it
    postmortem_at = steps.index(("post-incident", "postmortem", "completed"))
    for announced, notice in [
        (("declare", "declared", "completed"), ("declare", "notify:declaration", "completed")),
        (("resolve", "resolved", "completed"), ("resolve", "notify:resolution", "completed")),
    ]:
        assert steps.index(announced) < steps.index(notice) < postmortem_at
    seqs = [e.seq for e in record.timeline(incident_id)]
    assert seqs == list(range(1, len(seqs) + 1))

    findings = {f.check: f for f in record.findings(incident_id)}
    assert findings["deployment_status"].status.value != "unreachable"
    assert {
        "connection_headroom",
        "connections_by_state",
        "long_running_queries",
        "lock_waits",
    } <= set(findings)
    lock_roots = findings["lock_waits"].evidence["roots"]
    assert [r["pid"] for r in lock_roots] == [pool_exhaustion.pids["idle_in_transaction"][0]]

    incident = record.get_incident(incident_id)
    assert incident["status"] == "resolved"
    assert incident["acknowledged_at"] and incident["mitigated_at"] and incident["resolved_at"]
    [approval] = record.approvals(incident_id)
    assert (approval["decision"], approval["approver"]) == ("approved", "alice")
    [action] = record.actions(incident_id)
    assert {r["pid"] for r in action["results"] if r["outcome"] == "terminated"} == (
        pool_exhaustion.offending
    )

    key = incident_id.lower()
    assert {
        f"{key}-approval-request",
        f"{key}-timeline",
        f"{key}-findings",
        f"{key}-postmortem",
    } <= artifact_keys(flow_run_id)

    postmortem = artifact_markdown(f"{key}-postmortem")
    assert f"**Incident:** {incident_id}" in postmortem
    assert "| time to mitigate |" in postmortem and "| time to resolve |" in postmortem
    assert "terminate_backends on" in postmortem and "terminated 6 of 6" in postmortem
    assert postmortem.count("| declare |") >= 2  # the timeline table, from the record

    texts = [m["text"] for m in slack_stub.messages(channel="#incident-response")]
    assert any("INCIDENT DECLARED" in t and incident_id in t for t in texts)
    assert any("INCIDENT RESOLVED" in t and incident_id in t for t in texts)
    [asked] = [t for t in texts if "APPROVAL NEEDED" in t]
    assert incident_id in asked and digest in asked and str(flow_run_id) in asked
    assert texts.index(asked) < next(i for i, t in enumerate(texts) if "RESOLVED" in t)


@pytest.mark.parametrize("how", ["rejected", "timed_out"])
def test_without_approval_no_backend_is_terminated_and_the_incident_escalates(
    how,
    pool_exhaustion,
    record,
    slack_stub,
    slack_workspace,
    respond,
):
    before = pool_exhaustion.alive()
    policy = fast_policy(approval_timeout=timedelta(seconds=4 if how == "timed_out" else 60))
    run = respond(slack=slack_workspace, policy=policy)
    incident_id, flow_run_id, digest = wait_for_approval_request(record, SCENARIO)
    if how == "rejected":
        answer(flow_run_id, approve=False, approver="bob", reason="not sure", plan_digest=digest)
    state = run.join()

    assert state.is_completed() and state.name == "Escalated", state
    assert "no backend was terminated" in state.message or "nothing terminated" in state.message
    assert pool_exhaustion.alive() == before
    assert not pool_exhaustion.can_connect()
    assert record.actions(incident_id) == []
    [approval] = record.approvals(incident_id)
    assert approval["decision"] == how
    incident = record.get_incident(incident_id)
    assert incident["status"] == "escalated"
    timeline = record.timeline(incident_id)
    assert any(e.step == "escalated" for e in timeline)
    assert not any(e.step == "apply" for e in timeline)
    with get_client(sync_client=True) as client:  # what the UI shows, not just what we returned
        final = client.read_flow_run(flow_run_id).state
    assert (final.type.value, final.name) == ("COMPLETED", "Escalated")
    texts = [m["text"] for m in slack_stub.messages()]
    assert any("ESCALATION" in t and incident_id in t for t in texts)
