"""announce(): Block Kit with its plain-text fallback, to the incident's own channel if asked."""

from __future__ import annotations

import pytest
from prefect import flow

from flows.communicate import announce, incident_room
from incident import templates
from incident.policy import IncidentPolicy
from tests.flows import comms_support as engine

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


def test_a_declaration_goes_out_as_block_kit_with_its_text_as_fallback(
    record, slack_stub, slack_workspace
):
    scribe = engine.declare(record)
    policy = IncidentPolicy()
    message = templates.declaration_message(scribe.incident, policy)

    @flow
    def declare_it() -> bool:
        announce(
            scribe,
            slack_workspace,
            policy,
            phase="declare",
            kind="declaration",
            text=message.text,
            blocks=message.blocks,
            channel="#incident-2026-payments",
        )
        return scribe.settle(timeout=60)

    assert declare_it()
    [posted] = slack_stub.messages("#incident-2026-payments")
    assert posted["text"] == message.text
    assert posted["blocks"][0]["text"]["text"] == "🚨 INCIDENT DECLARED - SEV1 🚨"
    assert slack_stub.messages("#incident-response") == []
    done = [e for e in record.timeline(scribe.incident.id) if e.step == "notify:declaration"]
    assert done[-1].status == "completed"
    assert "#incident-2026-payments" in done[-1].message


def test_the_incident_room_is_known_once_the_sweep_opened_it(record):
    scribe = engine.declare(record)
    assert incident_room(scribe) is None

    scribe.event("communicate", "slack:channel", "completed", "opened", channel_id="C0ROOM")

    assert incident_room(scribe) == "C0ROOM"
