"""DB connection-pool exhaustion, end to end, against a real exhausted PostgreSQL.

Every assertion about what was terminated reads ``pg_stat_activity`` (through the fault),
never the flow's own report of what it did.
"""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client

from blocks.postgres import PostgresTarget
from flows.scenarios.db_pool_exhaustion import SCENARIO
from sandbox.approver import answer, wait_for_approval_request
from sandbox.postgres_faults import PoolExhaustion
from tests.fixtures.postgres_cluster import small_database
from tests.flows.support import artifact_keys, artifact_markdown, fast_policy, steps_of
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]


def test_an_approved_plan_ends_the_offenders_and_spares_every_bystander(
    record, slack_stub, slack_workspace, kubernetes_target, respond, pool_exhaustion
):
    fault = pool_exhaustion
    assert not fault.can_connect(), "the fault must really exhaust the role's pool"
    run = respond(slack=slack_workspace, cluster=kubernetes_target)

    incident_id, flow_run_id, digest = wait_for_approval_request(record, SCENARIO)
    [plan] = record.plans(incident_id)[:1]
    planned = {item["pid"] for item in plan.items}
    assert planned == fault.offending and not planned & fault.bystanders
    assert fault.alive() >= fault.offending, "nothing may die before approval"
    fault.move_on()  # a pooled connection finishes its transaction and takes fresh work

    assert answer(flow_run_id, approve=True, approver="alice", plan_digest=digest).accepted
    state = run.join()

    assert state.is_completed() and state.name == "Resolved", state.message
    assert not fault.alive() & fault.offending
    assert not fault.untouched(), fault.untouched()
    assert not fault.waiting_on_locks(), "the lock waiter went on once its blocker was gone"
    assert fault.can_connect()

    [action] = [a for a in record.actions(incident_id) if a["status"] != "dry_run"]
    outcomes = {r["pid"]: r["outcome"] for r in action["results"]}
    assert {p for p, o in outcomes.items() if o == "terminated"} == fault.offending
    assert outcomes[fault.pids["moved_on"][0]] == "moved on"
    timeline = record.timeline(incident_id)
    applied = next(e for e in timeline if (e.step, e.status) == ("apply", "completed"))
    assert "1 moved on" in applied.message

    steps = steps_of(record, incident_id)
    expected_order = [
        ("declare", "declared", "completed"),
        ("assess", "diagnostics", "completed"),
        ("investigate", "decision", "completed"),
        ("mitigate", "dry-run", "completed"),
        ("mitigate", "approval", "started"),
        ("mitigate", "approval", "completed"),
        ("mitigate", "apply", "completed"),
        ("resolve", "verify", "completed"),
        ("resolve", "monitor", "completed"),
        ("resolve", "resolved", "completed"),
        ("post-incident", "postmortem", "completed"),
    ]
    positions = [steps.index(step) for step in expected_order]
    assert positions == sorted(positions), steps
    postmortem_at = steps.index(("post-incident", "postmortem", "completed"))
    for announced, notice in [
        (("declare", "declared", "completed"), ("declare", "notify:declaration", "completed")),
        (("resolve", "resolved", "completed"), ("resolve", "notify:resolution", "completed")),
    ]:
        assert steps.index(announced) < steps.index(notice) < postmortem_at
    assert [e.seq for e in timeline] == list(range(1, len(timeline) + 1))

    findings = {}  # the assessment's finding of each check (verification adds later ones)
    for f in record.findings(incident_id):
        findings.setdefault(f.check, f)
    assert findings["deployment_status"].status.value != "unreachable"
    roots = findings["lock_waits"].evidence["roots"]
    assert [r["pid"] for r in roots] == [fault.pids["idle_in_transaction"][0]]
    notes = [e.message for e in timeline if e.step == "note"]
    for kind in ("protected", "superuser"):
        assert any(f"pid {fault.pids[kind][0]} " in n for n in notes), (kind, notes)

    incident = record.get_incident(incident_id)
    assert incident["status"] == "resolved" and incident["closed_at"] is not None
    assert incident["acknowledged_at"] and incident["mitigated_at"] and incident["resolved_at"]
    [approval] = record.approvals(incident_id)
    assert (approval["decision"], approval["approver"]) == ("approved", "alice")

    key = incident_id.lower()
    assert {
        f"{key}-approval-request",
        f"{key}-timeline",
        f"{key}-findings",
        f"{key}-postmortem",
    } <= (artifact_keys(flow_run_id))
    postmortem = artifact_markdown(f"{key}-postmortem")
    assert f"**Incident:** {incident_id}" in postmortem
    assert "| time to mitigate |" in postmortem and "| time to resolve |" in postmortem
    assert f"{len(fault.offending)} terminated" in postmortem

    texts = slack_stub.texts(channel="#incident-response")
    assert any("INCIDENT DECLARED" in t and incident_id in t for t in texts)
    [asked] = [t for t in texts if "APPROVAL NEEDED" in t]
    assert incident_id in asked and digest in asked and str(flow_run_id) in asked
    monitoring = next(i for i, t in enumerate(texts) if "MONITORING" in t)
    resolved = next(i for i, t in enumerate(texts) if "INCIDENT RESOLVED" in t)
    assert texts.index(asked) < monitoring < resolved
    assert "every check stayed healthy" in texts[resolved]


