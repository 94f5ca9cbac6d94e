"""The blast-radius cap: a plan above it is refused before anyone is asked, or waits for a
second, different approver — checked on a real exhausted PostgreSQL, from pg_stat_activity."""

from __future__ import annotations

import time
from uuid import UUID

import pytest
from prefect.client.orchestration import get_client

from flows.scenarios.db_pool_exhaustion import SCENARIO
from incident.blast_radius import environment_of, judge, radius
from incident.models import Plan
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import fast_policy


def plan(action: str, *items: dict) -> Plan:  # type: ignore[type-arg]
    return Plan(action=action, target="t", reason="r", items=items)


BACKENDS = plan("terminate_backends", *({"pid": n} for n in range(5)))
SCALE_DOWN = plan("scale_workload", {"replicas_now": 10, "replicas_after": 2})
SCALE_UP = plan("scale_workload", {"replicas_now": 2, "replicas_after": 30})


@pytest.mark.parametrize(
    ("subject", "caps", "environment", "over", "size"),
    [
        (BACKENDS, {"terminate_backends": 5}, None, False, 5),
        (BACKENDS, {"terminate_backends": 4}, None, True, 5),
        (BACKENDS, {}, None, False, 5),
        (BACKENDS, {"terminate_backends": 9, "terminate_backends@prod": 2}, "prod", True, 5),
        (BACKENDS, {"terminate_backends": 2, "terminate_backends@staging": 9}, "staging", False, 5),
        (BACKENDS, {"terminate_backends": 2, "terminate_backends@staging": 9}, "prod", True, 5),
        (SCALE_DOWN, {"scale_workload": 7}, None, True, 8),
        (SCALE_UP, {"scale_workload": 7}, None, False, 0),
    ],
)
def test_a_plan_is_measured_in_its_actions_unit_against_the_closest_cap(
    subject: Plan, caps: dict[str, int], environment: str | None, over: bool, size: int
) -> None:
    verdict = judge(subject, caps, environment)
    assert (verdict.over, verdict.size, radius(subject)) == (over, size, size)
    if over:
        assert f"cap of {verdict.cap}" in verdict.why and subject.action in verdict.why


def test_the_environment_comes_from_the_alerts_usual_labels() -> None:
    assert environment_of({"env": "prod", "service": "orders"}) == "prod"
    assert environment_of({"environment": "staging", "env": "prod"}) == "staging"
    assert environment_of({"service": "orders"}) is None


def paused_on(run_id: UUID, suffix: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with get_client(sync_client=True) as client:
            state = client.read_flow_run(run_id).state
        if state and state.is_paused() and str(state.state_details.pause_key).endswith(suffix):
            return
        time.sleep(0.3)
    raise TimeoutError(f"run {run_id} did not pause on a key ending {suffix!r}")


@pytest.mark.prefect
def test_a_plan_above_the_cap_is_refused_and_nothing_is_terminated(
    record, respond, pool_exhaustion
):
    fault = pool_exhaustion
    cap = len(fault.offending) - 1
    run = respond(policy=fast_policy(blast_radius={"terminate_backends": cap}))
    state = run.join()

    assert state.name == "Escalated", state.message
    assert "blast-radius cap" in (state.message or "")
    assert fault.alive() >= fault.offending and not fault.untouched()
    [incident] = record.incidents(scenario=SCENARIO)
    timeline = record.timeline(incident["id"])
    assert any((e.step, e.status) == ("blast-radius", "failed") for e in timeline)
    assert not [e for e in timeline if (e.step, e.status) == ("approval", "started")]
    assert not [a for a in record.actions(incident["id"]) if a["status"] != "dry_run"]


@pytest.mark.prefect
@pytest.mark.parametrize("second", ["alice", "bob"])
def test_above_the_cap_a_second_different_approver_is_needed(
    record, respond, pool_exhaustion, second
):
    fault = pool_exhaustion
    policy = fast_policy(
        blast_radius={"terminate_backends": 1}, blast_radius_over="second_approver"
    )
    run = respond(policy=policy)
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
    assert answer(run_id, approve=True, approver="alice", plan_digest=digest).accepted

    paused_on(run_id, "b")
    assert fault.alive() >= fault.offending, "one approval is not enough above the cap"
    assert answer(run_id, approve=True, approver=second, plan_digest=digest).accepted
    state = run.join()

    applied = [a for a in record.actions(incident_id) if a["status"] != "dry_run"]
    if second == "alice":
        assert state.name == "Escalated", state.message
        assert fault.alive() >= fault.offending and not applied
        decisions = [(a["approver"], a["decision"]) for a in record.approvals(incident_id)]
        assert decisions[-1] == ("alice", "rejected")
    else:
        assert state.name == "Resolved", state.message
        assert not fault.alive() & fault.offending and not fault.untouched()
        assert [a["approver"] for a in applied] == ["bob"]
