"""The public status page: opened once customer impact is confirmed (runbook 003), then moved
Investigating → Identified → Monitoring → Resolved as the record moves (runbook 002), with
the affected component's status set, and back to operational when resolved.
"""

from __future__ import annotations

from flows.reactions.situation import Situation
from incident import ledger, templates
from incident.models import IncidentStatus
from tasks.statuspage import open_status_incident, update_status_incident

__all__ = ["react"]

_CREATE = "statuspage:create"


def _step(state: str) -> str:
    return f"statuspage:{state}"


def _service(situation: Situation) -> str:
    alert = situation.incident.alert
    return alert.service or alert.labels.get("service") or situation.incident.scenario


def _components(situation: Situation, state: str) -> dict[str, str]:
    component = situation.policy.status_page_components.get(_service(situation))
    if component is None:
        return {}
    if state == "resolved":
        return {component: "operational"}
    return {component: situation.policy.component_status[situation.incident.severity]}


def react(situation: Situation) -> None:
    page = situation.channels.status_page
    if page is None or situation.rehearsal:
        return
    if situation.row["status"] == IncidentStatus.CRASHED.value and not situation.resolved:
        return  # our automation stopping is no news to customers: the page keeps its state
    state = "resolved" if situation.resolved else ledger.public_status(situation.row["status"])
    policy, service = situation.policy, _service(situation)
    body = templates.statuspage_body(policy, status=state, service=service)
    limits = {
        "attempts": policy.notification_attempts,
        "max_wait_seconds": policy.notification_max_wait.total_seconds(),
    }
    created = ledger.last_event(situation.timeline, _CREATE, ("completed",))
    if created is None:
        if situation.resolved:
            return  # nothing to tell customers any more
        if ledger.customer_impact(situation.timeline) is None:
            return
        situation.note("communicate", _CREATE, "started", f"opening the status page ({state})")
        outcome = open_status_incident(
            page,
            name=templates.statuspage_title(policy, service=service),
            status=state,
            body=body,
            components=_components(situation, state),
            **limits,
        )
        if not outcome.delivered:
            situation.note("communicate", _CREATE, "failed", f"status page: {outcome.error}")
            return
        page_id = str(outcome.data["id"])
        situation.note(
            "communicate",
            _CREATE,
            "completed",
            f"status page incident {page_id} opened: {state}",
            page_incident_id=page_id,
            state=state,
        )
        situation.note("communicate", _step(state), "completed", f"status page: {state}")
        return
    if ledger.sent(situation.timeline, _step(state)):
        return
    page_id = str(created.data["page_incident_id"])
    situation.note("communicate", _step(state), "started", f"status page: moving to {state}")
    outcome = update_status_incident(
        page, page_id, status=state, body=body, components=_components(situation, state), **limits
    )
    if outcome.delivered:
        situation.note("communicate", _step(state), "completed", f"status page: {state}")
    else:
        situation.note("communicate", _step(state), "failed", f"status page: {outcome.error}")