@pytest.mark.parametrize("how", ["rejected", "timed_out"])
def test_without_approval_no_backend_is_terminated_and_the_incident_escalates(
    how, record, slack_stub, slack_workspace, respond, pool_exhaustion
):
    before = pool_exhaustion.alive()
    policy = fast_policy(approval_timeout=timedelta(seconds=4 if how == "timed_out" else 60))
    run = respond(slack=slack_workspace, policy=policy)
    incident_id, flow_run_id, digest = wait_for_approval_request(record, SCENARIO)
    if how == "rejected":
        answer(flow_run_id, approve=False, approver="bob", reason="not sure", plan_digest=digest)
    state = run.join()

    assert state.is_completed() and state.name == "Escalated", state
    assert "nothing was changed" in state.message
    assert pool_exhaustion.alive() == before, "not one backend was terminated"
    assert [a["status"] for a in record.actions(incident_id)] == ["dry_run"]
    [approval] = record.approvals(incident_id)
    assert approval["decision"] == how
    assert record.get_incident(incident_id)["status"] == "escalated"
    timeline = record.timeline(incident_id)
    assert any(e.step == "escalated" for e in timeline)
    assert not any(e.step == "apply" for e in timeline)
    with get_client(sync_client=True) as client:  # what the UI shows, not just what we returned
        final = client.read_flow_run(flow_run_id).state
    assert (final.type.value, final.name) == ("COMPLETED", "Escalated")
    texts = slack_stub.texts()
    assert any("ESCALATION" in t and incident_id in t for t in texts)
    assert texts[-1].startswith("⏫ ESCALATION"), "the channel's last word is the escalation"


def test_a_server_out_of_connections_is_relieved_through_the_reserved_slots(
    small_postgres, record, respond
):
    orders = small_database(small_postgres, "orders_" + uuid.uuid4().hex[:6])
    with PoolExhaustion(orders, fill_server=True) as fault:
        assert not fault.can_connect(), "only the superuser slots may be left"
        target = PostgresTarget(
            dsn=orders, name="orders-db", protected_roles=[fault.protected_role]
        )
        run = respond(database=target)
        incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
        findings = {f.check: f for f in record.findings(incident_id)}
        assert all(f.status.value != "unreachable" for f in findings.values()), findings
        assert findings["connection_headroom"].evidence["tightest"]["scope"] == "server"
        answer(run_id, approve=True, approver="alice", plan_digest=digest)
        state = run.join()
        assert state.name == "Resolved", state.message
        assert not fault.alive() & fault.offending
        assert not fault.untouched(), fault.untouched()
        assert fault.can_connect()


def test_idle_connections_past_their_age_are_offered_when_nothing_worse_holds_the_pool(
    scratch_database, postgres_target, record, respond
):
    with PoolExhaustion(
        scratch_database,
        idle_in_transaction=0,
        long_queries=0,
        lock_waiters=0,
        healthy=4,
        hazards=False,
    ) as fault:
        idle = set(fault.pids["healthy"])
        run = respond(policy=fast_policy(idle_connection_age=timedelta(seconds=2)))
        incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
        [plan] = record.plans(incident_id)
        assert plan.params["kind"] == "idle" and {i["pid"] for i in plan.items} == idle
        answer(run_id, approve=True, approver="alice", plan_digest=digest)
        assert run.join().name == "Resolved"
        assert not fault.alive() & idle and fault.can_connect()


def test_a_database_with_room_points_at_the_applications_own_pool(
    postgres_target, record, slack_stub, slack_workspace, respond
):
    state = respond(slack=slack_workspace).join()
    assert state.name == "Escalated"
    assert "application's own pool" in state.message and "Restart the application" in state.message
    [incident] = record.incidents(scenario=SCENARIO)
    assert record.plans(incident["id"]) == [] and record.approvals(incident["id"]) == []
    assert not any("RESOLVED" in t for t in slack_stub.texts())


def test_a_role_that_cannot_see_other_roles_is_told_what_to_grant(
    blind_target, record, respond, pool_exhaustion
):
    state = respond(database=blind_target).join()
    assert state.name == "Escalated", state.message
    assert "cannot see" in state.message and "pg_read_all_stats" in state.message
    assert "older than" not in state.message.split("cannot see")[0]
    assert pool_exhaustion.alive() >= pool_exhaustion.offending
