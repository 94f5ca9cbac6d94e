"""What makes the DB-pool mitigation safe on a real server: partial failures told exactly,
resolution only after the monitoring window, one mitigation per database at a time."""

from __future__ import annotations

import time
from datetime import timedelta

import psycopg
import pytest
from prefect.client.orchestration import get_client
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blocks.postgres import PostgresTarget
from flows.locks import hold_target, lock_name
from flows.scenarios.db_pool_exhaustion import SCENARIO
from sandbox.approver import answer, wait_for_approval_request
from sandbox.postgres_faults import PoolExhaustion
from tests.fixtures.postgres import dsn_for
from tests.flows.support import artifact_markdown, fast_policy
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]


def wait_for(what: str, check, timeout: float = 90) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@pytest.fixture
def signaller(scratch_database, admin_dsn):
    """A non-superuser role that may read every backend and terminate non-superuser ones."""
    role = "fb_signal_" + scratch_database.rsplit("_", 1)[-1][-8:]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("GRANT pg_read_all_stats, pg_signal_backend TO {}").format(sql.Identifier(role))
        )
    params = conninfo_to_dict(scratch_database)
    params["user"] = role
    yield make_conninfo(**params)
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_a_refused_termination_mid_plan_is_reported_backend_by_backend_and_escalated(
    signaller, record, slack_stub, slack_workspace, respond, pool_exhaustion
):
    fault = pool_exhaustion
    # the block asks for superusers too, but its role may not signal them: one refusal
    target = PostgresTarget(
        dsn=signaller,
        name="orders-db",
        protected_roles=[fault.protected_role],
        include_superusers=True,
    )
    run = respond(database=target, slack=slack_workspace)
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
    [superuser] = fault.pids["superuser"]
    answer(run_id, approve=True, approver="alice", plan_digest=digest)
    state = run.join()

    assert state.name == "Escalated", state.message
    assert superuser in fault.alive() and not fault.alive() & fault.offending
    [action] = [a for a in record.actions(incident_id) if a["status"] != "dry_run"]
    assert action["status"] == "partial"
    order = [r["outcome"] for r in action["results"]]
    refused_at = order.index("refused")
    assert "terminated" in order[:refused_at] and "terminated" in order[refused_at + 1 :]
    outcome = {r["pid"]: r["outcome"] for r in action["results"]}
    assert outcome[superuser] == "refused"
    assert {p for p, o in outcome.items() if o == "terminated"} == fault.offending

    said = {
        "record": next(e.message for e in record.timeline(incident_id) if e.step == "escalated"),
        "channel": next(t for t in slack_stub.texts() if "ESCALATION" in t),
        "post-mortem": artifact_markdown(f"{incident_id.lower()}-postmortem"),
    }
    for where, text in said.items():
        assert f"refused (pid {superuser})" in text, where
        for pid in fault.offending:
            assert str(pid) in text, (where, pid)
    assert slack_stub.texts()[-1].startswith("⏫ ESCALATION"), "not APPROVAL NEEDED, last"


def test_resolution_waits_the_monitoring_window_and_is_withheld_when_a_check_turns_bad(
    record, slack_stub, slack_workspace, respond, pool_exhaustion
):
    fault = pool_exhaustion
    run = respond(
        slack=slack_workspace, policy=fast_policy(monitoring_window=timedelta(seconds=30))
    )
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
    answer(run_id, approve=True, approver="alice", plan_digest=digest)
    wait_for(
        "the monitoring window to start",
        lambda: any(
            (e.step, e.status) == ("monitor", "started") for e in record.timeline(incident_id)
        ),
    )
    assert record.get_incident(incident_id)["resolved_at"] is None
    with psycopg.connect(fault.app_dsn, autocommit=True) as relapse:  # the app misbehaves again
        relapse.execute("BEGIN")
        relapse.execute("SELECT 1")
        state = run.join()

    assert state.name == "Escalated", state.message
    assert "resolution withheld" in state.message and "long_running_queries" in state.message
    incident = record.get_incident(incident_id)
    assert incident["status"] == "escalated" and incident["resolved_at"] is None
    assert not any("INCIDENT RESOLVED" in t for t in slack_stub.texts())
    assert any("MONITORING" in t for t in slack_stub.texts())


