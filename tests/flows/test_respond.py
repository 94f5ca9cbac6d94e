"""`respond`: any alert in, the routed scenario out; an alert no rule explains is triaged
and handed over with its findings, never crashed; bad rules fail when they load."""

from __future__ import annotations

import pytest

from flows.respond import respond, routing_rules
from flows.scenarios.db_pool_exhaustion import SCENARIO
from incident.models import Alert
from incident.routing import RoutingError, load_routes
from sandbox.approver import answer, wait_for_approval_request
from tests.flows.support import fast_policy, pool_alert

pytestmark = pytest.mark.prefect


def rules(**triage):  # type: ignore[no-untyped-def]
    return load_routes(
        {
            "routes": [
                {"alert": "Postgres.*", "labels": {"service": "orders"}, "scenario": SCENARIO},
            ],
            "triage": {"parameters": triage},
        }
    )


def test_a_routed_alert_runs_its_scenario_with_the_rules_parameters(
    background, prefect_api, postgres_target, incident_store, record, pool_exhaustion
):
    routes = rules().model_copy(
        update={
            "routes": (
                rules().routes[0].model_copy(update={"parameters": {"database": postgres_target}}),
            )
        }
    )
    run = background(
        respond,
        alert=pool_alert(),
        routes=routes,
        store=incident_store,
        slack=None,
        policy=fast_policy(),
        return_state=True,
    )
    incident_id, run_id, digest = wait_for_approval_request(record, SCENARIO)
    assert answer(run_id, approve=True, approver="alice", plan_digest=digest).accepted
    state = run.join()
    assert state.name == "Resolved", state.message
    assert record.get_incident(incident_id)["scenario"] == SCENARIO
    assert not pool_exhaustion.alive() & pool_exhaustion.offending


def test_an_alert_no_rule_explains_is_triaged_and_escalated_with_its_findings(
    background, prefect_api, kubernetes_target, incident_store, record
):
    alert = Alert(name="CheckoutLatencyHigh", labels={"service": "checkout"}, severity="SEV3")
    state = background(
        respond,
        alert=alert,
        routes=rules(cluster=kubernetes_target),
        store=incident_store,
        slack=None,
        policy=fast_policy(),
        return_state=True,
    ).join()
    assert state.is_completed() and state.name == "Escalated", state.message
    assert "decision tree says" in state.message
    [incident] = record.incidents()
    assert incident["scenario"] == "triage"
    findings = record.findings(incident["id"])
    assert [f.check for f in findings] == ["deployment_status"]
    steps = {(e.phase, e.step) for e in record.timeline(incident["id"])}
    assert {
        ("investigate", "hypotheses"),
        ("investigate", "evidence"),
        ("mitigate", "escalated"),
    } <= steps


def test_routing_rules_with_an_unknown_scenario_or_a_bad_pattern_fail_at_load(tmp_path):
    with pytest.raises(RoutingError, match="route 1 names scenario 'no-such'"):
        routing_rules(load_routes({"routes": [{"scenario": "no-such"}]}))
    bad = tmp_path / "routes.yaml"
    bad.write_text("routes:\n  - alert: '('\n    scenario: triage\n")
    with pytest.raises(RoutingError, match=str(bad)):
        routing_rules(str(bad))
    bad.write_text("routes:\n  - alert: x\n    scenaro: triage\n")
    with pytest.raises(RoutingError, match="scenaro"):
        load_routes(str(bad))


def test_the_first_matching_route_wins_and_labels_must_match_whole():
    table = load_routes(
        {
            "routes": [
                {"alert": "Postgres.*", "labels": {"service": "orders"}, "scenario": "a"},
                {"alert": "Postgres.*", "scenario": "b"},
            ]
        }
    )
    assert table.route(Alert(name="PostgresDown", labels={"service": "orders"})).scenario == "a"
    assert table.route(Alert(name="PostgresDown", labels={"service": "orders-eu"})).scenario == "b"
    assert table.route(Alert(name="RedisDown")).scenario == "triage"


def test_the_shipped_routing_file_loads_and_names_real_scenarios():
    routing_rules("deployments/respond-routes.yaml")
