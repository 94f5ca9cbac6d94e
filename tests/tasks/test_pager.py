"""PagerDuty Events API v2 through real HTTP to the local stub: one dedup key, outages survived."""

from __future__ import annotations

import logging

import pytest
from prefect import flow
from pydantic import SecretStr

from blocks.pager import PagerDutyService
from incident.severity import Severity
from sandbox.pagerduty_stub import PagerDutyStub
from tasks.pager import dedup_key_for, send_page_event
from tests.fixtures.notify_stubs import LEAD_ROUTING_KEY, ONCALL_ROUTING_KEY

pytestmark = [pytest.mark.prefect, pytest.mark.usefixtures("prefect_api")]


def test_trigger_acknowledge_resolve_share_one_dedup_key(
    pagerduty_stub: PagerDutyStub, pager: PagerDutyService
) -> None:
    key = dedup_key_for("INC-20261202-abc123")

    for action in ("trigger", "acknowledge", "resolve"):
        outcome = send_page_event(
            pager, action, dedup_key=key, summary="[SEV1] payments down", severity=Severity.CRITICAL
        )
        assert outcome.delivered, outcome.error
        assert outcome.data["dedup_key"] == key

    assert pagerduty_stub.actions() == ["trigger", "acknowledge", "resolve"]
    assert pagerduty_stub.dedup_keys() == {key}
    alert = pagerduty_stub.alerts[(ONCALL_ROUTING_KEY, key)]
    assert alert["status"] == "resolved"
    assert pagerduty_stub.events[0]["payload"]["severity"] == "critical"


def test_an_escalation_contact_is_paged_on_its_own_service_with_the_same_key(
    pagerduty_stub: PagerDutyStub, pager: PagerDutyService
) -> None:
    key = dedup_key_for("INC-1")
    send_page_event(pager, "trigger", dedup_key=key, summary="s")
    send_page_event(pager, "trigger", dedup_key=key, summary="s", contact="DevOps Lead")
    send_page_event(pager, "trigger", dedup_key=key, summary="s", contact="Engineering Manager")

    routed = [e["routing_key"] for e in pagerduty_stub.events]
    assert routed == [ONCALL_ROUTING_KEY, LEAD_ROUTING_KEY, ONCALL_ROUTING_KEY]
    assert pagerduty_stub.dedup_keys() == {key}
    assert pagerduty_stub.events[2]["payload"]["custom_details"]["contact"] == "Engineering Manager"


def test_a_rate_limit_is_waited_out_then_delivered(
    pagerduty_stub: PagerDutyStub, pager: PagerDutyService
) -> None:
    pagerduty_stub.rate_limit_next(1, retry_after=1)

    outcome = send_page_event.fn(pager, "trigger", dedup_key="k", summary="s")

    assert outcome.delivered and outcome.attempts == 2
    first, second = pagerduty_stub.calls
    assert second.received_at - first.received_at >= 0.95


def test_a_refused_routing_key_is_not_retried_and_never_shown(
    pagerduty_stub: PagerDutyStub, pager: PagerDutyService, caplog: pytest.LogCaptureFixture
) -> None:
    pager.routing_key = SecretStr("R0REVOKED00000000000000s3cr3t99")

    with caplog.at_level(logging.DEBUG):
        outcome = send_page_event.fn(pager, "trigger", dedup_key="k", summary="s")

    assert not outcome.delivered and outcome.attempts == 1
    assert "HTTP 400" in outcome.error and "routing_key" in outcome.error
    assert "R0REVOKED00000000000000s3cr3t99" not in outcome.model_dump_json()
    assert "R0REVOKED00000000000000s3cr3t99" not in caplog.text
    assert "s3cr3t" not in repr(pager)


def test_a_pagerduty_outage_never_fails_the_flow_that_pages(
    pagerduty_stub: PagerDutyStub, pager: PagerDutyService
) -> None:
    pagerduty_stub.fail_always(503)

    @flow
    def mitigation() -> tuple[bool, str]:
        paged = send_page_event(pager, "trigger", dedup_key="k", summary="s", max_wait_seconds=1)
        return paged.delivered, "mitigated"

    assert mitigation() == (False, "mitigated")
    assert pagerduty_stub.alerts == {}


def test_an_unreachable_pagerduty_says_what_to_check(pager: PagerDutyService) -> None:
    with PagerDutyStub(ONCALL_ROUTING_KEY) as gone:
        pager.events_url = gone.base_url

    outcome = send_page_event.fn(pager, "trigger", dedup_key="k", summary="s", attempts=2)

    assert not outcome.delivered and outcome.attempts == 2
    assert "could not reach PagerDuty" in outcome.error
