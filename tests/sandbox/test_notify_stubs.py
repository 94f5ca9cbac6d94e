"""The status page and PagerDuty stubs answer like the services they stand in for."""

from __future__ import annotations

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from sandbox.pagerduty_stub import PagerDutyStub
from sandbox.slack_stub import SlackStub
from sandbox.statuspage_stub import StatuspageStub
from tests.fixtures.notify_stubs import ONCALL_ROUTING_KEY, STATUSPAGE_TEST_KEY
from tests.fixtures.slack import SLACK_TEST_TOKEN


def test_pagerduty_refuses_an_event_it_would_refuse_and_says_why(
    pagerduty_stub: PagerDutyStub,
) -> None:
    answer = httpx.post(
        f"{pagerduty_stub.base_url}/v2/enqueue",
        json={"routing_key": ONCALL_ROUTING_KEY, "event_action": "trigger", "payload": {}},
    )

    assert answer.status_code == 400
    body = answer.json()
    assert body["status"] == "invalid event"
    assert "'payload.summary' is missing" in body["errors"]
    assert pagerduty_stub.events == []


def test_pagerduty_requires_a_dedup_key_to_acknowledge(pagerduty_stub: PagerDutyStub) -> None:
    answer = httpx.post(
        f"{pagerduty_stub.base_url}/v2/enqueue",
        json={"routing_key": ONCALL_ROUTING_KEY, "event_action": "acknowledge"},
    )

    assert answer.status_code == 400
    assert any("dedup_key" in e for e in answer.json()["errors"])


def test_a_resolved_alert_stays_resolved_until_triggered_again(
    pagerduty_stub: PagerDutyStub,
) -> None:
    def send(action: str) -> None:
        event = {"routing_key": ONCALL_ROUTING_KEY, "event_action": action, "dedup_key": "k"}
        if action == "trigger":
            event["payload"] = {"summary": "s", "source": "t", "severity": "error"}
        assert httpx.post(f"{pagerduty_stub.base_url}/v2/enqueue", json=event).status_code == 202

    send("trigger")
    send("resolve")
    send("acknowledge")
    assert pagerduty_stub.alerts[(ONCALL_ROUTING_KEY, "k")]["status"] == "resolved"
    send("trigger")
    assert pagerduty_stub.alerts[(ONCALL_ROUTING_KEY, "k")]["status"] == "triggered"


@pytest.mark.parametrize(
    ("path", "key", "status"),
    [
        ("/v1/pages/pg1/incidents", "wrong", 401),
        ("/v1/pages/other/incidents", STATUSPAGE_TEST_KEY, 404),
    ],
)
def test_statuspage_checks_the_key_and_the_page(
    statuspage_stub: StatuspageStub, path: str, key: str, status: int
) -> None:
    answer = httpx.post(
        statuspage_stub.base_url + path,
        json={"incident": {"name": "x", "status": "investigating"}},
        headers={"Authorization": f"OAuth {key}"},
    )

    assert answer.status_code == status
    assert statuspage_stub.incidents == {}


def test_statuspage_refuses_a_state_it_does_not_have(statuspage_stub: StatuspageStub) -> None:
    answer = httpx.post(
        f"{statuspage_stub.base_url}/v1/pages/pg1/incidents",
        json={"incident": {"name": "x", "status": "mitigating"}},
        headers={"Authorization": f"OAuth {STATUSPAGE_TEST_KEY}"},
    )

    assert answer.status_code == 422
    assert "mitigating" in answer.json()["error"]


def test_slack_invites_only_known_users_once_and_topics_stay_short(slack_stub: SlackStub) -> None:
    client = WebClient(token=SLACK_TEST_TOKEN, base_url=slack_stub.base_url, retry_handlers=[])
    slack_stub.add_user("jane@example.com", "U0JANE")
    channel = client.conversations_create(name="incident-x")["channel"]["id"]

    assert client.users_lookupByEmail(email="JANE@example.com")["user"]["id"] == "U0JANE"
    client.conversations_invite(channel=channel, users="U0JANE")
    for users, error in (("U0JANE", "already_in_channel"), ("U0NOBODY", "user_not_found")):
        with pytest.raises(SlackApiError) as refused:
            client.conversations_invite(channel=channel, users=users)
        assert refused.value.response["error"] == error
    with pytest.raises(SlackApiError) as refused:
        client.conversations_setTopic(channel=channel, topic="x" * 251)
    assert refused.value.response["error"] == "too_long"
    assert slack_stub.members(channel) == ["U0JANE"]
    assert slack_stub.topic(channel) == ""
