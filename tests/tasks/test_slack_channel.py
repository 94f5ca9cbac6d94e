"""A dedicated incident channel through the real slack_sdk against the Slack stub."""

from __future__ import annotations

from datetime import date

import pytest

from blocks.slack import SlackWorkspace
from sandbox.slack_stub import SlackStub
from tasks.slack_channel import open_incident_channel

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]

DAY = date(2026, 12, 2)


def open_channel(slack: SlackWorkspace, members: list[str], service: str = "Payments"):
    return open_incident_channel(
        slack, day=DAY, service=service, topic="SEV1 payments down | IC <@U0JANE>", members=members
    )


def test_the_channel_is_created_with_its_topic_and_responders(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.add_user("jane@example.com", "U0JANE")
    slack_stub.add_user("john@example.com", "U0JOHN")

    setup = open_channel(slack_workspace, ["jane@example.com", "U0JOHN"])

    assert setup.opened and setup.name == "incident-2026-12-02-payments"
    assert slack_stub.topic("#incident-2026-12-02-payments") == "SEV1 payments down | IC <@U0JANE>"
    assert slack_stub.members(setup.channel_id) == ["U0JANE", "U0JOHN"]
    assert [c.method for c in slack_stub.calls] == [
        "conversations.create",
        "conversations.setTopic",
        "users.lookupByEmail",
        "conversations.invite",
    ]


def test_a_taken_name_gets_the_next_free_suffix(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    first = open_channel(slack_workspace, [])
    second = open_channel(slack_workspace, [])
    third = open_channel(slack_workspace, [])

    assert [first.name, second.name, third.name] == [
        "incident-2026-12-02-payments",
        "incident-2026-12-02-payments-2",
        "incident-2026-12-02-payments-3",
    ]
    assert len({first.channel_id, second.channel_id, third.channel_id}) == 3


def test_one_unknown_responder_does_not_keep_the_others_out(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.add_user("jane@example.com", "U0JANE")

    setup = open_channel(
        slack_workspace, ["U0GHOST", "jane@example.com", "nobody@example.com", "Bob"]
    )

    assert setup.invited == ["U0JANE"]
    assert slack_stub.members(setup.channel_id) == ["U0JANE"]
    assert set(setup.not_invited) == {"U0GHOST", "nobody@example.com", "Bob"}
    assert "not a Slack user id" in setup.not_invited["Bob"]


def test_a_slack_outage_returns_no_channel_and_says_why(
    slack_stub: SlackStub, slack_workspace: SlackWorkspace
) -> None:
    slack_stub.fail_always(503)

    setup = open_incident_channel(
        slack_workspace, day=DAY, service="payments", topic="t", members=[], max_wait_seconds=1
    )

    assert not setup.opened
    assert "HTTP 503" in setup.error
    assert slack_stub.channel_names() == []
