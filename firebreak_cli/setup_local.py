"""``firebreak init``: the blocks and work pool a local setup needs, on the current API.

Local means the machine's own PostgreSQL (a sandbox database for the diagnosed target, the
admin database for the record), Redis, the Slack stub, the demo service, and the default
runbook policy. A block that already exists is kept (someone may have configured it for
real) unless ``--overwrite`` is given; the table says which were created and which kept.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass

import psycopg
from prefect.blocks.core import Block
from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import WorkPoolCreate
from prefect.exceptions import ObjectAlreadyExists, ObjectNotFound
from psycopg.conninfo import conninfo_to_dict, make_conninfo
from rich.table import Table

import blocks
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
from firebreak_cli.console import fail, out
from firebreak_cli.settings import SANDBOX_DATABASE, FirebreakSettings
from incident.redact import describe_dsn
from sandbox.databases import ensure_database

__all__ = ["InitRow", "initialise", "render"]

BLOCK_TYPES: tuple[type[Block], ...] = tuple(
    obj
    for obj in (getattr(blocks, name) for name in blocks.__all__)
    if isinstance(obj, type) and issubclass(obj, Block)
)
"""Every Firebreak block type, so the UI offers each form (a new block needs no edit here)."""


@dataclass(frozen=True)
class InitRow:
    what: str
    outcome: str  # created, kept, replaced
    detail: str


def _sandbox_dsn(admin_dsn: str) -> str:
    """The local sandbox database the diagnosed target points at (created once)."""
    try:
        with psycopg.connect(admin_dsn, autocommit=True, connect_timeout=5) as conn:
            ensure_database(conn, SANDBOX_DATABASE)
    except psycopg.OperationalError:
        fail(
            f"the local PostgreSQL ({describe_dsn(admin_dsn)}) is unreachable: start it, or set "
            "FIREBREAK_ADMIN_DSN"
        )
    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = SANDBOX_DATABASE
    return make_conninfo(**params)


def _save(block: Block, name: str, overwrite: bool, detail: str) -> InitRow:
    what = f"{block.get_block_type_slug()}/{name}"
    try:
        load_block(type(block), name)
    except BlockNotFound:
        block.save(name)
        return InitRow(what, "created", detail)
    if not overwrite:
        return InitRow(what, "kept", "exists; --overwrite replaces it")
    block.save(name, overwrite=True)
    return InitRow(what, "replaced", detail)


def _work_pool(name: str) -> InitRow:
    with get_client(sync_client=True) as client:
        try:
            client.read_work_pool(name)
        except ObjectNotFound:
            with contextlib.suppress(ObjectAlreadyExists):
                client.create_work_pool(WorkPoolCreate(name=name, type="process"))
            return InitRow(f"work-pool/{name}", "created", "process pool for the deployments")
    return InitRow(f"work-pool/{name}", "kept", "exists")


def initialise(
    settings: FirebreakSettings,
    *,
    overwrite: bool = False,
    kubeconfig: str | None = None,
    namespace: str = "default",
) -> list[InitRow]:
    """Register Firebreak's block types and create the local blocks and work pool."""
    admin = settings.admin_dsn.get_secret_value()
    target_dsn = _sandbox_dsn(admin)
    rows: list[InitRow] = []
    with settings.prefect():
        for cls in BLOCK_TYPES:
            cls.register_type_and_schema()
        rows.append(InitRow("block types", "registered", f"{len(BLOCK_TYPES)} Firebreak types"))
        wanted: list[tuple[Block, str, str]] = [
            (
                IncidentStore(dsn=admin, schema_name="firebreak"),
                settings.store_block,
                f"record in {describe_dsn(admin)}, schema firebreak",
            ),
            (IncidentPolicyBlock(), settings.policy_block, "the runbooks' default policy"),
            (
                PostgresTarget(dsn=admin, name="drill sandbox server"),
                settings.drill_sandbox_block,
                f"where drills build their sandbox: {describe_dsn(admin)}",
            ),
            (
                PostgresTarget(dsn=target_dsn, name=settings.database_block),
                settings.database_block,
                f"diagnosed target {describe_dsn(target_dsn)} (sandbox)",
            ),
            (
                SlackWorkspace(
                    token=settings.slack_token.get_secret_value(),
                    api_base_url=settings.slack_api_url,
                ),
                settings.slack_block,
                f"Slack API {settings.slack_api_url}",
            ),
            (
                RedisTarget(url=settings.redis_url.get_secret_value(), name=settings.redis_block),
                settings.redis_block,
                "local Redis",
            ),
            (
                HealthEndpoints(urls=[f"{settings.demo_service_url.rstrip('/')}/health"]),
                settings.health_block,
                "the sandbox demo service's /health",
            ),
        ]
        if kubeconfig and settings.kubernetes_block:
            wanted.append(
                (
                    KubernetesTarget(kubeconfig_path=kubeconfig, namespace=namespace),
                    settings.kubernetes_block,
                    f"namespace {namespace} via {kubeconfig}",
                )
            )
        if drills := kubeconfig or settings.drill_kubeconfig:
            wanted.append(
                (
                    KubernetesTarget(kubeconfig_path=drills, namespace=settings.drill_namespace),
                    settings.drill_cluster_block,
                    f"drill namespace {settings.drill_namespace} via {drills}",
                )
            )
        rows += [_save(block, name, overwrite, detail) for block, name, detail in wanted]
        rows.append(_work_pool(settings.work_pool))
    return rows


def render(rows: list[InitRow]) -> None:
    table = Table(title="firebreak init", title_justify="left")
    for column in ("what", "outcome", "detail"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(row.what, row.outcome, row.detail)
    out.print(table)
    out.print("next: `firebreak doctor` checks that each one is reachable")
