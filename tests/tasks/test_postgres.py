"""PostgreSQL diagnostics, the pool planner and the one destructive action, on real servers."""

from __future__ import annotations

import secrets
import threading
from datetime import timedelta

import psycopg
import pytest
from prefect import flow
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blocks.postgres import PostgresTarget
from incident.decision import Verdict
from incident.errors import ApprovalMismatch
from incident.models import Approval, ApprovalDecision, FindingStatus
from incident.pool_planning import decide_pool_relief
from tasks.destructive import DESTRUCTIVE_ACTIONS
from tasks.postgres import (
    check_monitoring_privileges,
    count_connections_by_state,
    list_idle_connections,
    list_lock_waits,
    list_long_running_queries,
    measure_connection_headroom,
)
from tasks.postgres_actions import terminate_backends
from tasks.postgres_session import hold
from tests.xdist_groups import SHARED_POSTGRES

pytestmark = [pytest.mark.prefect, pytest.mark.xdist_group(SHARED_POSTGRES)]

THRESHOLD = timedelta(seconds=3)


def diagnose(target):
    return [
        measure_connection_headroom(target, min_headroom=0.1),
        count_connections_by_state(target),
        list_long_running_queries(target, older_than=THRESHOLD),
        list_idle_connections(target, older_than=timedelta(minutes=10)),
        list_lock_waits(target),
        check_monitoring_privileges(target),
    ]


def plan_for(target):
    decision = decide_pool_relief(diagnose(target), target.termination_scope())
    assert decision.verdict is Verdict.MITIGATE, decision.why
    return decision.plans[0], decision


def approved(plan, approver="alice"):
    return Approval(plan_digest=plan.digest, decision=ApprovalDecision.APPROVED, approver=approver)


def test_headroom_sees_the_role_limit_exhausted_while_the_server_has_room(
    prefect_api, postgres_target, pool_exhaustion
):
    finding = measure_connection_headroom(postgres_target, min_headroom=0.1)
    assert finding.status is FindingStatus.CRITICAL
    scopes = {(s["scope"], s["name"]): s for s in finding.evidence["scopes"]}
    role = scopes[("role", pool_exhaustion.role)]
    assert (role["limit"], role["used"], role["free"]) == (pool_exhaustion.limit,) * 2 + (0,)
    assert scopes[("server", "max_connections")]["free"] > 0
    assert finding.evidence["tightest"]["name"] == pool_exhaustion.role


@pytest.fixture
def unrelated_roles(admin_dsn, postgres_target):
    """A role with logins disabled (limit 0) and another at its limit on another database."""
    suffix = secrets.token_hex(3)
    disabled, busy = f"fb_off_{suffix}", f"fb_busy_{suffix}"
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for role, limit in ((disabled, 0), (busy, 1)):
            conn.execute(
                sql.SQL("CREATE ROLE {} LOGIN CONNECTION LIMIT {}").format(
                    sql.Identifier(role), sql.Literal(limit)
                )
            )
    params = conninfo_to_dict(admin_dsn)  # the admin database: not the one diagnosed
    other = psycopg.connect(make_conninfo(**{**params, "user": busy}))
    yield disabled, busy
    other.close()
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        for role in (disabled, busy):
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


def test_headroom_ignores_limits_that_do_not_bind_this_database(
    prefect_api, postgres_target, unrelated_roles
):
    disabled, busy = unrelated_roles
    finding = measure_connection_headroom(postgres_target, min_headroom=0.1)
    assert finding.status is FindingStatus.OK, finding.summary
    names = {s["name"] for s in finding.evidence["scopes"]}
    assert disabled not in names and busy not in names
    # named as the application's roles: the busy one's limit counts, the disabled one never
    postgres_target.application_roles = [busy, disabled]
    counted = measure_connection_headroom(postgres_target, min_headroom=0.1)
    assert counted.status is FindingStatus.CRITICAL and busy in counted.summary
    assert disabled not in {s["name"] for s in counted.evidence["scopes"]}
    assert [s["name"] for s in counted.evidence["ignored"]] == [disabled]


@flow
def assess_together(target: PostgresTarget) -> list:
    """Four checks at once over one held session, as the assess phase runs them."""
    with hold(target):
        futures = [
            count_connections_by_state.submit(target),
            list_lock_waits.submit(target),
            check_monitoring_privileges.submit(target),
            list_long_running_queries.submit(target, older_than=THRESHOLD),
        ]
        return [f.result() for f in futures]


def test_the_checks_of_one_assessment_share_one_connection(prefect_api, postgres_target, admin_dsn):
    seen: list[int] = []
    done = threading.Event()

    def count() -> None:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:  # a fresh snapshot each time
            while not done.is_set():
                seen.append(
                    conn.execute(
                        "SELECT count(*) FROM pg_stat_activity"
                        " WHERE application_name = 'firebreak' AND datname = %s",
                        (postgres_target.identity.rsplit("/", 1)[-1],),
                    ).fetchone()[0]
                )

    watcher = threading.Thread(target=count)
    watcher.start()
    try:
        findings = assess_together(postgres_target)
    finally:
        done.set()
        watcher.join()
    assert all(f.status is not FindingStatus.UNREACHABLE for f in findings)
    assert max(seen) == 1, f"connections seen at once: {max(seen)}"


