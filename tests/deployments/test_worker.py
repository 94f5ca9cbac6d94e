"""The deployed flow on a real Prefect server and worker: launched through the API as the UI
does, configured by block names saved on that server, suspended while it waits, approved from
outside, re-run from the record."""

from __future__ import annotations

import time
import uuid

import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings

from blocks import IncidentPolicyBlock
from flows.scenarios.db_pool_exhaustion import SCENARIO
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import fast_policy, pool_alert
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]


def test_a_deployment_run_by_a_worker_pauses_resumes_and_resolves(
    firebreak_worker,
    pool_exhaustion,
    postgres_target,
    incident_store,
    record,
    slack_stub,
    slack_workspace,
):
    deployed = firebreak_worker.cli("--no-prompt", "deploy", "--all")
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    suffix = uuid.uuid4().hex[:6]
    with temporary_settings({PREFECT_API_URL: firebreak_worker.api_url}):
        postgres_target.save(f"orders-db-{suffix}")
        incident_store.save(f"incident-store-{suffix}")
        slack_workspace.save(f"incident-slack-{suffix}")
        IncidentPolicyBlock(policy=fast_policy()).save(f"incident-policy-{suffix}")
        run = run_deployment(
            "db-pool-exhaustion/db-pool-exhaustion",
            parameters={
                "alert": pool_alert().model_dump(mode="json"),
                "database": f"orders-db-{suffix}",
                "store": f"incident-store-{suffix}",
                "slack": f"incident-slack-{suffix}",
                "policy": f"incident-policy-{suffix}",
            },
            timeout=0,
        )
        incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO, timeout=120)
        assert run_id == run.id
        answer(run_id, approve=True, approver="alice", reason="worker path", plan_digest=digest)
        deadline = time.monotonic() + 120
        with get_client(sync_client=True) as client:
            while not (state := client.read_flow_run(run.id).state).is_final():
                assert time.monotonic() < deadline, f"run still {state.name}"
                time.sleep(0.5)

    assert (state.type.value, state.name) == ("COMPLETED", "Resolved"), state.message
    # the run was suspended while waiting (process and worker slot freed), then re-run from
    # the top: every phase found its work in the record, and nothing was done twice
    steps = [(e.phase, e.step, e.status) for e in record.timeline(incident_id)]
    assert ("declare", "resumed", "info") in steps
    for once in [
        ("declare", "declared", "completed"),
        ("mitigate", "approval", "started"),
        ("assess", "diagnostics", "completed"),
        ("mitigate", "apply", "completed"),
    ]:
        assert steps.count(once) == 1, (once, steps)
    assert not (pool_exhaustion.alive() & pool_exhaustion.offending)
    assert not pool_exhaustion.untouched()
    assert pool_exhaustion.can_connect()
    assert record.get_incident(incident_id)["status"] == "resolved"
    assert any("INCIDENT RESOLVED" in t for t in slack_stub.texts())
