"""Approvals that escalate instead of expiring, on the real DB-pool scenario's paused run.

The approval step waits once for `approval_window` (one ``approval_timeout`` per level of
runbook 002's matrix); the sweep (`flows.notify_due`) re-sends the request to each level as
its turn comes while the run keeps waiting; an answer at the second level is applied; with
no answer at any level the request expires and nothing is applied.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from prefect.client.orchestration import get_client

from flows.notify_due import notify_due
from flows.scenarios.db_pool_exhaustion import SCENARIO
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import fast_policy

pytestmark = pytest.mark.prefect


def asked_at(record, incident_id: str):  # type: ignore[no-untyped-def]
    return next(
        e.at
        for e in record.timeline(incident_id)
        if (e.phase, e.step, e.status) == ("mitigate", "approval", "started")
    )


def sweep(incident_store, slack_workspace, policy, now) -> None:  # type: ignore[no-untyped-def]
    notify_due(
        store=incident_store,
        slack=slack_workspace,
        status_page=None,
        pager=None,
        policy=policy,
        now=now,
    )


def resent_to(slack_stub) -> list[str]:  # type: ignore[no-untyped-def]
    """Who each re-sent request (level 2 and up) asked, in order."""
    return [
        t.split("Asking: ")[1].split(" (")[0]
        for t in slack_stub.texts()
        if t.startswith("⏸ APPROVAL NEEDED") and "nobody answered before" in t
    ]


def test_an_answer_at_the_second_level_is_applied(
    record, incident_store, slack_stub, slack_workspace, respond, pool_exhaustion
):
    policy = fast_policy(approval_timeout=timedelta(seconds=20))
    run = respond(slack=slack_workspace, policy=policy)
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)

    sweep(
        incident_store,
        slack_workspace,
        policy,
        asked_at(record, incident_id) + timedelta(seconds=21),
    )

    assert resent_to(slack_stub) == ["DevOps Lead"]
    with get_client(sync_client=True) as client:
        assert client.read_flow_run(run_id).state.is_paused(), "the run kept waiting"
    assert pool_exhaustion.alive() >= pool_exhaustion.offending
    assert answer(run_id, approve=True, approver="devops-lead", plan_digest=digest).accepted
    assert run.join().name == "Resolved"
    [approval] = record.approvals(incident_id)
    assert (approval["decision"], approval["approver"]) == ("approved", "devops-lead")
    assert not pool_exhaustion.alive() & pool_exhaustion.offending


def test_with_no_answer_the_request_climbs_every_level_then_expires_unapplied(
    record, incident_store, slack_stub, slack_workspace, respond, pool_exhaustion
):
    policy = fast_policy(approval_timeout=timedelta(seconds=4))  # SEV2: 3 levels, 12 s in all
    before = pool_exhaustion.alive()
    run = respond(slack=slack_workspace, policy=policy)
    incident_id, _, _ = wait_for_approval_request(record, SCENARIO)
    asked = asked_at(record, incident_id)
    for seconds in (5, 9):
        sweep(incident_store, slack_workspace, policy, asked + timedelta(seconds=seconds))

    state = run.join()
    assert state.name == "Escalated" and "approval timed out" in state.message
    assert resent_to(slack_stub) == ["DevOps Lead", "Engineering Manager"]
    [approval] = record.approvals(incident_id)
    assert approval["decision"] == "timed_out"
    assert pool_exhaustion.alive() == before
