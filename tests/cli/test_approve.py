"""``firebreak approve`` / ``reject`` on a run paused for a plan, through submit_decision."""

from __future__ import annotations

import time
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client
from prefect.settings import PREFECT_API_URL, temporary_settings

from flows.answer import awaited_plan
from tests.cli.approval_flow import SCENARIO, sample_plan, wait_for_decision

pytestmark = pytest.mark.prefect


def _paused(record, timeout: float = 120) -> tuple[str, UUID]:
    """(incident id, flow run id) once the probe flow is paused on its plan."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for incident in record.incidents(scenario=SCENARIO):
            run_id = UUID(incident["flow_run_id"])
            with get_client(sync_client=True) as client:
                if awaited_plan(client.read_flow_run(run_id).state):
                    return incident["id"], run_id
        time.sleep(0.3)
    raise TimeoutError("the probe flow did not pause for approval")


def _state_of(run_id: UUID) -> str:
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state.type.value


@pytest.fixture
def paused_run(prefect_api, background, incident_store, record, block_names):
    with temporary_settings({PREFECT_API_URL: PREFECT_API_URL.value()}):
        incident_store.save(block_names.store)
    plan = sample_plan()
    running = background(wait_for_decision, store=incident_store, plan=plan)
    incident_id, run_id = _paused(record)
    return running, incident_id, run_id, plan


def test_approve_by_incident_id_resumes_the_run_with_that_approver(firebreak, paused_run):
    running, incident_id, run_id, plan = paused_run
    result = firebreak("approve", incident_id, "--yes", "--approver", "alice", "--reason", "ok")
    assert result.code == 0, result.output
    assert plan.digest in result.stdout
    assert "31337" in result.stdout and "31338" in result.stdout  # every planned item shown
    told = running.join(timeout=120)
    assert told == {
        "incident": incident_id,
        "decision": "approve",
        "approver": "alice",
        "reason": "ok",
    }

    again = firebreak("approve", str(run_id), "--yes")
    assert again.code == 1
    assert "not waiting for an approval" in again.stderr


def test_a_declined_confirmation_or_another_digest_changes_nothing_and_reject_rejects(
    firebreak, paused_run
):
    running, _, run_id, plan = paused_run
    declined = firebreak("approve", str(run_id), "--approver", "bob", input="n\n")
    assert declined.code == 1
    assert plan.digest in declined.stdout and "nothing was changed" in declined.stdout
    assert _state_of(run_id) == "PAUSED"

    stale = firebreak("approve", str(run_id), "--digest", "0123456789abcdef", "--yes")
    assert stale.code == 1
    assert f"now waits on plan {plan.digest}" in stale.stderr
    assert _state_of(run_id) == "PAUSED"

    rejected = firebreak(
        "reject", str(run_id), "--yes", "--approver", "carol", "--reason", "wrong pids"
    )
    assert rejected.code == 0, rejected.output
    told = running.join(timeout=120)
    assert (told["decision"], told["approver"], told["reason"]) == ("reject", "carol", "wrong pids")


def test_approving_a_run_that_does_not_exist_fails_clearly(firebreak, prefect_api):
    result = firebreak("approve", "00000000-0000-0000-0000-000000000000", "--yes")
    assert result.code == 1
    assert "there is no flow run" in result.stderr
    assert "Traceback" not in result.output
