"""Message texts from the runbooks, rendered from template files and the incident record.

Every text lives in ``incident/messages/*.j2`` (Jinja2); a team overrides any of them with
``IncidentPolicy.message_templates`` (see `incident.template_loader`). Each public function
builds its template's context in one ``context_*`` function, and the load-time check renders
every template with those same builders on a sample incident, so a variable a template uses
and a caller does not pass is found when the templates load.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from datetime import datetime

from incident.models import Finding, Incident, Plan, TimelineEvent
from incident.policy import IncidentPolicy
from incident.template_contexts import (
    ROLE_TITLES,
    SAMPLES,
    context_approval,
    context_customer,
    context_customer_resolution,
    context_declaration,
    context_escalation,
    context_monitoring,
    context_page,
    context_resolution,
    context_roles,
    context_stakeholders,
    context_status_update,
    context_statuspage,
    human_span,
    mention,
)
from incident.template_loader import Message, MessageTemplates, TemplateConfigError, load_templates

__all__ = [
    "ROLE_TITLES",
    "Message",
    "TemplateConfigError",
    "approval_needed",
    "customer_notification",
    "customer_resolution",
    "declaration",
    "declaration_message",
    "escalation",
    "human_span",
    "mention",
    "monitoring",
    "page_summary",
    "plan_markdown",
    "resolution",
    "roles_message",
    "stakeholder_notice",
    "status_update",
    "statuspage_body",
    "statuspage_title",
    "templates_for",
]


@functools.lru_cache(maxsize=16)
def _load(overrides: str | None) -> MessageTemplates:
    return load_templates(overrides, SAMPLES)


def templates_for(policy: IncidentPolicy | None = None) -> MessageTemplates:
    """The policy's checked template set (loaded once per process and directory).

    Raises `TemplateConfigError` (path and line) if an override is missing or broken; call it
    when a flow or the sweep starts so a bad override fails there, not mid-incident.
    """
    return _load(policy.message_templates if policy is not None else None)


# -- the messages -------------------------------------------------------------------------------


def declaration(incident: Incident, policy: IncidentPolicy) -> str:
    """Runbook 000's declaration and 004's Slack template (plain text)."""
    return declaration_message(incident, policy).text


def declaration_message(
    incident: Incident,
    policy: IncidentPolicy,
    *,
    commander: str | None = None,
    channel: str | None = None,
) -> Message:
    """The declaration with Block Kit; ``channel``: the incident's own channel, if opened."""
    context = context_declaration(incident, policy, commander, channel)
    return templates_for(policy).message("declaration", footer=incident.id, **context)


def roles_message(
    incident: Incident, policy: IncidentPolicy, *, roles: dict[str, str], channel: str
) -> Message:
    """Runbook 000/001 "assign roles", announced with mentions."""
    context = context_roles(incident, policy, roles, channel)
    return templates_for(policy).message("roles", footer=incident.id, **context)


def status_update(
    incident: Incident,
    policy: IncidentPolicy,
    *,
    status: str,
    changes: Sequence[TimelineEvent],
    next_steps: Sequence[str],
    timeline: Sequence[TimelineEvent],
    impact: str | None = None,
) -> Message:
    """Runbook 000's update template (001's cadence): status, changes, next steps, timeline."""
    context = context_status_update(incident, policy, status, changes, next_steps, timeline, impact)
    return templates_for(policy).message("status_update", footer=incident.id, **context)


def resolution(
    incident: Incident,
    *,
    resolved_at: datetime,
    root_cause: str,
    fix: str,
    monitoring: str,
    impact: str | None = None,
    follow_ups: Sequence[str] = (),
    policy: IncidentPolicy | None = None,
) -> str:
    """Runbook 000's resolution template: duration, root cause, fix, impact, follow-ups."""
    context = context_resolution(
        incident, resolved_at, root_cause, fix, monitoring, impact, follow_ups
    )
    return templates_for(policy).render("resolution", **context)


