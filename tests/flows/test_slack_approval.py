"""The whole way round: the DB-pool scenario asks in the channel, a person clicks Approve
there, the receiver resumes the run, and exactly that plan is applied."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from blocks.store import IncidentStore
from flows.scenarios.db_pool_exhaustion import SCENARIO
from incident.policy import IncidentPolicy
from receiver.settings import ReceiverSettings
from receiver.slack_blocks import APPROVE_ACTION
from sandbox.approver import wait_for_approval_request
from sandbox.slack_stub import SlackStub
from tests.fixtures.receiver import (
    SLACK_SIGNING_SECRET,
    RunningReceiver,
    ScratchDeployment,
    receiver_settings,
    wait_for,
)
from tests.fixtures.slack import SLACK_TEST_TOKEN

pytestmark = pytest.mark.prefect

ANN = "U0ANN"


def test_an_approve_click_on_the_scenarios_own_request_applies_its_plan(
    start_receiver: Callable[[ReceiverSettings], RunningReceiver],
    incident_store: IncidentStore,
    prefect_api_url: str,
    test_deployment: ScratchDeployment,
    slack_stub: SlackStub,
    slack_workspace,
    record,
    respond,
    pool_exhaustion,
) -> None:
    settings = receiver_settings(
        incident_store,
        prefect_api_url,
        test_deployment.name,
        slack={
            "signing_secret": SLACK_SIGNING_SECRET,
            "bot_token": SLACK_TEST_TOKEN,
            "api_base_url": slack_stub.base_url,
        },
        policy=IncidentPolicy(approvers=("ann",), slack_approvers={ANN: "ann"}),
    )
    receiver = start_receiver(settings)
    run = respond(slack=slack_workspace)
    incident_id, _, digest = wait_for_approval_request(record, SCENARIO)
    request = wait_for(
        lambda: next(
            (
                m
                for m in slack_stub.messages()
                if m.get("blocks") and "APPROVAL NEEDED" in m["text"]
            ),
            None,
        ),
        what="the approval request with its buttons",
    )
    [posted] = [c.response for c in slack_stub.calls_to("chat.postMessage") if c.body is request]
    assert pool_exhaustion.alive() >= pool_exhaustion.offending

    status, body = slack_stub.click(
        receiver.url + "/slack/interactivity",
        SLACK_SIGNING_SECRET,
        channel=posted["channel"],
        ts=posted["ts"],
        action_id=APPROVE_ACTION,
        user_id=ANN,
    )

    assert (status, body["status"]) == (200, "accepted"), body
    assert run.join().name == "Resolved"
    [approval] = record.approvals(incident_id)
    assert (approval["decision"], approval["approver"], approval["plan_digest"]) == (
        "approved",
        "ann",
        digest,
    )
    assert not pool_exhaustion.alive() & pool_exhaustion.offending
    assert not pool_exhaustion.untouched()