@pytest.fixture
def second_pool(admin_dsn):
    """Another database on the same server, exhausted the same way."""
    name = f"fb_t2_{time.monotonic_ns() % 10**8}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    dsn = dsn_for(name)
    with PoolExhaustion(dsn) as fault:
        yield (
            PostgresTarget(dsn=dsn, name="payments-db", protected_roles=[fault.protected_role]),
            fault,
        )
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


def paused(run_id) -> bool:  # type: ignore[no-untyped-def]
    with get_client(sync_client=True) as client:
        return client.read_flow_run(run_id).state.is_paused()


def test_incidents_on_two_databases_wait_for_approval_at_the_same_time(
    second_pool, record, respond, pool_exhaustion
):
    payments, payments_fault = second_pool
    first = respond()
    second = respond(database=payments)
    a_id, a_run, a_digest = wait_for_approval_request(record, SCENARIO)
    _, b_run, b_digest = wait_for_approval_request(record, SCENARIO, ignore={a_id})
    assert paused(a_run) and paused(b_run), "both wait at once; neither queued behind the other"
    answer(a_run, approve=True, approver="alice", plan_digest=a_digest)
    answer(b_run, approve=True, approver="bob", plan_digest=b_digest)
    assert first.join().name == "Resolved" and second.join().name == "Resolved"
    for fault in (pool_exhaustion, payments_fault):
        assert not fault.alive() & fault.offending and not fault.untouched()


def test_a_mitigation_waits_while_another_holds_its_database_and_not_for_other_databases(
    second_pool, postgres_target, record, respond, pool_exhaustion
):
    payments, payments_fault = second_pool
    with hold_target(postgres_target.identity, timeout=timedelta(seconds=5)):  # "another incident"
        orders_run = respond()
        a_id, a_run, a_digest = wait_for_approval_request(record, SCENARIO)
        answer(a_run, approve=True, approver="alice", plan_digest=a_digest)
        wait_for(
            "the orders apply to wait for its database",
            lambda: record.get_incident(a_id)["status"] == "mitigating",
        )
        payments_run = respond(database=payments)
        _, b_run, b_digest = wait_for_approval_request(record, SCENARIO, ignore={a_id})
        answer(b_run, approve=True, approver="bob", plan_digest=b_digest)
        assert payments_run.join().name == "Resolved", "another database is not held up"
        assert not payments_fault.alive() & payments_fault.offending
        assert pool_exhaustion.alive() >= pool_exhaustion.offending, "orders waited its turn"
        assert not any(e.step == "apply" for e in record.timeline(a_id))
    assert orders_run.join().name == "Resolved"
    assert not pool_exhaustion.alive() & pool_exhaustion.offending


def test_two_incidents_on_one_database_apply_one_after_the_other(
    postgres_target, record, respond, pool_exhaustion
):
    runs = [respond(), respond()]
    first = wait_for_approval_request(record, SCENARIO)
    second = wait_for_approval_request(record, SCENARIO, ignore={first[0]})
    for _, run_id, digest in (first, second):
        answer(run_id, approve=True, approver="alice", plan_digest=digest)
    states = [run.join() for run in runs]
    assert {s.name for s in states} <= {"Resolved", "Escalated"}
    spans = []
    for incident_id, _, _ in (first, second):
        apply = [e for e in record.timeline(incident_id) if e.step == "apply"]
        spans.append((apply[0].at, apply[-1].at))
    (_, first_end), (second_start, _) = sorted(spans)
    assert first_end <= second_start, f"applies overlapped: {spans}"
    assert not pool_exhaustion.alive() & pool_exhaustion.offending
    with get_client(sync_client=True) as client:
        limit = client.read_global_concurrency_limit_by_name(lock_name(postgres_target.identity))
    assert limit.limit == 1 and limit.active_slots == 0
