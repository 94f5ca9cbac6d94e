"""Slack: the incident's own channel, its roles, the stakeholders, customers, the all-clear.

Runbook 001 "Start Incident Channel" and "Establish Command" (roles announced with
mentions), runbook 000 "Notify stakeholders" (by severity), runbook 003 customer notices
(only once customer impact is confirmed; top two levels), and the resolution posted in the
incident's channel. Each is done once, as the timeline records it.
"""

from __future__ import annotations

from flows.reactions.situation import ROOM, Situation
from incident import ledger, templates
from incident.models import IncidentStatus
from incident.severity import Severity
from tasks.slack_channel import open_incident_channel

__all__ = ["react", "roles_of"]


def roles_of(situation: Situation) -> dict[str, str]:
    """The roles: the policy's roster, with the incident's commander if it names one."""
    roles = dict(situation.policy.roles)
    commander = situation.row["commander"]
    if commander and commander != "on-call":
        roles["incident_commander"] = commander
    return roles


def _topic(situation: Situation) -> str:
    incident = situation.incident
    label = incident.severity.label(situation.policy.scheme)
    ic = templates.mention(roles_of(situation).get("incident_commander") or incident.commander)
    return f"{label} {incident.title} | IC {ic} | {incident.id}"


def _open_room(situation: Situation) -> None:
    incident = situation.incident
    service = incident.alert.service or incident.alert.labels.get("service") or incident.scenario
    roles = roles_of(situation)
    members = [*situation.policy.responders, *roles.values()]
    situation.note("communicate", ROOM, "started", "opening the incident's own channel")
    setup = open_incident_channel(
        situation.channels.slack,
        day=incident.alert.starts_at.date(),
        service=service,
        topic=_topic(situation),
        members=members,
        attempts=situation.policy.notification_attempts,
        max_wait_seconds=situation.policy.notification_max_wait.total_seconds(),
    )
    if not setup.opened:
        situation.note(
            "communicate",
            ROOM,
            "failed",
            f"incident channel not opened: {setup.error}; posting to "
            f"{situation.row['channel']} instead",
        )
        return
    missed = ", ".join(f"{who} ({why})" for who, why in setup.not_invited.items())
    skipped = f"; not invited: {missed}" if missed else ""
    situation.note(
        "communicate",
        ROOM,
        "completed",
        f"channel #{setup.name} opened, {len(setup.invited)} responder(s) invited" + skipped,
        channel_id=setup.channel_id,
        name=setup.name,
        invited=setup.invited,
        topic_set=setup.topic_set,
        not_invited=setup.not_invited,
    )
    declared = templates.declaration_message(incident, situation.policy, channel=f"#{setup.name}")
    situation.post("notify:channel-declaration", declared.text, blocks=declared.blocks)


def _announce_roles(situation: Situation) -> None:
    roles = roles_of(situation)
    if not roles:
        return
    message = templates.roles_message(
        situation.incident, situation.policy, roles=roles, channel=situation.room
    )
    situation.post("notify:roles", message.text, blocks=message.blocks, roles=roles)


def _notify_stakeholders(situation: Situation) -> None:
    incident, policy = situation.incident, situation.policy
    audience = policy.stakeholders.get(incident.severity, ())
    if not audience:
        return
    page = situation.channels.status_page
    text = templates.stakeholder_notice(
        incident,
        policy,
        channel=situation.room,
        status_page=page.public_url if page else "",
        roles=roles_of(situation),
    )
    targets = sorted(
        {policy.stakeholder_channels.get(a, situation.row["channel"]) for a in audience}
    )
    for target in targets:
        step = f"notify:stakeholders:{target}"
        if not situation.sent(step):
            situation.post(step, text, channel=target, audience=list(audience))


def _notify_customers(situation: Situation) -> None:
    impact = ledger.customer_impact(situation.timeline)
    top_two = situation.incident.severity in (Severity.CRITICAL, Severity.HIGH)
    if impact is None or not top_two or situation.rehearsal:
        return
    text = templates.customer_notification(
        situation.incident,
        situation.policy,
        status=ledger.public_status(situation.row["status"]),
        impact=impact.message,
    )
    situation.post("notify:customer", text, channel=situation.policy.customer_channel)


def _resolution(situation: Situation) -> None:
    incident = situation.incident
    resolved = ledger.last_event(situation.timeline, "resolved", ("completed",))
    root_cause = str(resolved.data.get("root_cause", "")) if resolved else ""
    fix = resolved.message.removeprefix("resolved: ") if resolved else "see the timeline"
    at = situation.row.get("resolved_at") or situation.row.get("closed_at") or situation.now
    ended = "resolved" if situation.row["status"] == IncidentStatus.RESOLVED.value else "closed"
    watch = templates.human_span(situation.policy.monitoring_window)
    text = templates.resolution(
        incident,
        resolved_at=at,
        root_cause=root_cause or f"incident {ended}: see the timeline",
        fix=fix,
        monitoring=f"watching for {watch}",
        policy=situation.policy,
    )
    situation.post("notify:channel-resolution", text)
    if situation.sent("notify:customer") and not situation.sent("notify:customer-resolution"):
        follow = templates.customer_resolution(
            incident,
            situation.policy,
            root_cause=root_cause or "under review",
            prevention="the actions of the post-mortem",
        )
        situation.post(
            "notify:customer-resolution", follow, channel=situation.policy.customer_channel
        )


def react(situation: Situation) -> None:
    if situation.channels.slack is None:
        return
    wants_room = situation.policy.incident_channel_per_incident and not situation.resolved
    if wants_room and not situation.sent(ROOM):
        _open_room(situation)
    if not situation.sent("notify:roles") and not situation.resolved:
        _announce_roles(situation)
    _notify_stakeholders(situation)
    if not situation.sent("notify:customer") and not situation.resolved:
        _notify_customers(situation)
    opened = ledger.last_event(situation.timeline, ROOM, ("completed",)) is not None
    if situation.resolved and opened and not situation.sent("notify:channel-resolution"):
        _resolution(situation)
