"""Approve / Reject from the incident channel: a signed click resumes the run, or says why not.

The run under test pauses exactly as the scenario flows do (``pause_key(plan digest)`` with
the ``ApprovalInput`` form); the approval request is posted through the real ``slack_sdk``
to the Slack stub with ``approval_request_blocks``, and the stub clicks its buttons as
Slack would, signed with the app's signing secret.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from prefect import flow
from prefect.client.orchestration import get_client
from prefect.client.schemas.filters import FlowRunFilter, FlowRunFilterName
from prefect.flow_runs import pause_flow_run
from slack_sdk import WebClient

from blocks.store import IncidentStore
from flows.answer import ApprovalInput, awaited_plan, pause_key
from incident.models import Alert, Incident, TimelineEvent
from incident.policy import IncidentPolicy
from incident.record import IncidentRecord
from receiver.settings import ReceiverSettings
from receiver.slack_blocks import APPROVE_ACTION, REJECT_ACTION, approval_request_blocks
from sandbox.slack_stub import SlackStub
from tests.fixtures.prefect_api import Background
from tests.fixtures.receiver import (
    SLACK_SIGNING_SECRET,
    RunningReceiver,
    ScratchDeployment,
    receiver_settings,
    wait_for,
)
from tests.fixtures.slack import SLACK_TEST_TOKEN

CHANNEL = "#incident-response"
ANN, BOB, EVE = "U0ANN", "U0BOB", "U0EVE"  # ann may approve; bob is mapped, not allowed


@flow(name="receiver-test-approval")
def paused_for_approval(digest: str, store: IncidentStore, incident_id: str) -> str:
    """Pauses as a scenario's approval step does, then records what it was told."""
    answer = pause_flow_run(
        wait_for_input=ApprovalInput, key=pause_key(digest), timeout=120, poll_interval=1
    )
    record = store.open()
    try:
        record.append(
            TimelineEvent(
                incident_id=incident_id,
                phase="mitigate",
                step="approval",
                status="completed",
                message=f"{answer.decision.value} by {answer.approver}",
            )
        )
    finally:
        record.close()
    return f"{answer.decision.value}:{answer.approver}"


class Approval:
    """One incident waiting on one plan, its request in the channel, and the receiver."""

    def __init__(
        self,
        receiver: RunningReceiver,
        stub: SlackStub,
        record: IncidentRecord,
        store: IncidentStore,
        background: type[Background],
    ) -> None:
        self.receiver, self.stub, self.record = receiver, stub, record
        self.digest = secrets.token_hex(8)
        self.incident = record.open_incident(
            Incident(title="pool exhausted", severity="SEV2", scenario="t", alert=Alert(name="x"))
        ).id
        name = f"approval-{self.digest}"
        self.run = background(
            paused_for_approval.with_options(flow_run_name=name),
            digest=self.digest,
            store=store,
            incident_id=self.incident,
        )
        self.run_id = wait_for(lambda: self._paused(name), timeout=120, what="the paused run")
        self.ts = self.request(self.digest)

    def _paused(self, name: str) -> UUID | None:
        with get_client(sync_client=True) as client:
            runs = client.read_flow_runs(
                flow_run_filter=FlowRunFilter(name=FlowRunFilterName(any_=[name]))
            )
        return runs[0].id if runs and awaited_plan(runs[0].state) else None

    def request(self, digest: str, *, requested_by: str | None = None) -> str:
        """Post an approval request for ``digest`` the way the approval step will."""
        blocks = approval_request_blocks(
            self.incident,
            digest,
            self.run_id,
            summary="Terminate 3 backends on orders-db",
            deadline=datetime.now(UTC) + timedelta(minutes=10),
            requested_by=requested_by,
        )
        client = WebClient(token=SLACK_TEST_TOKEN, base_url=self.stub.base_url)
        return str(
            client.chat_postMessage(channel=CHANNEL, text="APPROVAL NEEDED", blocks=blocks)["ts"]
        )

    def click(self, user: str, action: str = APPROVE_ACTION, **kwargs: object) -> tuple[int, dict]:
        secret = str(kwargs.pop("secret", SLACK_SIGNING_SECRET))
        ts = str(kwargs.pop("ts", self.ts))
        return self.stub.click(
            self.receiver.url + "/slack/interactivity",
            secret,
            channel=CHANNEL,
            ts=ts,
            action_id=action,
            user_id=user,
            **kwargs,  # type: ignore[arg-type]
        )

    def still_waiting(self) -> bool:
        with get_client(sync_client=True) as client:
            return awaited_plan(client.read_flow_run(self.run_id).state) == self.digest

    def told(self, user: str) -> list[str]:
        return [m["text"] for m in self.stub.ephemerals(user)]

    def message_text(self, ts: str | None = None) -> str:
        message = self.stub.message(CHANNEL, ts or self.ts)
        assert message is not None
        return str(message["text"])


