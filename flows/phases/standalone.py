"""Phases that run on their own for an existing incident: assess again, redraft the post-mortem.

An on-call engineer wants a fresh look after a manual fix, or a post-mortem redrafted after
the record was annotated — long after the incident's own run is gone. The record knows the
incident's scenario and its targets by block name, which is all these need.
"""

from __future__ import annotations

from typing import Any

from prefect import flow

from blocks.slack import SlackWorkspace
from blocks.store import IncidentStore
from flows.phases.assess import assess
from flows.phases.declare import incident_from_row
from flows.phases.post_incident import post_incident
from flows.response import Response
from flows.scenario import Setting
from flows.scenarios import SCENARIO_DEFINITIONS
from incident.errors import PermanentError
from incident.models import Finding
from incident.policy import IncidentPolicy

__all__ = ["reassess", "redraft_postmortem"]


def _response(incident_id: str, setting: Setting) -> tuple[Response, dict[str, Any]]:
    record = setting.store.open()
    row = record.get_incident(incident_id)
    return Response(record, incident_from_row(row), setting.policy, setting.slack), row


@flow(name="reassess", flow_run_name="reassess-{incident_id}")
def reassess(
    incident_id: str,
    store: str | IncidentStore = "incident-store",
    slack: str | SlackWorkspace | None = None,
    policy: str | IncidentPolicy = "incident-policy",
) -> list[Finding]:
    """Run the incident's scenario checks again now; the findings join its record.

    Args:
        incident_id: the incident, e.g. INC-20261202-1a2b3c.
        store: IncidentStore block (name) of the incident record.
        slack: SlackWorkspace block (name) to tell the channel; empty: stay silent.
        policy: IncidentPolicy block (name).
    """
    response, row = _response(incident_id, Setting.resolve(store, slack, policy, False))
    scenario = SCENARIO_DEFINITIONS.get(row["scenario"])
    if scenario is None:
        raise PermanentError(
            f"{incident_id} was a {row['scenario']!r} incident, a scenario this "
            f"Firebreak does not have: use one of {sorted(SCENARIO_DEFINITIONS)}"
        )
    if not row["parameters"]:
        raise PermanentError(
            f"{incident_id}'s targets were given as blocks, not by name, so they cannot be found "
            "again: run the scenario's checks with its targets instead"
        )
    targets = scenario.targets(row["parameters"])
    try:
        return assess(
            response,
            scenario.checks(targets, response.policy),
            skipped=scenario.skipped(targets),
            phase="reassess",
        )
    finally:
        response.settle(30)
        response.record.close()


def _root_cause(response: Response) -> str:
    for event in reversed(response.record.timeline(response.id)):
        if event.step == "resolved" and event.data.get("root_cause"):
            return str(event.data["root_cause"])
        if event.step == "escalated":
            return event.message
    return "not established"


@flow(name="redraft-postmortem", flow_run_name="redraft-postmortem-{incident_id}")
def redraft_postmortem(
    incident_id: str,
    store: str | IncidentStore = "incident-store",
    policy: str | IncidentPolicy = "incident-policy",
) -> str:
    """Draft the post-mortem again from the record as it stands now (artifacts replaced).

    Args:
        incident_id: the incident, e.g. INC-20261202-1a2b3c.
        store: IncidentStore block (name) of the incident record.
        policy: IncidentPolicy block (name).
    """
    response, row = _response(incident_id, Setting.resolve(store, None, policy, False))
    scenario = SCENARIO_DEFINITIONS.get(row["scenario"])
    follow_ups = list(scenario.follow_ups) if scenario else []
    try:
        return post_incident(response, root_cause=_root_cause(response), follow_ups=follow_ups)
    finally:
        response.record.close()