def test_diagnostics_see_states_long_queries_and_the_lock_tree(
    prefect_api, postgres_target, pool_exhaustion
):
    _, by_state, long_running, _, locks, privileges = diagnose(postgres_target)
    assert (
        by_state.evidence["by_state"]["idle in transaction"] >= pool_exhaustion.idle_in_transaction
    )
    listed = {b["pid"]: b for b in long_running.evidence["backends"]}
    assert pool_exhaustion.offending <= set(listed)
    for kind in ("protected", "superuser"):
        assert listed[pool_exhaustion.pids[kind][0]]["excluded"], kind
    assert not {*pool_exhaustion.pids["young_query"], *pool_exhaustion.pids["healthy"]} & set(
        listed
    )
    assert not set(pool_exhaustion.pids["other_database"]) & set(listed)
    [waiter] = locks.evidence["waiting"]
    assert waiter["pid"] == pool_exhaustion.pids["lock_waiter"][0]
    [root] = locks.evidence["roots"]
    assert root["pid"] == pool_exhaustion.pids["idle_in_transaction"][0]
    assert root["blocks"] == [waiter["pid"]]
    assert privileges.status is FindingStatus.OK


def test_the_plan_names_the_offenders_with_reasons_and_reports_what_it_leaves(
    prefect_api, postgres_target, pool_exhaustion
):
    plan, decision = plan_for(postgres_target)
    assert {i["pid"] for i in plan.items} == pool_exhaustion.offending
    assert plan.target == postgres_target.identity
    root = next(i for i in plan.items if i["pid"] == pool_exhaustion.pids["idle_in_transaction"][0])
    assert "blocks 1 backend" in root["reason"]
    assert all(i["reason"] and i["backend_start"] and i["as_of"] for i in plan.items)
    for kind, why in [
        ("protected", "protected"),
        ("superuser", "superuser"),
        ("lock_waiter", "go on by itself"),
    ]:
        pid = pool_exhaustion.pids[kind][0]
        assert any(f"pid {pid} " in n and why in n for n in decision.notes), (kind, decision.notes)


def test_query_text_is_masked_before_it_reaches_a_finding(
    prefect_api, postgres_target, scratch_database
):
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute("SELECT 'tok-Hunter2-secret' AS token, 1 AS one")
        pid = conn.info.backend_pid
        finding = list_long_running_queries(postgres_target, older_than=timedelta(0))
    [mine] = [b for b in finding.evidence["backends"] if b["pid"] == pid]
    assert "Hunter2" not in str(finding.model_dump()) and "'***'" in mine["query"]


def test_termination_refuses_without_an_approval_for_exactly_this_plan_and_target(
    prefect_api, postgres_target, pool_exhaustion, admin_dsn
):
    plan, _ = plan_for(postgres_target)
    other = plan.model_copy(update={"items": plan.items[:1]})
    rejected = Approval(plan_digest=plan.digest, decision=ApprovalDecision.REJECTED)
    for approval in (None, rejected, approved(other)):
        with pytest.raises(ApprovalMismatch):
            terminate_backends(postgres_target, plan, approval)
    elsewhere = PostgresTarget(dsn=admin_dsn)  # same server, another database
    with pytest.raises(ApprovalMismatch, match="handed"):
        terminate_backends(elsewhere, plan, approved(plan))
    assert pool_exhaustion.offending <= pool_exhaustion.alive()


def test_termination_ends_exactly_the_plan_spares_what_moved_on_and_repeats_as_a_no_op(
    prefect_api, postgres_target, pool_exhaustion
):
    plan, _ = plan_for(postgres_target)
    pool_exhaustion.move_on()
    first = terminate_backends(postgres_target, plan, approved(plan))
    assert first.status.value == "applied"
    outcomes = {r["pid"]: r["outcome"] for r in first.results}
    assert outcomes[pool_exhaustion.pids["moved_on"][0]] == "moved on"
    assert not pool_exhaustion.alive() & pool_exhaustion.offending
    assert not pool_exhaustion.untouched(), pool_exhaustion.untouched()
    again = terminate_backends(postgres_target, plan, approved(plan))
    assert again.status.value == "noop"
    assert {r["outcome"] for r in again.results} == {"already gone", "moved on"}


def test_a_reused_pid_with_another_start_time_is_not_touched(
    prefect_api, postgres_target, pool_exhaustion
):
    plan, _ = plan_for(postgres_target)
    victim = plan.items[0]
    stale = plan.model_copy(
        update={"items": ({**victim, "backend_start": "2000-01-01T00:00:00+00:00"},)}
    )
    action = terminate_backends(postgres_target, stale, approved(stale))
    assert action.status.value == "noop"
    assert victim["pid"] in pool_exhaustion.alive()


def test_every_destructive_action_is_registered_tagged_and_guarded():
    assert "terminate_backends" in DESTRUCTIVE_ACTIONS
    for name, task in DESTRUCTIVE_ACTIONS.items():
        assert "destructive" in task.tags, name
        assert task.name == name
