"""The approver sees what they approve: a form that fits, fields that say what they do, an
answer bound to the plan by the pause itself, and a record of the decision afterwards."""

from __future__ import annotations

import re
import time

import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from prefect.exceptions import PrefectHTTPStatusError
from prefect.flow_runs import resume_flow_run
from prefect.input.actions import read_flow_run_input
from prefect.input.run_input import keyset_from_paused_state

from flows.answer import SubmitOutcome, awaited_plan, submit_decision
from flows.scenarios.db_pool_exhaustion import SCENARIO
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import approval_form_description, artifact_markdown

pytestmark = pytest.mark.prefect


def form_schema(run_id) -> dict:  # type: ignore[no-untyped-def]
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    return read_flow_run_input(keyset_from_paused_state(state)["schema"], run_id)


def test_the_form_reads_in_the_modal_and_its_decision_is_an_explicit_described_choice(
    record, respond, pool_exhaustion
):
    run = respond()
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
    form = approval_form_description(run_id)
    [plan] = record.plans(incident_id)[:1]

    assert not [line for line in form.splitlines() if line.lstrip().startswith("|")], "no tables"
    assert form.index("Answer by") < form.index("pid ")
    assert f"`{digest}`" in form, "the digest is shown as text, not an editable box"
    assert not re.search(r"(?<!`)\b\w+@[\d.]+\b(?!`)", form), "user@host would become a mailto"
    blocks = form.split("\n**")[1:]
    assert len(blocks) >= len(plan.items)
    for item in plan.items:
        [block] = [
            b for b in blocks if b.split(".", 1)[-1].lstrip().startswith(f"pid {item['pid']} ")
        ]
        assert item["reason"] in block
        assert "query started:" in block and "dry run: would terminate" in block

    # the decision is an explicit choice, and every field says what it does
    schema = form_schema(run_id)
    assert set(schema["required"]) == {"decision", "approver"}
    assert "default" not in schema["properties"]["decision"]
    assert schema["definitions"]["Decision"]["enum"] == ["approve", "reject"]
    assert "plan_digest" not in schema["properties"] and "approve" not in schema["properties"]
    for name, field in schema["properties"].items():
        assert field.get("description"), name
    with get_client(sync_client=True) as client:
        assert awaited_plan(client.read_flow_run(run_id).state) == digest
    answer(run_id, approve=False, approver="bob", plan_digest=digest)
    run.join()


def test_an_answer_for_another_plan_or_an_invalid_answer_changes_nothing(
    record, respond, pool_exhaustion
):
    before = pool_exhaustion.alive()
    run = respond()
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)

    stale = submit_decision(run_id, plan_digest="0" * 16, decision="approve", approver="mallory")
    assert stale.outcome is SubmitOutcome.OTHER_PLAN and digest in stale.message
    invalid = submit_decision(run_id, plan_digest=digest, decision="approve", approver="")
    assert invalid.outcome is SubmitOutcome.INVALID
    with pytest.raises((RuntimeError, PrefectHTTPStatusError)):  # as a hand-made API call would
        resume_flow_run(run_id, run_input={"decision": "yes please", "approver": "eve"})
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run_id).state.is_paused(), "still waiting for a real answer"
    assert pool_exhaustion.alive() == before

    assert answer(run_id, approve=False, approver="carol", reason="checking", plan_digest=digest)
    assert run.join().name == "Escalated"
    [approval] = record.approvals(incident_id)
    assert (approval["decision"], approval["approver"]) == ("rejected", "carol")
    late = submit_decision(run_id, plan_digest=digest, decision="approve", approver="mallory")
    assert late.outcome is SubmitOutcome.NOT_PAUSED
    assert pool_exhaustion.alive() == before


def test_the_artifact_records_the_decision_and_the_log_gives_the_deadline_as_a_clock_time(
    record, respond, pool_exhaustion
):
    run = respond()
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
    key = f"{incident_id.lower()}-approval-request"
    assert "Awaiting a decision until" in artifact_markdown(key)
    answer(run_id, approve=True, approver="alice", reason="pool exhausted", plan_digest=digest)
    assert run.join().name == "Resolved"

    decided = artifact_markdown(key)
    assert "Decision: approved** by alice at" in decided and "pool exhausted" in decided
    assert "Awaiting" not in decided
    deadline = time.monotonic() + 30  # logs reach the API in batches
    with get_client(sync_client=True) as client:
        while True:
            logs = client.read_logs(
                log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run_id]))
            )
            waiting = [m.message for m in logs if "waiting for a decision" in m.message]
            if waiting or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert waiting and re.search(r"until \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", waiting[0])
