"""DB-pool flow under faults: Slack down, target unreachable, wrong or invalid approvals,
a mitigation that fails, dry runs, and secrets that must never leak."""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta

import psycopg
import pytest
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blocks.policy import IncidentPolicyBlock
from blocks.postgres import PostgresTarget
from flows.scenarios.db_pool_exhaustion import SCENARIO
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import fast_policy, phase_runs, run_artifacts
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]


def approve(record, approver="alice"):
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
    answer(run_id, approve=True, approver=approver, reason="go", plan_digest=digest)
    return incident_id, run_id


@pytest.mark.parametrize("outage", ["500", "429"])
def test_a_slack_outage_never_blocks_the_mitigation_and_is_in_the_timeline(
    outage,
    pool_exhaustion,
    record,
    slack_stub,
    slack_workspace,
    respond,
):
    if outage == "500":
        slack_stub.fail_always(500)
    else:  # rate limited for longer than a message may wait: dropped at once
        slack_stub.fail_always(429)
    run = respond(slack=slack_workspace)
    incident_id, _ = approve(record)
    state = run.join()

    assert state.name == "Resolved", state.message
    assert not (pool_exhaustion.alive() & pool_exhaustion.offending)
    failed = [e for e in record.timeline(incident_id) if e.step.startswith("notify:")]
    assert {e.step for e in failed} >= {"notify:declaration", "notify:resolution"}
    assert all(e.status == "failed" for e in failed)
    assert all("not delivered" in e.message for e in failed)
    assert slack_stub.messages() == []
    tries = [e.data["attempts"] for e in failed]
    assert all(n >= 1 for n in tries)
    assert len(slack_stub.calls_to("chat.postMessage")) == sum(tries)  # each try recorded


def test_a_rate_limited_message_is_delayed_then_delivered(
    pool_exhaustion,
    record,
    slack_stub,
    slack_workspace,
    respond,
):
    slack_stub.rate_limit_next(1, retry_after=5)  # longer than the assessment takes to start
    run = respond(
        slack=slack_workspace, policy=fast_policy(notification_max_wait=timedelta(seconds=20))
    )
    incident_id, _ = approve(record)
    assert run.join().name == "Resolved"
    timeline = record.timeline(incident_id)
    declaration = next(e for e in timeline if e.step == "notify:declaration")
    assert declaration.status == "completed" and declaration.data["attempts"] == 2
    diagnostics = next(e for e in timeline if e.step == "diagnostics" and e.status == "started")
    assert diagnostics.seq < declaration.seq, "the response went on while Slack made it wait"
    assert any("INCIDENT DECLARED" in t for t in slack_stub.texts())


@pytest.mark.parametrize("fault", ["closed port", "wrong database"])
def test_an_unreachable_database_gives_unreachable_findings_and_escalates_not_crashes(
    fault,
    record,
    slack_workspace,
    respond,
    admin_dsn,
):
    params = conninfo_to_dict(admin_dsn)
    params["password"] = "pw-not-shown"
    if fault == "closed port":
        params["port"] = "1"
    else:
        params["dbname"] = "no_such_database"
    broken = PostgresTarget(dsn=make_conninfo(**params), name="orders")
    state = respond(database=broken, slack=slack_workspace).join()

    assert state.is_completed() and state.name == "Escalated", state
    [incident] = record.incidents(scenario=SCENARIO)
    findings = record.findings(incident["id"])
    pg = [f for f in findings if f.check != "deployment_status"]
    assert pg and all(f.status.value == "unreachable" for f in pg)
    assert all("refused the connection" in f.summary for f in pg)
    assert "pw-not-shown" not in json.dumps([f.model_dump(mode="json") for f in findings])
    assert record.approvals(incident["id"]) == []


def record_connections(admin_dsn: str, record) -> int:  # type: ignore[no-untyped-def]
    """This test's record's connections only: other runs share the server."""
    with psycopg.connect(admin_dsn) as conn:
        return conn.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
            (record.application_name,),
        ).fetchone()[0]


def test_dry_run_shows_the_plan_and_terminates_nothing(
    pool_exhaustion,
    record,
    respond,
    admin_dsn,
):
    before = pool_exhaustion.alive()
    record.incidents()  # the test's own record connection, open before counting
    connections = record_connections(admin_dsn, record)
    state = respond(dry_run=True).join()
    assert record_connections(admin_dsn, record) == connections, (
        "the run kept its record connection"
    )

    assert state.name == "DryRun" and "would terminate" in state.message
    assert pool_exhaustion.alive() == before
    [incident] = record.incidents(scenario=SCENARIO)
    [action] = record.actions(incident["id"])
    assert action["status"] == "dry_run"
    assert {r["pid"] for r in action["results"]} == pool_exhaustion.offending
    assert not pool_exhaustion.untouched()
    assert all(r["outcome"] == "would terminate" for r in action["results"])
    assert record.approvals(incident["id"]) == []


