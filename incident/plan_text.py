"""What an approver reads: a plan, item by item, in the width of Prefect's resume form.

The resume form is a modal about 470 px wide. A table wider than that hides the columns that
matter (age, reason, query) behind a sideways scroll, so the form shows one short block per
item, and the approval artifact holds the full detail. Hosts and users are written as code,
so ``postgres@127.0.0.1`` is not turned into a mail link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from incident.models import Action, Approval, Incident, Plan

__all__ = [
    "ItemView",
    "clock",
    "decision_markdown",
    "plan_artifact_markdown",
    "plan_form_markdown",
    "register_item_view",
]


@dataclass(frozen=True)
class ItemView:
    """One planned item as a person reads it."""

    heading: str
    facts: list[tuple[str, str]] = field(default_factory=list)
    code: str = ""


_VIEWS: dict[str, Callable[[dict[str, Any]], ItemView]] = {}


def register_item_view(action: str) -> Callable[[Callable[[dict[str, Any]], ItemView]], Any]:
    """Each action kind says how one of its items reads (``terminate_backends`` below)."""

    def add(fn: Callable[[dict[str, Any]], ItemView]) -> Callable[[dict[str, Any]], ItemView]:
        _VIEWS[action] = fn
        return fn

    return add


def clock(at: datetime | str | None) -> str:
    """A time as a person reads it at 3 a.m.: ``18:42:07 UTC``."""
    if at is None:
        return "—"
    moment = datetime.fromisoformat(at) if isinstance(at, str) else at
    return f"{moment:%H:%M:%S} UTC"


def _day_clock(at: datetime) -> str:
    return f"{at:%Y-%m-%d %H:%M:%S} UTC"


@register_item_view("terminate_backends")
def _backend(item: dict[str, Any]) -> ItemView:
    query = str(item.get("query") or "").strip().splitlines()
    return ItemView(
        heading=f"pid {item['pid']} — {item.get('state')}, {item.get('age_seconds')} s",
        facts=[
            ("user", f"`{item.get('usename')}` on `{item.get('datname')}`"),
            ("as of", clock(item.get("as_of"))),
            ("why", str(item.get("reason"))),
            ("query started", clock(item.get("query_start"))),
        ],
        code=(query[0][:80] + (" …" if len(query) > 1 or len(query[0]) > 80 else ""))
        if query
        else "",
    )


def _generic(item: dict[str, Any]) -> ItemView:
    name = item.get("name") or item.get("pid") or item.get("id") or "item"
    facts = [(k, str(v)) for k, v in item.items() if k not in ("name",) and v is not None]
    return ItemView(heading=str(name), facts=facts[:6])


def _view(plan: Plan, item: dict[str, Any]) -> ItemView:
    return _VIEWS.get(plan.action, _generic)(item)


def _dry_run_by_item(dry_run: Action | None) -> dict[str, str]:
    if dry_run is None:
        return {}
    return {str(r.get("pid", r.get("name"))): str(r.get("outcome")) for r in dry_run.results}


def _blocks(plan: Plan, dry_run: Action | None, *, full: bool) -> list[str]:
    outcomes = _dry_run_by_item(dry_run)
    lines: list[str] = []
    for n, item in enumerate(plan.items, 1):
        view = _view(plan, item)
        lines += ["", f"**{n}. {view.heading}**", ""]
        lines += [f"- {label}: {value}" for label, value in view.facts]
        key = str(item.get("pid", item.get("name")))
        if key in outcomes:
            lines.append(f"- dry run: {outcomes[key]}")
        if full and item.get("query"):
            lines += ["", "```sql", str(item["query"]), "```"]
        elif view.code:
            code = view.code.replace("`", "'")
            lines += ["", f"`{code}`"]
    return lines


def plan_form_markdown(
    incident: Incident,
    plan: Plan,
    dry_run: Action | None,
    *,
    deadline: datetime,
    first_level: Any = None,
) -> str:
    """The description above the resume form: deadline first, one block per item.

    ``first_level`` (an `incident.escalation.ApprovalStage`): who is asked first and until
    when, before the request goes up the escalation ladder.
    """
    ladder = (
        f" Asked first: {first_level.contact}, until {clock(first_level.deadline)}; then the "
        "request goes up the escalation ladder."
        if first_level is not None and not first_level.last_level
        else ""
    )
    lines = [
        f"### {plan.action}: {len(plan.items)} item(s)",
        "",
        f"**Answer by {_day_clock(deadline)}.** After that nothing is done and the incident "
        f"is escalated.{ladder}",
        "",
        f"- incident: {incident.id}",
        f"- target: `{plan.target}`",
        f"- why: {plan.reason}",
        f"- plan: `{plan.digest}` — this form decides this plan only",
    ]
    if dry_run is not None:
        lines.append(f"- dry run: {dry_run.summary}")
    lines += _blocks(plan, dry_run, full=False)
    lines += [
        "",
        "**approve** runs exactly these items, each only if it is still as shown; "
        "**reject** changes nothing and escalates.",
    ]
    return "\n".join(lines)


def plan_artifact_markdown(
    incident: Incident,
    plan: Plan,
    dry_run: Action | None,
    *,
    deadline: datetime,
    notes: tuple[str, ...] = (),
    approval: Approval | None = None,
) -> str:
    """The approval artifact: the same plan with every detail, and the decision once made."""
    status = (
        decision_markdown(approval)
        if approval is not None
        else f"**Awaiting a decision until {_day_clock(deadline)}.**"
    )
    lines = [
        f"## {plan.action} on `{plan.target}`",
        "",
        status,
        "",
        f"- incident: {incident.id} — {incident.title}",
        f"- why: {plan.reason}",
        f"- plan digest: `{plan.digest}`",
        f"- parameters: `{plan.params}`",
    ]
    if dry_run is not None:
        lines.append(f"- dry run: {dry_run.summary}")
    lines += _blocks(plan, dry_run, full=True)
    if notes:
        lines += ["", "### Seen but not planned", ""] + [f"- {n}" for n in notes]
    return "\n".join(lines)


def decision_markdown(approval: Approval) -> str:
    who = approval.approver or "nobody"
    why = f": {approval.reason}" if approval.reason else ""
    return (
        f"**Decision: {approval.decision.value}** by {who} at "
        f"{_day_clock(approval.decided_at)}{why}"
    )