def escalation(
    incident: Incident, policy: IncidentPolicy, why: str, contact: str, *, level: int | None = None
) -> str:
    return templates_for(policy).render(
        "escalation", **context_escalation(incident, policy, why, contact, level)
    )


def monitoring(incident: Incident, policy: IncidentPolicy, *, watching: str) -> str:
    """Runbook 002's "Monitoring" status: the fix took effect, and this is how long we watch."""
    return templates_for(policy).render(
        "monitoring", **context_monitoring(incident, policy, watching)
    )


def approval_needed(
    incident: Incident,
    plan: Plan,
    policy: IncidentPolicy,
    *,
    deadline: datetime,
    where: str,
    contact: str = "",
    level: int = 1,
    last_level: bool = True,
) -> str:
    """The channel hears that a person must decide, by when, and where; on a re-send, who."""
    context = context_approval(incident, plan, policy, deadline, where, contact, level, last_level)
    return templates_for(policy).render("approval_needed", **context)


def stakeholder_notice(
    incident: Incident,
    policy: IncidentPolicy,
    *,
    channel: str,
    status_page: str = "",
    roles: dict[str, str] | None = None,
) -> str:
    """Runbook 001's internal notification, addressed to the severity's stakeholders."""
    context = context_stakeholders(incident, policy, channel, status_page, roles or policy.roles)
    return templates_for(policy).render("stakeholder_notice", **context)


def customer_notification(
    incident: Incident, policy: IncidentPolicy, *, status: str, impact: str | None = None
) -> str:
    """Runbook 003's initial customer notification (send only once impact is confirmed)."""
    context = context_customer(incident, policy, status, impact)
    return templates_for(policy).render("customer_notification", **context)


def customer_resolution(
    incident: Incident, policy: IncidentPolicy, *, root_cause: str, prevention: str
) -> str:
    context = context_customer_resolution(incident, policy, root_cause, prevention)
    return templates_for(policy).render("customer_resolution", **context)


def statuspage_body(policy: IncidentPolicy | None, *, status: str, service: str) -> str:
    """Runbook 002's status-page line for Investigating / Identified / Monitoring / Resolved."""
    return templates_for(policy).render("statuspage", **context_statuspage(status, service))


def statuspage_title(policy: IncidentPolicy | None, *, service: str) -> str:
    return templates_for(policy).render("statuspage_title", **context_statuspage("", service))


def page_summary(incident: Incident, policy: IncidentPolicy, *, contact: str = "") -> str:
    """The one line a pager shows."""
    return templates_for(policy).render("page", **context_page(incident, policy, contact))


def plan_markdown(
    incident: Incident, plan: Plan, findings: list[Finding], *, deadline: datetime
) -> str:
    """What the approver reads in the Prefect UI before deciding, deadline first.

    Kept here until the approval step moves it to a module of its own.
    """
    lines = [
        f"## Approve `{plan.action}` on {plan.target}?",
        "",
        f"**Answer by {deadline:%Y-%m-%d %H:%M:%S} UTC.** After that nothing is done and the "
        "incident is escalated.",
        "",
        f"**Incident** {incident.id}: {incident.title}",
        f"**Why**: {plan.reason}",
        f"**Plan digest**: `{plan.digest}` (the approval is valid for this exact plan only)",
        "",
        "| pid | user | database | state | age (s) | reason | query |",
        "|---|---|---|---|---|---|---|",
    ]
    for item in plan.items:
        query = str(item.get("query") or "").replace("|", "\\|").replace("\n", " ")[:120]
        lines.append(
            f"| {item['pid']} | {item.get('usename')} | {item.get('datname')} | "
            f"{item.get('state')} | {item.get('age_seconds')} | {item.get('reason')} | "
            f"`{query}` |"
        )
    lines += ["", "### Findings", ""]
    lines += [f"- **{f.check}** ({f.status.value}): {f.summary}" for f in findings]
    lines += [
        "",
        "Approve to terminate exactly these backends; reject (or let the approval time out) "
        "to terminate nothing and escalate.",
    ]
    return "\n".join(lines)
