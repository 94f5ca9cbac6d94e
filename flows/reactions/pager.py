"""PagerDuty: page the on-call for the levels the policy pages, acknowledge, resolve.

Runbook 001's flow chart (SEV1/2 page, SEV3/4 ticket). Every event of an incident carries
its one dedup key; an acknowledged record acknowledges the page, a resolved or closed one
resolves it on every service an escalation reached.
"""

from __future__ import annotations

from typing import Literal

from flows.reactions.situation import Situation
from incident import ledger, templates
from tasks.pager import dedup_key_for, send_page_event

__all__ = ["page", "react"]

Action = Literal["trigger", "acknowledge", "resolve"]


def page(situation: Situation, action: Action, step: str, *, contact: str = "") -> bool:
    """Send one event and record it under ``step``; whether PagerDuty took it."""
    pager = situation.channels.pager
    if pager is None or situation.rehearsal:
        return False
    incident = situation.incident
    key = dedup_key_for(incident.id)
    who = contact or "the on-call"
    situation.note("communicate", step, "started", f"PagerDuty {action} for {who}")
    outcome = send_page_event(
        pager,
        action,
        dedup_key=key,
        summary=templates.page_summary(incident, situation.policy, contact=contact),
        severity=incident.severity,
        contact=contact,
        details={"incident": incident.id, "channel": situation.room, "status": incident.status},
        attempts=situation.policy.notification_attempts,
        max_wait_seconds=situation.policy.notification_max_wait.total_seconds(),
    )
    if outcome.delivered:
        situation.note(
            "communicate",
            step,
            "completed",
            f"PagerDuty {action} sent for {who}",
            dedup_key=key,
            contact=contact,
        )
    else:
        situation.note(
            "communicate",
            step,
            "failed",
            f"PagerDuty {action} for {who} not delivered after {outcome.attempts} "
            f"attempt(s): {outcome.error}",
            dedup_key=key,
            contact=contact,
        )
    return outcome.delivered


def _paged_contacts(situation: Situation) -> list[str]:
    """Contacts whose service got a trigger ("" for the on-call service)."""
    contacts = [""] if situation.sent("page:trigger") else []
    for event in situation.timeline:
        if event.step.startswith("escalate:") and event.data.get("paged"):
            contacts.append(str(event.data.get("contact", "")))
    return list(dict.fromkeys(contacts))


def react(situation: Situation) -> None:
    pager = situation.channels.pager
    if pager is None or situation.rehearsal:
        return
    pages = situation.objectives.page_on_call
    if pages and not situation.resolved and not situation.sent("page:trigger"):
        page(situation, "trigger", "page:trigger")
    acknowledged = situation.row.get("acknowledged_at") is not None
    open_page = situation.sent("page:trigger") and not situation.resolved
    if acknowledged and open_page and not situation.sent("page:acknowledge"):
        page(situation, "acknowledge", "page:acknowledge")
    if situation.resolved:
        keys: dict[str, str] = {}
        for contact in _paged_contacts(situation):
            keys.setdefault(pager.routing_key_for(contact), contact)
        for contact in keys.values():
            step = "page:resolve" + (f":{contact}" if contact else "")
            if not ledger.sent(situation.timeline, step):
                page(situation, "resolve", step, contact=contact)