@pytest.fixture
def unprivileged_target(scratch_database, admin_dsn):
    """A monitoring role that can read every backend but may not terminate them."""
    role = "fb_monitor_" + scratch_database.rsplit("_", 1)[-1][-8:]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(sql.SQL("GRANT pg_read_all_stats TO {}").format(sql.Identifier(role)))
    params = conninfo_to_dict(scratch_database)
    params["user"] = role
    yield PostgresTarget(dsn=make_conninfo(**params), name="orders-db")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_role_that_may_not_terminate_escalates_with_every_backend_refused(
    unprivileged_target, record, slack_stub, slack_workspace, respond, pool_exhaustion
):
    unprivileged_target.protected_roles = [pool_exhaustion.protected_role]
    run = respond(database=unprivileged_target, slack=slack_workspace)
    incident_id, _ = approve(record)
    state = run.join()

    assert state.name == "Escalated", state.message
    assert pool_exhaustion.alive() >= pool_exhaustion.offending
    [action] = [a for a in record.actions(incident_id) if a["status"] != "dry_run"]
    assert action["status"] == "failed"
    assert {r["outcome"] for r in action["results"]} == {"refused"}
    assert "nothing terminated" in state.message and "refused" in state.message
    assert slack_stub.texts()[-1].startswith("⏫ ESCALATION")


def test_no_secret_reaches_the_record_artifacts_messages_parameters_or_logs(
    pool_exhaustion,
    scratch_database,
    incident_store,
    record,
    slack_stub,
    slack_workspace,
    respond,
):
    secret = "S3cret-Pa55word-xyz"
    params = conninfo_to_dict(scratch_database)
    params["password"] = secret  # trust auth accepts it, so it travels the whole way
    target = PostgresTarget(dsn=make_conninfo(**params), name="orders-db")
    token = slack_workspace.token.get_secret_value()
    state = respond(database=target, slack=slack_workspace, dry_run=True).join()
    assert state.name == "DryRun"
    [incident] = record.incidents(scenario=SCENARIO)
    run_id = incident["flow_run_id"]

    with psycopg.connect(incident_store.dsn.get_secret_value()) as conn:
        rows = [
            conn.execute(
                sql.SQL("SELECT row_to_json(t)::text FROM {}.{} t").format(
                    sql.Identifier(incident_store.schema_name), sql.Identifier(table)
                )
            ).fetchall()
            for table in ("incidents", "timeline", "findings", "plans", "approvals", "actions")
        ]
    with get_client(sync_client=True) as client:
        run = client.read_flow_run(run_id)
        runs = [run.id, *(r.id for r in phase_runs(run.id))]
        deadline = time.monotonic() + 30  # logs reach the API in batches
        while True:
            logs = client.read_logs(log_filter=LogFilter(flow_run_id=LogFilterFlowRunId(any_=runs)))
            if any("post-mortem draft published" in log.message for log in logs):
                break
            assert time.monotonic() < deadline, "the run's last logs never reached the API"
            time.sleep(0.5)
    artifacts = run_artifacts(run.id)
    assert any((a.key or "").endswith("-postmortem") for a in artifacts)
    assert logs, "the run's logs should have reached the API"
    everything = "\n".join(
        [
            json.dumps(rows, default=str),
            json.dumps(run.parameters, default=str),
            "\n".join(log.message for log in logs),
            "\n".join(str(a.data) for a in artifacts),
            json.dumps([c.body for c in slack_stub.calls], default=str),
        ]
    )
    assert "orders-db" in everything
    assert secret not in everything
    assert token not in everything


def test_a_run_configured_by_block_names_loads_every_block_from_the_api(
    pool_exhaustion, postgres_target, incident_store, record, slack_stub, slack_workspace, respond
):
    suffix = uuid.uuid4().hex[:8]
    postgres_target.save(f"orders-db-{suffix}")
    incident_store.save(f"incident-store-{suffix}")
    slack_workspace.save(f"incident-slack-{suffix}")
    IncidentPolicyBlock(policy=fast_policy()).save(f"incident-policy-{suffix}")

    state = respond(
        database=f"orders-db-{suffix}",
        store=f"incident-store-{suffix}",
        slack=f"incident-slack-{suffix}",
        policy=f"incident-policy-{suffix}",
        dry_run=True,
    ).join()

    assert state.name == "DryRun", state.message
    [incident] = record.incidents(scenario=SCENARIO)
    assert any("INCIDENT DECLARED" in t and incident["id"] in t for t in slack_stub.texts())
    with get_client(sync_client=True) as client:
        parameters = client.read_flow_run(incident["flow_run_id"]).parameters
    assert parameters["database"] == f"orders-db-{suffix}"


def test_a_missing_block_fails_the_run_before_anything_happens(record, respond):
    state = respond(database="no-such-database-block").join()
    assert state.is_failed()
    assert "PostgresTarget block 'no-such-database-block'" in state.message
    assert record.incidents(scenario=SCENARIO) == []


def test_messages_reach_the_channel_in_order_even_when_the_first_is_held_up(
    record, slack_stub, slack_workspace, respond
):
    slack_stub.rate_limit_next(1, retry_after=1)  # the declaration waits a second
    state = respond(slack=slack_workspace).join()  # no fault: escalated at once

    assert state.name == "Escalated"
    texts = slack_stub.texts()
    assert [t.split("\n")[0] for t in texts] == [
        "🚨 INCIDENT DECLARED - SEV2 🚨",
        f"⏫ ESCALATION - SEV2 {record.incidents()[0]['id']}",
    ]
