"""The multi-machine path: a server on PostgreSQL with Redis messaging, two workers, the
deployments from prefect.yaml; two concurrent incidents land on the two workers, pause for
approval, are approved through the API and resolve."""

from __future__ import annotations

import secrets
import time
from contextlib import ExitStack
from typing import Any
from uuid import UUID

import psycopg
import pytest
from prefect.client.orchestration import get_client
from prefect.deployments import run_deployment
from prefect.settings import PREFECT_API_URL, temporary_settings
from psycopg import sql

from blocks import IncidentPolicyBlock, PostgresTarget
from flows.answer import awaited_plan, submit_decision
from flows.scenarios.db_pool_exhaustion import SCENARIO
from sandbox.approver import answer
from sandbox.drill_registry import DRILLS
from sandbox.postgres_faults import PoolExhaustion
from tests.fixtures.postgres import dsn_for
from tests.flows.support import fast_policy, pool_alert
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]


def _approve(run_id: UUID, digest: str, approver: str) -> None:
    """Through submit_decision when the run pauses per plan digest, else the older form."""
    with get_client(sync_client=True) as client:
        state = client.read_flow_run(run_id).state
    if awaited_plan(state) is not None:
        result = submit_decision(
            run_id,
            plan_digest=digest,
            decision="approve",
            approver=approver,
            reason="multi-machine test",
        )
        assert result.accepted, result.message
    else:
        answer(
            run_id, approve=True, approver=approver, reason="multi-machine test", plan_digest=digest
        )


def _paused_incidents(record, runs: set[UUID], timeout: float = 180) -> dict[UUID, str]:
    """run id -> plan digest, once every run in ``runs`` is paused on its approval at once."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found: dict[UUID, str] = {}
        for incident in record.incidents(scenario=SCENARIO):
            run_id = UUID(incident["flow_run_id"]) if incident["flow_run_id"] else None
            asked = [
                e
                for e in record.timeline(incident["id"])
                if e.step == "approval" and e.status == "started"
            ]
            if run_id in runs and asked:
                with get_client(sync_client=True) as client:
                    if client.read_flow_run(run_id).state.is_paused():
                        found[run_id] = asked[-1].data["plan_digest"]
        if set(found) == runs:
            return found
        time.sleep(0.5)
    raise AssertionError(f"not every run paused for approval within {timeout}s")


@pytest.fixture
def two_exhausted_pools(admin_dsn):
    names = [f"fb_mm_{secrets.token_hex(3)}" for _ in range(2)]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    with ExitStack() as stack:
        yield [stack.enter_context(PoolExhaustion(dsn_for(n))) for n in names]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for name in names:
            conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def test_two_concurrent_incidents_land_on_two_workers_pause_are_approved_and_resolve(
    deployed_cluster, two_exhausted_pools, incident_store, record, slack_stub, slack_workspace
):
    suffix = secrets.token_hex(3)
    runs: dict[UUID, PoolExhaustion] = {}
    with temporary_settings({PREFECT_API_URL: deployed_cluster.server.api_url}):
        incident_store.save(f"incident-store-{suffix}")
        slack_workspace.save(f"incident-slack-{suffix}")
        IncidentPolicyBlock(policy=fast_policy()).save(f"incident-policy-{suffix}")
        for n, fault in enumerate(two_exhausted_pools):
            PostgresTarget(
                dsn=fault.admin_dsn, name=f"db-{n}", protected_roles=[fault.protected_role]
            ).save(f"db-{n}-{suffix}")
            run = run_deployment(
                "db-pool-exhaustion/db-pool-exhaustion",
                parameters={
                    "alert": pool_alert()
                    .model_copy(update={"group_key": f"db-{n}"})
                    .model_dump(mode="json"),
                    "database": f"db-{n}-{suffix}",
                    "store": f"incident-store-{suffix}",
                    "slack": f"incident-slack-{suffix}",
                    "policy": f"incident-policy-{suffix}",
                },
                timeout=0,
            )
            runs[run.id] = fault

        digests = _paused_incidents(record, set(runs))  # both waiting at the same time
        logs = [path.read_text() for path in deployed_cluster.worker_logs]
        ran_on = {
            run_id: [n for n, text in enumerate(logs) if _ran(text, run_id)] for run_id in runs
        }
        assert sorted(w for ws in ran_on.values() for w in ws) == [0, 1], ran_on

        for run_id, digest in digests.items():
            _approve(run_id, digest, approver=f"on-call-{str(run_id)[:4]}")
        deadline = time.monotonic() + 180
        with get_client(sync_client=True) as client:
            for run_id in runs:
                while not (state := client.read_flow_run(run_id).state).is_final():
                    assert time.monotonic() < deadline, f"run {run_id} still {state.name}"
                    time.sleep(0.5)
                assert (state.type.value, state.name) == ("COMPLETED", "Resolved"), state.message

    for fault in runs.values():
        assert not (fault.alive() & fault.offending)
        assert not fault.untouched(), fault.untouched()
    statuses = [r["status"] for r in record.incidents(scenario=SCENARIO)]
    assert statuses == ["resolved", "resolved"]
    redis = deployed_cluster.redis()  # the server's events went through its Redis streams
    assert redis.type("events") == b"stream"
    assert redis.xinfo_groups("events")  # the server's services consume it as groups


def _ran(worker_log: str, run_id: UUID) -> bool:
    """The worker started the run: both workers may try to submit it, and the one the server
    turns away logs the run's id too ("Aborted submission of flow run ...")."""
    return (
        f"submitting flow run '{run_id}'" in worker_log
        and f"Aborted submission of flow run '{run_id}'" not in worker_log
    )


def _definition(schema: dict[str, Any], ref: dict[str, Any]) -> dict[str, Any]:
    return schema["definitions"][ref["$ref"].rsplit("/", 1)[-1]]


def test_the_deployed_forms_have_enums_and_descriptions_for_their_typed_fields(deployed_cluster):
    with (
        temporary_settings({PREFECT_API_URL: deployed_cluster.server.api_url}),
        get_client(sync_client=True) as client,
    ):
        scenario = client.read_deployment_by_name("db-pool-exhaustion/db-pool-exhaustion")
        drill = client.read_deployment_by_name("drill/drill")

    schema = scenario.parameter_openapi_schema
    props = schema["properties"]
    for name in ("alert", "database", "store", "slack", "policy", "dry_run"):
        assert props[name].get("description"), name
    assert props["dry_run"]["type"] == "boolean"
    alert = _definition(schema, props["alert"])
    assert alert["properties"]["name"].get("description")
    source = alert["properties"]["source"]
    source_enum = _definition(schema, source.get("allOf", [source])[0])
    assert "drill" in source_enum["enum"] and "alertmanager" in source_enum["enum"]

    schema = drill.parameter_openapi_schema
    props = schema["properties"]
    assert set(_definition(schema, props["scenario"])["enum"]) == set(DRILLS)
    assert props["scenario"].get("description") and props["sandbox"].get("description")
