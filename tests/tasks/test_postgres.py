"""PostgreSQL diagnostics and the one destructive action, on a real exhausted pool."""

from __future__ import annotations

from datetime import timedelta

import pytest

from incident.errors import ApprovalMismatch
from incident.models import Approval, ApprovalDecision, FindingStatus
from incident.planning import plan_backend_termination
from tasks.destructive import DESTRUCTIVE_ACTIONS
from tasks.postgres import (
    count_connections_by_state,
    list_lock_waits,
    list_long_running_queries,
    measure_connection_headroom,
    terminate_backends,
)

pytestmark = pytest.mark.prefect


def diagnose(target):
    return [
        measure_connection_headroom(target, min_headroom=0.1),
        count_connections_by_state(target),
        list_long_running_queries(target, older_than=timedelta(seconds=1)),
        list_lock_waits(target),
    ]


def approved(plan, approver="alice"):
    return Approval(plan_digest=plan.digest, decision=ApprovalDecision.APPROVED, approver=approver)


def test_headroom_sees_the_role_limit_exhausted_while_the_server_has_room(
    prefect_api, pool_exhaustion, postgres_target
):
    finding = measure_connection_headroom(postgres_target, min_headroom=0.1)
    assert finding.status is FindingStatus.CRITICAL
    scopes = {(s["scope"], s["name"]): s for s in finding.evidence["scopes"]}
    role = scopes[("role", pool_exhaustion.role)]
    assert (role["limit"], role["used"], role["free"]) == (pool_exhaustion.limit,) * 2 + (0,)
    assert scopes[("server", "max_connections")]["free"] > 0
    assert finding.evidence["tightest"]["name"] == pool_exhaustion.role


def test_headroom_is_ok_without_the_fault(prefect_api, postgres_target):
    assert measure_connection_headroom(postgres_target).status is FindingStatus.OK


def test_diagnostics_see_states_long_queries_and_the_lock_tree(
    prefect_api, pool_exhaustion, postgres_target
):
    _, by_state, long_running, locks = diagnose(postgres_target)
    assert by_state.evidence["by_state"]["idle in transaction"] == 3
    assert {b["pid"] for b in long_running.evidence["backends"]} == pool_exhaustion.offending
    [waiter] = locks.evidence["waiting"]
    assert waiter["pid"] == pool_exhaustion.pids["lock_waiter"][0]
    [root] = locks.evidence["roots"]
    assert root["pid"] == pool_exhaustion.pids["idle_in_transaction"][0]
    assert root["blocks"] == [waiter["pid"]]


def test_the_plan_names_every_offender_with_a_reason_and_no_healthy_session(
    prefect_api, pool_exhaustion, postgres_target
):
    plan = plan_backend_termination(
        diagnose(postgres_target), target=postgres_target.label, older_than=timedelta(seconds=1)
    )
    assert {i["pid"] for i in plan.items} == pool_exhaustion.offending
    root = next(i for i in plan.items if i["pid"] == pool_exhaustion.pids["idle_in_transaction"][0])
    assert "blocks 1 backend" in root["reason"]
    assert all(i["reason"] and i["backend_start"] for i in plan.items)


def test_protected_roles_are_never_planned(prefect_api, pool_exhaustion, postgres_target):
    plan = plan_backend_termination(
        diagnose(postgres_target),
        target=postgres_target.label,
        older_than=timedelta(seconds=1),
        protected_roles=[pool_exhaustion.role],
    )
    assert plan.is_empty


def test_termination_refuses_without_an_approval_for_exactly_this_plan(
    prefect_api, pool_exhaustion, postgres_target
):
    plan = plan_backend_termination(
        diagnose(postgres_target), target=postgres_target.label, older_than=timedelta(seconds=1)
    )
    other = plan.model_copy(update={"items": plan.items[:1]})
    rejected = Approval(plan_digest=plan.digest, decision=ApprovalDecision.REJECTED)
    for approval in (None, rejected, approved(other)):
        with pytest.raises(ApprovalMismatch):
            terminate_backends(postgres_target, plan, approval)
    assert pool_exhaustion.offending <= pool_exhaustion.alive()


def test_termination_kills_exactly_the_plan_and_a_repeat_is_a_no_op(
    prefect_api, pool_exhaustion, postgres_target
):
    plan = plan_backend_termination(
        diagnose(postgres_target), target=postgres_target.label, older_than=timedelta(seconds=1)
    )
    first = terminate_backends(postgres_target, plan, approved(plan))
    assert first.status.value == "applied"
    assert pool_exhaustion.alive() == set(pool_exhaustion.pids["healthy"])
    again = terminate_backends(postgres_target, plan, approved(plan))
    assert again.status.value == "noop"
    assert {r["outcome"] for r in again.results} == {"already gone"}


def test_a_reused_pid_with_another_start_time_is_not_touched(
    prefect_api, pool_exhaustion, postgres_target
):
    plan = plan_backend_termination(
        diagnose(postgres_target), target=postgres_target.label, older_than=timedelta(seconds=1)
    )
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
