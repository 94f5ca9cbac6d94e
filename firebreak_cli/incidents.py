"""``firebreak incidents``: what the record says, for a person at a terminal.

The list is every incident (drills marked), newest last; ``show`` is one incident's whole
story: timeline, findings, plans, approvals, actions, from the PostgreSQL record (the same
rows the post-mortem is drafted from), not from Prefect's logs.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from firebreak_cli.console import out
from firebreak_cli.record_access import open_record
from firebreak_cli.settings import FirebreakSettings

__all__ = ["incidents_app"]

incidents_app = typer.Typer(
    help="List incidents, or show one's timeline, findings, approvals and actions.",
    no_args_is_help=False,
)

StoreOption = Annotated[
    str | None, typer.Option("--store", help="IncidentStore block name (default: settings).")
]


def _when(value: Any) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S") if isinstance(value, datetime) else "-"


@incidents_app.callback(invoke_without_command=True)
def list_incidents(
    ctx: typer.Context,
    store: StoreOption = None,
    open_only: Annotated[bool, typer.Option("--open", help="Only incidents not closed.")] = False,
    scenario: Annotated[str | None, typer.Option(help="Only this scenario.")] = None,
    drills: Annotated[
        bool, typer.Option("--drills/--no-drills", help="Include drill incidents.")
    ] = True,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """List incidents from the record, oldest first (drills marked DRILL)."""
    if ctx.invoked_subcommand is not None:
        return
    settings: FirebreakSettings = ctx.obj
    with open_record(settings, store) as record:
        rows = record.incidents(scenario=scenario, open_only=open_only)
    rows = [r for r in rows if drills or not r["drill"]]
    if as_json:
        for r in rows:
            keys = ("id", "title", "severity", "status", "scenario", "flow_run_id", "drill")
            out.print_json(
                json.dumps({k: r[k] for k in keys} | {"declared_at": _when(r["declared_at"])})
            )
        return
    table = Table(title=f"{len(rows)} incident(s)", expand=False)
    for column in ("id", "severity", "status", "scenario", "title", "declared", "flow run"):
        table.add_column(column, overflow="fold")
    for r in rows:
        title = ("[magenta]DRILL[/] " if r["drill"] else "") + escape(r["title"])
        table.add_row(
            r["id"],
            r["severity"],
            r["status"],
            r["scenario"],
            title,
            _when(r["declared_at"]),
            r["flow_run_id"] or "-",
        )
    out.print(table)


@incidents_app.command("show")
def show_incident(
    ctx: typer.Context,
    incident_id: Annotated[str, typer.Argument(help="Incident id, e.g. INC-20261202-a1b2c3.")],
    store: StoreOption = None,
) -> None:
    """Show one incident: timeline, findings, plans, approvals and actions."""
    settings: FirebreakSettings = ctx.obj
    with open_record(settings, store) as record:
        incident = record.get_incident(incident_id)
        timeline = record.timeline(incident_id)
        findings = record.findings(incident_id)
        plans = record.plans(incident_id)
        approvals = record.approvals(incident_id)
        actions = record.actions(incident_id)
    head = (
        f"[bold]{escape(incident['title'])}[/]\n"
        f"severity {incident['severity']} · status {incident['status']} · "
        f"scenario {incident['scenario']}"
        + (" · [magenta]DRILL[/]" if incident["drill"] else "")
        + f"\ndeclared {_when(incident['declared_at'])} · flow run {incident['flow_run_id'] or '-'}"
    )
    out.print(Panel(head, title=incident_id, expand=False))
    out.print(
        _table(
            "Timeline",
            ("#", "at", "phase/step", "status", "message"),
            [
                (str(e.seq), _when(e.at), f"{e.phase}/{e.step}", e.status, e.message)
                for e in timeline
            ],
        )
    )
    out.print(
        _table(
            "Findings",
            ("check", "target", "status", "summary"),
            [(f.check, f.target, f.status.value, f.summary) for f in findings],
        )
    )
    out.print(
        _table(
            "Plans",
            ("digest", "action", "target", "items", "reason"),
            [(p.digest, p.action, p.target, str(len(p.items)), p.reason) for p in plans],
        )
    )
    out.print(
        _table(
            "Approvals",
            ("plan", "decision", "approver", "reason", "decided"),
            [
                (
                    a["plan_digest"],
                    a["decision"],
                    a["approver"],
                    a["reason"],
                    _when(a["decided_at"]),
                )
                for a in approvals
            ],
        )
    )
    out.print(
        _table(
            "Actions",
            ("action", "plan", "status", "summary", "approver"),
            [
                (a["action"], a["plan_digest"], a["status"], a["summary"], a["approver"])
                for a in actions
            ],
        )
    )


def _table(title: str, columns: tuple[str, ...], rows: list[tuple[str, ...]]) -> Table:
    table = Table(title=f"{title} ({len(rows)})", title_justify="left", expand=False)
    for column in columns:
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(*(escape(str(cell)) for cell in row))
    return table
