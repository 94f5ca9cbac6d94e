"""`respond`: any alert in, the right scenario out — by routing rules in configuration.

The routing rules (`incident.routing`) come from a YAML file or a `RoutingRulesBlock`; the
chosen scenario runs as a subflow with the rule's parameters, and an alert no rule matches
goes to triage. Alert receivers may start a scenario's deployment directly instead (its run
can then be suspended while it waits for approval); `respond` is the one entry a person or
a generic webhook needs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from prefect import flow
from prefect.states import Completed

from blocks.loading import resolve_block
from blocks.policy import IncidentPolicyBlock
from blocks.routing import RoutingRulesBlock
from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.scenarios import SCENARIOS
from incident.models import Alert
from incident.policy import IncidentPolicy
from incident.routing import RoutingRules, load_routes

__all__ = ["respond", "routing_rules"]


def routing_rules(routes: str | RoutingRules) -> RoutingRules:
    """Rules from a YAML path, a block name, or as given; checked against the scenarios."""
    if isinstance(routes, RoutingRules):
        rules = routes
    elif routes.endswith((".yaml", ".yml")) or Path(routes).is_file():
        rules = load_routes(routes)
    else:
        rules = resolve_block(RoutingRulesBlock, routes).rules
    return rules.check(SCENARIOS)


@flow(name="respond", flow_run_name="respond-{alert.name}")
def respond(
    alert: Alert,
    incident_id: str | None = None,
    routes: str | RoutingRules = "routing",
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = "incident-slack",
    policy: str | IncidentPolicyBlock | IncidentPolicy = "incident-policy",
    dry_run: bool = False,
) -> Any:
    """Route ``alert`` to its scenario and run it.

    Args:
        alert: the alert that fired.
        incident_id: the incident the receiver already recorded for this alert group.
        routes: routing rules: a YAML file path or a RoutingRulesBlock name.
        store: IncidentStore block (name) of the incident record.
        slack: SlackWorkspace block (name); None to stay silent.
        policy: IncidentPolicy block (name).
        dry_run: plan and show, change nothing.
    """
    route = routing_rules(routes).route(alert)
    scenario = SCENARIOS[route.scenario]
    state = scenario(
        alert=alert,
        incident_id=incident_id,
        store=store,
        slack=slack,
        policy=policy,
        dry_run=dry_run,
        return_state=True,
        **route.parameters,
    )
    if not state.is_completed():
        return state  # a failed or crashed response fails this run too
    # the run ends as its scenario did: Resolved, Escalated, DryRun
    return Completed(name=state.name, message=state.message, data=state.result())
