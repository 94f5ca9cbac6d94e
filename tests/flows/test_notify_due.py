"""A whole incident's communication, driven by the sweep from the record alone.

Real slack_sdk against the Slack stub, real HTTP to the status page and PagerDuty stubs,
the real record in PostgreSQL; the sweep is told the time, so a 10 s cadence and a
10/20/30/40 s matrix are walked through without waiting for them.
"""

from __future__ import annotations

import pytest

from flows.notify_due import notify_due
from incident.record import IncidentRecord
from sandbox.pagerduty_stub import PagerDutyStub
from sandbox.slack_stub import SlackStub
from sandbox.statuspage_stub import StatuspageStub
from tasks.pager import dedup_key_for
from tests.fixtures.notify_stubs import LEAD_ROUTING_KEY, ONCALL_ROUTING_KEY
from tests.flows import comms_support as engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


@pytest.fixture
def sweep(incident_store, slack_workspace, status_page, pager, slack_stub):
    """sweep(now, **overrides) runs the notify-due flow once with this test's components."""
    slack_stub.add_user("comms@example.com", "U0COMMS")
    for user in ("U0JANE", "U0JOHN", "U0SCRIBE", "U0RESP"):
        slack_stub.add_user(f"{user.lower()}@example.com", user)
    policy = engine.compressed_policy()

    def run(now, **overrides):
        params = {
            "store": incident_store,
            "slack": slack_workspace,
            "status_page": status_page,
            "pager": pager,
            "policy": policy,
            "now": now,
        }
        params.update(overrides)
        return notify_due(**params)

    return run


def headers(stub: SlackStub, channel: str) -> list[str]:
    return [t.splitlines()[0] for t in stub.texts(channel)]


def test_a_whole_incident_is_communicated_from_the_record_even_while_paused_and_after_a_crash(
    record: IncidentRecord,
    sweep,
    slack_stub: SlackStub,
    statuspage_stub: StatuspageStub,
    pagerduty_stub: PagerDutyStub,
) -> None:
    scribe = engine.declare(record)
    incident_id = scribe.incident.id
    room = f"#incident-{scribe.incident.alert.starts_at:%Y-%m-%d}-payments"

    # declared: the room, its topic, the responders, roles, stakeholders, the page
    sweep(engine.at(scribe, 1))
    assert slack_stub.channel_names().count(room.lstrip("#")) == 1
    assert "Payment processing down | IC <@U0JANE>" in slack_stub.topic(room)
    assert set(slack_stub.members(room)) == {"U0RESP", "U0JANE", "U0JOHN", "U0COMMS", "U0SCRIBE"}
    assert headers(slack_stub, room) == [
        "🚨 INCIDENT DECLARED - SEV1 🚨",
        f"👥 ROLES - SEV1 {incident_id}",
    ]
    roles = slack_stub.texts(room)[1]
    for line in (
        "Incident Commander: <@U0JANE>",
        "Technical Lead: <@U0JOHN>",
        "Communications Lead: comms@example.com",
        "Scribe: <@U0SCRIBE>",
    ):
        assert line in roles
    assert slack_stub.texts("#leadership")[0].startswith("Subject: [SEV1] Production Incident")
    assert (
        "To: engineering, product, support, management" in slack_stub.texts("#incident-response")[0]
    )
    assert pagerduty_stub.actions() == ["trigger"]
    assert statuspage_stub.incidents == {}  # no customer impact confirmed yet

    # 11 s: the first update at the cadence; unacknowledged, so level 1 is paged
    sweep(engine.at(scribe, 11))
    assert headers(slack_stub, room)[2:] == [
        f"⏫ ESCALATION - SEV1 {incident_id}",
        f"⏰ INCIDENT UPDATE - Investigating - SEV1 {incident_id}",
    ]
    assert pagerduty_stub.actions() == ["trigger", "trigger"]  # the same alert, level 1

    # assessed, customer impact confirmed, paused for approval: the sweep carries on
    engine.assess_and_ask(scribe)
    sweep(engine.at(scribe, 22))
    update = slack_stub.texts(room)[-1]
    assert update.startswith(f"⏰ INCIDENT UPDATE - Identified - SEV1 {incident_id}")
    assert "connection pool exhausted: 100 of 100 in use" in update.split("Next Steps:")[0]
    assert "waiting for a person to approve plan abc123" in update
    [page_incident] = statuspage_stub.incidents
    assert statuspage_stub.incident_statuses(page_incident) == ["identified"]
    assert statuspage_stub.components["cmp-api"]["status"] == "major_outage"
    assert statuspage_stub.components["cmp-web"]["status"] == "operational"
    customer = [t for t in slack_stub.texts(room) if t.startswith("Subject: Service Disruption")]
    assert len(customer) == 1 and incident_id in customer[0]

    # the flow dies: updates go on, and say a person must take over
    engine.crash(scribe)
    sweep(engine.at(scribe, 33))
    assert statuspage_stub.incident_statuses(page_incident) == ["identified"]  # not news to them
    update = slack_stub.texts(room)[-1]
    assert update.startswith(f"⏰ INCIDENT UPDATE - Investigating - SEV1 {incident_id}")
    assert "the automated response stopped" in update

    # resolved: the all-clear in the room, the page resolved, the status page too
    engine.resolve(scribe)
    sweep(engine.at(scribe, 44))
    resolution = slack_stub.texts(room)[-2]
    assert resolution.startswith("✅ INCIDENT RESOLVED ✅")
    assert "Root Cause: idle-in-transaction sessions held the pool" in resolution
    assert "Fix Applied: terminated 6 idle sessions" in resolution
    assert slack_stub.texts(room)[-1].startswith(
        f"Subject: Service Restored - Incident {incident_id}"
    )
    assert statuspage_stub.incident_statuses(page_incident) == ["identified", "resolved"]
    assert statuspage_stub.components["cmp-api"]["status"] == "operational"
    assert statuspage_stub.components["cmp-web"]["status"] == "operational"
    key = dedup_key_for(incident_id)
    assert pagerduty_stub.dedup_keys() == {key}
    assert pagerduty_stub.alerts[(ONCALL_ROUTING_KEY, key)]["status"] == "resolved"
    assert pagerduty_stub.alerts[(LEAD_ROUTING_KEY, key)]["status"] == "resolved"

    updates = [t for t in slack_stub.texts(room) if t.startswith("⏰ INCIDENT UPDATE")]
    escalations = [t for t in slack_stub.texts(room) if t.startswith("⏫ ESCALATION")]
    assert len(updates) == 3  # 11 s, 22 s, 33 s: one per cadence, none after resolution
    assert [e.split("Escalated to: ")[1].split("\n")[0] for e in escalations] == [
        "On-call engineer (level 1)",
        "DevOps Lead (level 2)",
        "Engineering Manager (level 3)",
    ]

    # a sweep with nothing due sends nothing
    calls = (len(slack_stub.calls), len(statuspage_stub.calls), len(pagerduty_stub.calls))
    assert sweep(engine.at(scribe, 45)) == {incident_id: []}
    assert (len(slack_stub.calls), len(statuspage_stub.calls), len(pagerduty_stub.calls)) == calls
