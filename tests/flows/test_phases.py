"""The runbook's phases as the Prefect UI shows them — one subflow each under the scenario's
run — and the phases that run alone for an incident whose run is long gone."""

from __future__ import annotations

import uuid

import pytest
from prefect.client.orchestration import get_client

from blocks.policy import IncidentPolicyBlock
from flows.phases.standalone import reassess, redraft_postmortem
from flows.scenarios.db_pool_exhaustion import SCENARIO
from incident.errors import PermanentError
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import artifact_markdown, fast_policy, phase_runs

pytestmark = pytest.mark.prefect


def test_a_scenario_run_shows_one_subflow_per_phase_under_it(record, respond, pool_exhaustion):
    run = respond()
    _, run_id, digest = wait_for_approval_request(record, SCENARIO)
    answer(run_id, approve=True, approver="alice", plan_digest=digest)
    assert run.join().name == "Resolved"

    children = phase_runs(run_id)
    assert all(child.parent_task_run_id is not None for child in children)
    with get_client(sync_client=True) as client:
        names = [client.read_flow(child.flow_id).name for child in children]
    assert names == [
        "declare",
        "assess",
        "investigate",
        "mitigate",
        "apply",
        "resolve",
        "post-incident",
    ]
    assert all(child.state.is_completed() for child in children)


def test_an_incident_can_be_assessed_again_and_its_post_mortem_redrafted_from_the_record(
    postgres_target, incident_store, record, respond, pool_exhaustion
):
    suffix = uuid.uuid4().hex[:8]
    postgres_target.save(f"orders-db-{suffix}")
    incident_store.save(f"incident-store-{suffix}")
    IncidentPolicyBlock(policy=fast_policy()).save(f"incident-policy-{suffix}")
    names = {"store": f"incident-store-{suffix}", "policy": f"incident-policy-{suffix}"}
    assert respond(database=f"orders-db-{suffix}", dry_run=True, **names).join().name == "DryRun"
    [incident] = record.incidents(scenario=SCENARIO)
    assert incident["parameters"] == {"database": f"orders-db-{suffix}"}
    before = len(record.findings(incident["id"]))

    findings = reassess(incident["id"], **names)

    assert {f.check for f in findings} >= {"connection_headroom", "long_running_queries"}
    assert len(record.findings(incident["id"])) == before + len(findings)
    again = [e for e in record.timeline(incident["id"]) if e.phase == "reassess"]
    assert [(e.step, e.status) for e in again][:2] == [
        ("diagnostics", "started"),
        ("diagnostics", "completed"),
    ]
    assert pool_exhaustion.alive() >= pool_exhaustion.offending, "assessing changes nothing"

    record.append(
        record.timeline(incident["id"])[-1].model_copy(
            update={
                "message": "a note added later",
                "step": "note",
                "phase": "review",
                "status": "info",
            }
        )
    )
    markdown = redraft_postmortem(incident["id"], **names)
    assert "a note added later" in markdown
    assert "a note added later" in artifact_markdown(f"{incident['id'].lower()}-postmortem")


def test_assessing_again_needs_targets_known_by_name(
    incident_store, record, respond, pool_exhaustion
):
    assert respond(dry_run=True).join().name == "DryRun"  # the target was a block, not a name
    [incident] = record.incidents(scenario=SCENARIO)
    with pytest.raises(PermanentError, match="not by name"):
        reassess(incident["id"], store=incident_store, policy=fast_policy())
