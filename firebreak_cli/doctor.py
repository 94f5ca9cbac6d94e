"""``firebreak doctor``: is every configured block's system reachable, and if not, why.

The blocks checked are the ones the settings name (``--all``: every saved block of
Firebreak's types). A required block that is missing, or any system that cannot be reached,
makes the command exit non-zero; the table names the block and says what to do. Probes run
concurrently, each bounded by its block's own timeout, so one hung system does not hide the
others.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from rich.markup import escape
from rich.table import Table

from blocks import (
    HealthEndpoints,
    IncidentPolicyBlock,
    IncidentStore,
    KubernetesTarget,
    PostgresTarget,
    RedisTarget,
    SlackWorkspace,
)
from blocks.loading import BlockNotFound, load_block
from firebreak_cli.console import ExitCode, out
from firebreak_cli.probes import PROBES, ProbeResult, run_probe
from firebreak_cli.settings import FirebreakSettings

__all__ = ["DoctorRow", "diagnose", "render"]


@dataclass(frozen=True)
class DoctorRow:
    block: str  # "<type slug>/<name>"
    status: str  # OK, FAIL, SKIP
    system: str
    detail: str


def _configured(settings: FirebreakSettings) -> list[tuple[type[Block], str, bool]]:
    """(type, name, required) for every block the settings name."""
    named: list[tuple[type[Block], str | None, bool]] = [
        (IncidentStore, settings.store_block, True),
        (IncidentPolicyBlock, settings.policy_block, True),
        (SlackWorkspace, settings.slack_block, False),
        (PostgresTarget, settings.database_block, False),
        (RedisTarget, settings.redis_block, False),
        (HealthEndpoints, settings.health_block, False),
        (KubernetesTarget, settings.kubernetes_block, False),
    ]
    return [(cls, name, required) for cls, name, required in named if name]


def _every_saved() -> list[tuple[type[Block], str, bool]]:
    found = []
    with get_client(sync_client=True) as client:
        for cls in PROBES:
            docs = client.read_block_documents_by_type(block_type_slug=cls.get_block_type_slug())
            found += [(cls, doc.name, True) for doc in docs if doc.name]
    return found


def _check(cls: type[Block], name: str, required: bool) -> DoctorRow:
    label = f"{cls.get_block_type_slug()}/{name}"
    try:
        block = load_block(cls, name)
    except BlockNotFound:
        if required:
            return DoctorRow(label, "FAIL", "-", "missing: create it with `firebreak init`")
        return DoctorRow(label, "SKIP", "-", "not configured (optional)")
    except Exception as exc:  # a saved document that no longer validates
        return DoctorRow(label, "FAIL", "-", f"cannot load: {type(exc).__name__}; re-save it")
    result: ProbeResult = run_probe(block)
    return DoctorRow(label, "OK" if result.ok else "FAIL", result.system, result.detail)


def diagnose(settings: FirebreakSettings, *, every_saved: bool = False) -> list[DoctorRow]:
    """Check the Prefect API, then every block, concurrently; one row each."""
    with settings.prefect(), get_client(sync_client=True) as client:
        api = str(client.api_url)
        unhealthy = client.api_healthcheck()
    if unhealthy is not None:
        return [DoctorRow("prefect-api", "FAIL", api, f"unreachable ({type(unhealthy).__name__})")]
    rows = [DoctorRow("prefect-api", "OK", api, "healthy")]
    with settings.prefect():
        targets = _every_saved() if every_saved else _configured(settings)
    with ThreadPoolExecutor(max_workers=max(1, len(targets))) as pool:

        def check(target: tuple[type[Block], str, bool]) -> DoctorRow:
            with settings.prefect():
                return _check(*target)

        rows += list(pool.map(check, targets))
    return rows


def render(rows: list[DoctorRow]) -> ExitCode:
    """Print the table; FAILED if any row failed."""
    table = Table(title="firebreak doctor", title_justify="left")
    for column in ("block", "result", "system", "detail"):
        table.add_column(column, overflow="fold")
    colour = {"OK": "green", "FAIL": "bold red", "SKIP": "dim"}
    for row in rows:
        table.add_row(
            escape(row.block),
            f"[{colour[row.status]}]{row.status}[/]",
            escape(row.system),
            escape(row.detail),
        )
    out.print(table)
    failed = [r.block for r in rows if r.status == "FAIL"]
    if failed:
        out.print(f"[bold red]{len(failed)} problem(s):[/] {escape(', '.join(failed))}")
        return ExitCode.FAILED
    out.print("[green]everything configured is reachable[/]")
    return ExitCode.OK
