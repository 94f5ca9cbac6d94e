"""HTTP health/readiness checks against a local server that answers as each test says."""

from __future__ import annotations

import pytest

from blocks.http import HttpEndpoint
from incident.models import FindingStatus
from tasks.http_checks import check_http_endpoint

pytestmark = pytest.mark.prefect

TOKEN = "Hunter2-bearer-token"


def quick(check):
    """The real check, with retries that do not wait (the backoff is policy, not behaviour)."""
    return check.with_options(retry_delay_seconds=0)


def test_a_fast_expected_answer_is_ok_and_sends_the_token(prefect_api, http_stub):
    url = http_stub.reply("/health", status=200, body='{"status":"up"}')
    target = HttpEndpoint(url=url, name="checkout-api", bearer_token=TOKEN)
    finding = check_http_endpoint(target, slow_after_seconds=2.0)
    assert finding.status is FindingStatus.OK
    assert finding.target == "checkout-api"
    assert finding.evidence["http_status"] == 200
    assert finding.evidence["latency_seconds"] < 2.0
    assert http_stub.requests[-1]["Authorization"] == f"Bearer {TOKEN}"


def test_an_expected_answer_slower_than_the_threshold_is_a_warning(prefect_api, http_stub):
    url = http_stub.reply("/readyz", status=204, body="", delay=0.4)
    finding = check_http_endpoint(HttpEndpoint(url=url), slow_after_seconds=0.2)
    assert finding.status is FindingStatus.WARNING
    assert "slower than the 0.2 s threshold" in finding.summary
    assert finding.evidence["latency_seconds"] >= 0.4


def test_a_503_from_readiness_is_critical_with_the_status_and_body(prefect_api, http_stub):
    url = http_stub.reply("/readyz", status=503, body="database: connection refused")
    finding = check_http_endpoint(HttpEndpoint(url=url, name="orders"))
    assert finding.status is FindingStatus.CRITICAL
    assert finding.summary.startswith("orders answered HTTP 503 instead of a 2xx")
    assert finding.evidence["body"] == "database: connection refused"


def test_a_status_other_than_the_expected_one_is_critical(prefect_api, http_stub):
    url = http_stub.reply("/health", status=200)
    finding = check_http_endpoint(HttpEndpoint(url=url, expected_status=204))
    assert finding.status is FindingStatus.CRITICAL
    assert "instead of 204" in finding.summary


def test_a_healthy_dependency_beside_a_failing_one_is_not_flagged(prefect_api, http_stub):
    healthy = http_stub.reply("/payments/status", status=200)
    failing = http_stub.reply("/geo/status", status=500, body="upstream error")
    ok = check_http_endpoint(HttpEndpoint(url=healthy, name="payments-provider"))
    bad = check_http_endpoint(HttpEndpoint(url=failing, name="geo-provider"))
    assert (ok.status, bad.status) == (FindingStatus.OK, FindingStatus.CRITICAL)


def test_a_closed_port_is_unreachable_after_retries_without_the_token(prefect_api, closed_port):
    target = HttpEndpoint(url=f"http://127.0.0.1:{closed_port}/health", bearer_token=TOKEN)
    finding = quick(check_http_endpoint)(target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert "unreachable" in finding.summary and "HttpEndpoint block" in finding.summary
    assert finding.evidence["attempts"] == 4 and finding.evidence["transient"] is True
    assert TOKEN not in finding.model_dump_json()


def test_an_endpoint_that_never_answers_times_out_as_unreachable(prefect_api, http_stub):
    url = http_stub.reply("/health", hang=True)
    target = HttpEndpoint(url=url, timeout_seconds=0.3, bearer_token=TOKEN)
    finding = quick(check_http_endpoint)(target)
    assert finding.status is FindingStatus.UNREACHABLE
    assert "did not answer within 0.3 s" in finding.summary
    assert TOKEN not in finding.model_dump_json()


def test_a_refused_credential_is_unreachable_at_once_with_what_to_fix(prefect_api, http_stub):
    url = http_stub.reply("/health", status=401, body=f"bad token {TOKEN}")
    finding = quick(check_http_endpoint)(HttpEndpoint(url=url, bearer_token=TOKEN))
    assert finding.status is FindingStatus.UNREACHABLE
    assert "check the token in its HttpEndpoint block" in finding.summary
    assert finding.evidence["attempts"] == 1 and finding.evidence["http_status"] == 401
    assert TOKEN not in finding.model_dump_json()


def test_a_malformed_url_is_a_permanent_configuration_error(prefect_api):
    finding = quick(check_http_endpoint)(HttpEndpoint(url="htp:/nowhere"))
    assert finding.status is FindingStatus.UNREACHABLE
    assert finding.evidence["transient"] is False and finding.evidence["attempts"] == 1
