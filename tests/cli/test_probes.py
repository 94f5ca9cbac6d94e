"""``doctor``'s probes for the HTTP, Prometheus, status page, pager and routing blocks: each
reaches its real (local) server, names what is wrong, and never prints a secret; the pager's
probe pages nobody."""

from __future__ import annotations

import json

from pydantic import SecretStr

from blocks import HttpEndpoint, PrometheusTarget, RoutingRulesBlock, StatusPage
from firebreak_cli.probes import run_probe
from incident.routing import load_routes

TOKEN = "tok-never-printed-5b1e"


def test_an_http_endpoint_is_ok_at_its_expected_status_and_fails_naming_the_answer(http_stub):
    healthy = HttpEndpoint(url=http_stub.reply("/readyz"), bearer_token=TOKEN)
    failing = HttpEndpoint(url=http_stub.reply("/down", status=503), bearer_token=TOKEN)

    good, bad = run_probe(healthy), run_probe(failing)

    assert good.ok and "HTTP 200" in good.detail
    assert not bad.ok and "HTTP 503" in bad.detail and bad.system == failing.url
    sent = [{k.lower(): v for k, v in r.items()}.get("authorization") for r in http_stub.requests]
    assert sent == [f"Bearer {TOKEN}"] * 2
    assert TOKEN not in f"{good} {bad}"


def test_prometheus_answers_its_build_info_and_a_wrong_base_url_is_named(http_stub):
    info = {"status": "success", "data": {"version": "2.42.0"}}
    http_stub.reply(
        "/api/v1/status/buildinfo", body=json.dumps(info), content_type="application/json"
    )
    right = PrometheusTarget(url=http_stub.url("/"), bearer_token=TOKEN)
    wrong = PrometheusTarget(url=http_stub.url("/api/v1"), bearer_token=TOKEN)

    good, bad = run_probe(right), run_probe(wrong)

    assert good.ok and "2.42.0" in good.detail
    assert not bad.ok and "without /api/v1" in bad.detail
    assert TOKEN not in f"{good} {bad}"


def test_a_status_page_probe_reads_the_page_and_refuses_a_wrong_key_without_printing_it(
    status_page, statuspage_stub
):
    wrong = status_page.model_copy(update={"api_key": SecretStr("wrong-key-never-printed")})
    missing = status_page.model_copy(update={"page_id": "nope"})

    good, refused, absent = run_probe(status_page), run_probe(wrong), run_probe(missing)

    assert good.ok and "2 component(s)" in good.detail
    assert not refused.ok and "API key" in refused.detail
    assert not absent.ok and "'nope'" in absent.detail
    assert "wrong-key-never-printed" not in str(refused)
    assert not statuspage_stub.incidents, "a probe opens no incident"


def test_the_pager_probe_pages_nobody_and_says_so(pager, pagerduty_stub):
    result = run_probe(pager)

    assert result.ok and "not sent" in result.detail
    assert pagerduty_stub.events == []
    assert pager.routing_key.get_secret_value() not in str(result)


def test_the_shipped_routing_rules_probe_as_valid():
    block = RoutingRulesBlock(rules=load_routes("deployments/respond-routes.yaml"))
    result = run_probe(block)
    assert result.ok and f"{len(block.rules.routes)} route(s)" in result.detail


def test_a_probe_of_an_unreachable_status_page_is_a_finding_not_a_crash():
    page = StatusPage(api_key=TOKEN, page_id="pg1", api_base_url="http://127.0.0.1:9/")
    result = run_probe(page)
    assert not result.ok and TOKEN not in str(result)
