"""``firebreak approve`` / ``reject``: answer a paused run from a terminal, as the UI would.

The same checks as the Prefect UI form and Slack buttons, because all of them go through
`flows.answer.submit_decision`: the run must be paused on exactly the plan digest shown here,
so a plan that changed while the operator read it is never approved by this answer. The plan
and its digest are printed and confirmed first (``--yes`` skips the question, for scripts).
"""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import typer
from prefect.client.orchestration import get_client
from prefect.exceptions import ObjectNotFound
from prefect.input.actions import read_flow_run_input
from prefect.input.run_input import keyset_from_paused_state
from rich.markup import escape
from rich.table import Table

from firebreak_cli.console import err, fail, out
from firebreak_cli.record_access import open_record
from firebreak_cli.settings import FirebreakSettings
from flows.answer import Decision, awaited_plan, submit_decision
from incident.errors import FirebreakError
from incident.models import Plan

__all__ = ["answer_command"]

TargetArgument = Annotated[
    str, typer.Argument(help="Flow run id (UUID) or incident id (INC-...) waiting for approval.")
]


def _resolve(
    settings: FirebreakSettings, target: str, store: str | None
) -> tuple[UUID, str | None]:
    """(flow run id, incident id if known) for a run id or an incident id."""
    try:
        return UUID(target), None
    except ValueError:
        pass
    with open_record(settings, store) as record:
        incident = record.get_incident(target)
    if not incident["flow_run_id"]:
        fail(f"incident {target} has no flow run recorded yet: nothing to approve")
    return UUID(incident["flow_run_id"]), target


def _plan_for(
    settings: FirebreakSettings,
    run_id: UUID,
    incident_id: str | None,
    digest: str,
    store: str | None,
) -> tuple[str | None, Plan | None]:
    """(incident id, the stored plan with this digest), each None when the record lacks it."""
    try:
        with open_record(settings, store) as record:
            if incident_id is None:
                matches = [r for r in record.incidents() if r["flow_run_id"] == str(run_id)]
                incident_id = matches[-1]["id"] if matches else None
            plans = record.plans(incident_id) if incident_id else []
    except FirebreakError as exc:  # the record is optional here: the pause still binds the plan
        err.print(f"[yellow]warning:[/] the record is unavailable ({escape(str(exc))})")
        return incident_id, None
    return incident_id, next((p for p in plans if p.digest == digest), None)


def _show_plan(plan: Plan) -> None:
    out.print(f"[bold]{escape(plan.action)}[/] on {escape(plan.target)}: {escape(plan.reason)}")
    if not plan.items:
        return
    keys: list[str] = []
    for item in plan.items:
        keys += [k for k in item if k not in keys]
    table = Table(title=f"{len(plan.items)} item(s)", title_justify="left")
    for key in keys:
        table.add_column(key, overflow="fold")
    for item in plan.items:
        table.add_row(*(escape(str(item.get(k, ""))) for k in keys))
    out.print(table)


def _pause_description(settings: FirebreakSettings, run_id: UUID, state: Any) -> str | None:
    """The markdown the UI shows above the form, if the pause carries one."""
    try:
        keyset = keyset_from_paused_state(state)
        with settings.prefect():
            return str(read_flow_run_input(keyset["description"], run_id) or "") or None
    except Exception:  # older pauses have no description; the digest still binds the plan
        return None


def answer_command(
    settings: FirebreakSettings,
    decision: Decision,
    target: str,
    *,
    approver: str | None,
    reason: str,
    digest: str | None,
    yes: bool,
    store: str | None,
) -> None:
    """Show what the run waits on, confirm, then submit ``decision`` through the one path."""
    run_id, incident_id = _resolve(settings, target, store)
    with settings.prefect(), get_client(sync_client=True) as client:
        try:
            run = client.read_flow_run(run_id)
        except ObjectNotFound:
            fail(f"there is no flow run {run_id} on this Prefect API")
    waiting_on = awaited_plan(run.state)
    if waiting_on is None:
        state = run.state.name if run.state else "unknown"
        fail(f"flow run {run.name} is not waiting for an approval (it is {state}): nothing to do")
    incident_id, plan = _plan_for(settings, run_id, incident_id, waiting_on, store)
    out.print(
        f"flow run [bold]{escape(run.name)}[/] ({run_id})"
        + (f", incident [bold]{incident_id}[/]" if incident_id else "")
        + f"\nwaits on plan digest [bold cyan]{waiting_on}[/]"
    )
    if plan is not None:
        _show_plan(plan)
    elif description := _pause_description(settings, run_id, run.state):
        out.print(description, markup=False)
    else:
        err.print("[yellow]warning:[/] the plan itself is not in the record; only its digest")
    chosen = digest or waiting_on
    if chosen != waiting_on:
        err.print(f"[yellow]note:[/] you named plan {escape(chosen)}; the run waits on another")
    who = approver or settings.approver
    if not yes and not typer.confirm(f"{decision.value} plan {chosen} as {who}?", default=False):
        out.print("nothing was changed")
        raise typer.Exit(1)
    with settings.prefect():
        result = submit_decision(
            run_id, plan_digest=chosen, decision=decision, approver=who, reason=reason
        )
    if not result.accepted:
        fail(result.message)
    out.print(f"[green]{escape(result.message)}[/]")
