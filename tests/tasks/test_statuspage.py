"""The status page through real HTTP to the local Statuspage stub: states, components, outages."""

from __future__ import annotations

import logging

import pytest
from prefect import flow
from pydantic import SecretStr

from blocks.statuspage import StatusPage
from sandbox.statuspage_stub import StatuspageStub
from tasks.statuspage import open_status_incident, set_component_status, update_status_incident
from tests.fixtures.notify_stubs import STATUSPAGE_TEST_KEY

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


def test_an_incident_moves_through_every_state_and_its_component_recovers(
    statuspage_stub: StatuspageStub, status_page: StatusPage
) -> None:
    opened = open_status_incident(
        status_page,
        name="API experiencing issues",
        status="investigating",
        body="We are investigating issues with the API.",
        components={"cmp-api": "major_outage"},
    )
    assert opened.delivered, opened.error
    incident_id = opened.data["id"]
    for status in ("identified", "monitoring"):
        moved = update_status_incident(status_page, incident_id, status=status, body=status)
        assert moved.delivered, moved.error
    done = update_status_incident(
        status_page,
        incident_id,
        status="resolved",
        body="ok",
        components={"cmp-api": "operational"},
    )

    assert done.delivered
    assert statuspage_stub.incident_statuses(incident_id) == [
        "investigating",
        "identified",
        "monitoring",
        "resolved",
    ]
    assert statuspage_stub.component_history["cmp-api"] == ["major_outage", "operational"]
    assert statuspage_stub.component_history["cmp-web"] == []  # never touched
    call = statuspage_stub.calls[0]
    assert call.headers["Authorization"] == f"OAuth {STATUSPAGE_TEST_KEY}"
    assert call.path == "/v1/pages/pg1/incidents"


def test_a_component_status_is_set_on_its_own(
    statuspage_stub: StatuspageStub, status_page: StatusPage
) -> None:
    outcome = set_component_status(status_page, "cmp-api", "degraded_performance")

    assert outcome.delivered
    assert statuspage_stub.components["cmp-api"]["status"] == "degraded_performance"
    assert statuspage_stub.components["cmp-web"]["status"] == "operational"


def test_a_server_error_is_retried_until_delivered(
    statuspage_stub: StatuspageStub, status_page: StatusPage
) -> None:
    statuspage_stub.fail_next(1, status=502)

    outcome = set_component_status(status_page, "cmp-api", "partial_outage")

    assert outcome.delivered and outcome.attempts == 2
    assert [c.fault for c in statuspage_stub.calls] == ["http_502", None]


def test_an_outage_never_raises_into_the_flow(
    statuspage_stub: StatuspageStub, status_page: StatusPage
) -> None:
    statuspage_stub.fail_always(503)

    @flow
    def mitigation() -> tuple[bool, str]:
        outcome = set_component_status(status_page, "cmp-api", "major_outage", max_wait_seconds=1)
        return outcome.delivered, "mitigated"

    assert mitigation() == (False, "mitigated")


def test_a_hanging_status_page_ends_undelivered_within_the_deadline(
    statuspage_stub: StatuspageStub, status_page: StatusPage
) -> None:
    status_page.timeout_seconds = 0.3
    statuspage_stub.hang_next(10, seconds=3)

    outcome = set_component_status.fn(
        status_page, "cmp-api", "major_outage", attempts=10, max_wait_seconds=1
    )

    assert not outcome.delivered
    assert len(statuspage_stub.calls) < 10, "the deadline, not the attempts, ended it"
    assert "did not answer" in outcome.error


def test_a_retry_after_beyond_the_deadline_gives_up_at_once(
    statuspage_stub: StatuspageStub, status_page: StatusPage
) -> None:
    statuspage_stub.rate_limit_next(1, retry_after=60)

    outcome = set_component_status.fn(status_page, "cmp-api", "major_outage", max_wait_seconds=5)

    assert not outcome.delivered and outcome.attempts == 1
    assert "would pass the 5 s deadline" in outcome.error


def test_a_wrong_key_is_not_retried_and_never_shown(
    statuspage_stub: StatuspageStub, status_page: StatusPage, caplog: pytest.LogCaptureFixture
) -> None:
    status_page.api_key = SecretStr("sp-wrong-key-s3cr3t")
    statuspage_stub.api_key = "another-key"

    with caplog.at_level(logging.DEBUG):
        outcome = set_component_status.fn(status_page, "cmp-api", "major_outage")

    assert not outcome.delivered and outcome.attempts == 1
    assert "check the key" in outcome.error
    assert "sp-wrong-key-s3cr3t" not in outcome.model_dump_json()
    assert "sp-wrong-key-s3cr3t" not in caplog.text
    assert "sp-wrong-key-s3cr3t" not in repr(status_page)


def test_an_unknown_component_is_refused_and_nothing_changes(
    statuspage_stub: StatuspageStub, status_page: StatusPage
) -> None:
    outcome = open_status_incident.fn(
        status_page,
        name="x",
        status="investigating",
        body="x",
        components={"cmp-nope": "major_outage"},
    )

    assert not outcome.delivered and outcome.attempts == 1
    assert "cmp-nope" in outcome.error
    assert statuspage_stub.incidents == {}