@pytest.fixture
def approval_for(
    start_receiver: Callable[[ReceiverSettings], RunningReceiver],
    incident_store: IncidentStore,
    prefect_api_url: str,
    test_deployment: ScratchDeployment,
    slack_stub: SlackStub,
    record: IncidentRecord,
    background: type[Background],
) -> Callable[..., Approval]:
    def make(**policy: object) -> Approval:
        settings = receiver_settings(
            incident_store,
            prefect_api_url,
            test_deployment.name,
            slack={
                "signing_secret": SLACK_SIGNING_SECRET,
                "bot_token": SLACK_TEST_TOKEN,
                "api_base_url": slack_stub.base_url,
            },
            policy=IncidentPolicy(
                approvers=("ann",), slack_approvers={ANN: "ann", BOB: "bob"}, **policy
            ),
        )
        return Approval(start_receiver(settings), slack_stub, record, incident_store, background)

    return make


def test_an_approve_click_by_an_allowed_approver_resumes_the_run_with_that_approver(
    approval_for: Callable[..., Approval],
) -> None:
    approval = approval_for()
    resent = approval.request(approval.digest)  # the same request again (an escalation)

    status, body = approval.click(ANN)

    assert (status, body["status"]) == (200, "accepted")
    assert approval.run.join(timeout=120) == "approve:ann"
    steps = wait_for(
        lambda: [
            e for e in approval.record.timeline(approval.incident) if e.step.startswith("approval")
        ],
        what="the click and the decision in the timeline",
    )
    assert {e.step for e in steps} >= {"approval-click", "approval"}
    wait_for(lambda: "Approved* by ann" in approval.message_text(), what="the message updated")
    assert "actions" not in [
        b["type"] for b in approval.stub.message(CHANNEL, approval.ts)["blocks"]
    ]

    late_status, late = approval.click(ANN, ts=resent)  # the run has already resumed

    assert (late_status, late["status"]) == (200, "not_paused")
    wait_for(lambda: approval.told(ANN), what="the late clicker answered")
    assert "not waiting for an approval" in approval.told(ANN)[0]
    wait_for(lambda: "No longer waiting" in approval.message_text(resent), what="resent updated")


def test_clicks_that_must_not_count_change_nothing_and_are_answered(
    approval_for: Callable[..., Approval],
) -> None:
    approval = approval_for()
    stale_request = approval.request(secrets.token_hex(8))  # a plan the run no longer waits on

    outsider = approval.click(BOB)
    unmapped = approval.click(EVE)
    forged = approval.click(ANN, secret="not-the-signing-secret")
    replayed = approval.click(ANN, timestamp=int(time.time()) - 600)
    other_plan = approval.click(ANN, ts=stale_request)

    assert [outsider[0], unmapped[0], other_plan[0]] == [200, 200, 200]
    assert (outsider[1]["status"], unmapped[1]["status"], other_plan[1]["status"]) == (
        "not_allowed",
        "not_allowed",
        "other_plan",
    )
    assert (forged[0], forged[1]["error"]) == (401, "unauthenticated")
    assert (replayed[0], replayed[1]["error"]) == (401, "stale_timestamp")
    wait_for(lambda: approval.told(BOB) and approval.told(EVE), what="both answered")
    assert "bob is not on the incident policy's approver list" in approval.told(BOB)[0]
    assert "not mapped to an approver" in approval.told(EVE)[0]
    wait_for(lambda: "Superseded" in approval.message_text(stale_request), what="old request")
    assert "now waits on plan" in approval.told(ANN)[0]
    assert approval.still_waiting()
    assert approval.message_text() == "APPROVAL NEEDED"  # the live request is untouched

    status, body = approval.click(ANN, REJECT_ACTION)

    assert (status, body["status"]) == (200, "accepted")
    assert approval.run.join(timeout=120) == "reject:ann"


def test_the_requester_cannot_approve_their_own_action_when_the_policy_asks_for_four_eyes(
    approval_for: Callable[..., Approval],
) -> None:
    approval = approval_for(approver_must_not_be_requester=True)
    own = approval.request(approval.digest, requested_by="ann")

    status, body = approval.click(ANN, ts=own)

    assert (status, body["status"]) == (200, "not_allowed")
    assert "ann requested this action" in body["message"]
    assert approval.still_waiting()
    assert approval.click(ANN)[1]["status"] == "accepted"  # the request nobody asked for
    assert approval.run.join(timeout=120) == "approve:ann"
