"""The ``firebreak`` command: one entry point for the operations of a Firebreak setup.

Every command has ``--help``; failures print one line on stderr saying what to do next and
exit 1 (usage errors exit 2). Configuration comes from `FirebreakSettings` (``FIREBREAK_*``).
"""

from __future__ import annotations

from typing import Annotated

import typer

from firebreak_cli.console import report_and_exit
from firebreak_cli.incidents import incidents_app
from firebreak_cli.settings import FirebreakSettings
from flows.answer import Decision

__all__ = ["app", "main"]

app = typer.Typer(
    name="firebreak",
    help="Firebreak: incident-response runbooks as Prefect flows — operate them from here.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.add_typer(incidents_app, name="incidents")


@app.callback()
def _configure(
    ctx: typer.Context,
    api_url: Annotated[
        str | None,
        typer.Option(
            "--api-url",
            help="Prefect API URL (default: FIREBREAK_PREFECT_API_URL, "
            "else the Prefect profile's).",
        ),
    ] = None,
) -> None:
    settings = FirebreakSettings()
    if api_url:
        settings = settings.model_copy(update={"prefect_api_url": api_url})
    ctx.obj = settings


ApproverOption = Annotated[
    str | None, typer.Option("--approver", help="Who decides (default: FIREBREAK_APPROVER, $USER).")
]
ReasonOption = Annotated[str, typer.Option("--reason", help="Why; recorded in the timeline.")]
DigestOption = Annotated[
    str | None,
    typer.Option("--digest", help="The plan digest you reviewed (default: the one shown)."),
]
YesOption = Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")]
StoreOption = Annotated[str | None, typer.Option("--store", help="IncidentStore block name.")]
Target = Annotated[str, typer.Argument(help="Flow run id (UUID) or incident id (INC-...).")]


def _answer(ctx: typer.Context, decision: Decision, target: str, **kwargs: object) -> None:
    from firebreak_cli.approvals import answer_command

    answer_command(ctx.obj, decision, target, **kwargs)  # type: ignore[arg-type]


@app.command()
def approve(
    ctx: typer.Context,
    target: Target,
    approver: ApproverOption = None,
    reason: ReasonOption = "",
    digest: DigestOption = None,
    yes: YesOption = False,
    store: StoreOption = None,
) -> None:
    """Approve the plan a paused run waits on (shows the plan and its digest first)."""
    _answer(
        ctx,
        Decision.APPROVE,
        target,
        approver=approver,
        reason=reason,
        digest=digest,
        yes=yes,
        store=store,
    )


@app.command()
def reject(
    ctx: typer.Context,
    target: Target,
    approver: ApproverOption = None,
    reason: ReasonOption = "",
    digest: DigestOption = None,
    yes: YesOption = False,
    store: StoreOption = None,
) -> None:
    """Reject the plan a paused run waits on: nothing is changed and the incident escalates."""
    _answer(
        ctx,
        Decision.REJECT,
        target,
        approver=approver,
        reason=reason,
        digest=digest,
        yes=yes,
        store=store,
    )


@app.command()
def doctor(
    ctx: typer.Context,
    every: Annotated[
        bool,
        typer.Option(
            "--all", help="Check every saved Firebreak block, not only the ones the settings name."
        ),
    ] = False,
) -> None:
    """Reach every configured block's system; say what is wrong (exit 1), never a secret."""
    from firebreak_cli.doctor import diagnose, render

    raise typer.Exit(int(render(diagnose(ctx.obj, every_saved=every))))


@app.command()
def init(
    ctx: typer.Context,
    overwrite: Annotated[bool, typer.Option(help="Replace blocks that already exist.")] = False,
    kubeconfig: Annotated[
        str | None, typer.Option(help="Also create the KubernetesTarget block for this file.")
    ] = None,
    namespace: Annotated[str, typer.Option(help="Namespace of that target.")] = "default",
) -> None:
    """Create the blocks and the work pool for a local setup (existing ones are kept)."""
    from firebreak_cli.setup_local import initialise, render

    render(initialise(ctx.obj, overwrite=overwrite, kubeconfig=kubeconfig, namespace=namespace))


@app.command()
def drill(
    ctx: typer.Context,
    scenario: Annotated[
        str | None, typer.Argument(help="Scenario to rehearse; omit to list the drills.")
    ] = None,
    inject_only: Annotated[
        bool,
        typer.Option("--inject-only", help="Only inject the fault, hold it, and remove it."),
    ] = False,
    hold: Annotated[
        float, typer.Option(help="With --inject-only: seconds to keep the fault (Ctrl-C ends).")
    ] = 30.0,
) -> None:
    """Run a sandboxed drill: inject, respond, approve, score; the fault is always removed."""
    from firebreak_cli.drills import list_drills, run_drill

    if scenario is None:
        list_drills()
        return
    raise typer.Exit(int(run_drill(ctx.obj, scenario, inject_only=inject_only, hold=hold)))


@app.command()
def serve(
    ctx: typer.Context,
    receiver: Annotated[
        bool, typer.Option("--receiver/--no-receiver", help="Also start the alert receiver.")
    ] = True,
    host: Annotated[str, typer.Option(help="Receiver listen address.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Receiver port.")] = 8080,
    limit: Annotated[int, typer.Option(help="Flow runs served at once.")] = 10,
) -> None:
    """Serve the deployments from this process, and the alert receiver beside them."""
    from firebreak_cli.serve import serve_local

    serve_local(ctx.obj, receiver=receiver, host=host, port=port, limit=limit)


def main() -> None:
    """Console-script entry point: expected failures become one line and exit 1."""
    settings: FirebreakSettings | None = None
    try:
        settings = FirebreakSettings()
        app()
    except Exception as exc:
        secrets = (
            (
                settings.admin_dsn.get_secret_value(),
                settings.slack_token.get_secret_value(),
                settings.redis_url.get_secret_value(),
            )
            if settings
            else ()
        )
        report_and_exit(exc, *secrets)
