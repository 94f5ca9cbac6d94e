"""Drill faults from the command line: the ledger sweep every drill starts with, and
``firebreak drill SCENARIO --inject-only`` (inject the scenario's real fault, hold it, remove it).

The targets come from the settings: the local PostgreSQL's sandbox database, Redis, the demo
service, and a Kubernetes cluster only when ``FIREBREAK_DRILL_KUBECONFIG`` names one — without
it the Kubernetes drills say so and the others run.
"""

from __future__ import annotations

import threading
from typing import Any

import psycopg
from rich.markup import escape

from blocks.kubernetes import KubernetesTarget
from firebreak_cli.console import ExitCode, fail, out
from firebreak_cli.settings import FirebreakSettings
from sandbox.databases import ensure_database
from sandbox.drill_registry import DrillSpec
from sandbox.injectors import INJECTORS, DrillTargets, Fault, FaultSession

__all__ = ["drill_targets", "inject_only", "require_cluster", "sweep"]


def drill_targets(settings: FirebreakSettings) -> DrillTargets:
    kube = None
    if settings.drill_kubeconfig:
        kube = KubernetesTarget(
            kubeconfig_path=settings.drill_kubeconfig, namespace=settings.drill_namespace
        )
    return DrillTargets(
        postgres_dsn=settings.admin_dsn,
        redis_url=settings.redis_url,
        kubernetes=kube,
        demo_admin_token=settings.demo_admin_token,
    )


def _ensure_database(settings: FirebreakSettings) -> None:
    with psycopg.connect(settings.admin_dsn.get_secret_value(), autocommit=True) as conn:
        ensure_database(conn, settings.drill_database)


def _fault(spec: DrillSpec, settings: FirebreakSettings, targets: DrillTargets) -> Fault:
    options: dict[str, Any] = {}
    if spec.injector in ("pool-exhaustion", "lock-contention"):
        _ensure_database(settings)
        options["database"] = settings.drill_database
    elif spec.injector == "failing-health":
        options["url"] = settings.demo_service_url
    require_cluster(spec, targets)
    return INJECTORS[spec.injector](targets, **options)


def require_cluster(spec: DrillSpec, targets: DrillTargets) -> None:
    """A Kubernetes drill without a cluster stops here, saying what to set."""
    if spec.needs_kubernetes and targets.kubernetes is None:
        fail(
            f"drill {spec.scenario} needs a Kubernetes cluster: set FIREBREAK_DRILL_KUBECONFIG "
            "(the local control plane, kind, k3d); the other drills run without one"
        )


def sweep(settings: FirebreakSettings, spec: DrillSpec) -> None:
    """Remove what killed drills left behind, and say what was removed."""
    with FaultSession(
        settings.admin_dsn.get_secret_value(), spec.record_schema, drill_targets(settings)
    ) as session:
        for outcome in session.swept:
            verdict = "removed" if outcome.removed else "[bold red]NOT removed[/]"
            out.print(
                f"left by a killed drill: {outcome.kind} on {escape(outcome.target)}: {verdict}"
                f" ({escape(outcome.detail)})"
            )


def inject_only(settings: FirebreakSettings, spec: DrillSpec, hold: float) -> ExitCode:
    """Inject ``spec``'s fault, show it in effect for ``hold`` seconds, remove it."""
    targets = drill_targets(settings)
    fault = _fault(spec, settings, targets)
    admin = settings.admin_dsn.get_secret_value()
    with FaultSession(admin, spec.record_schema, targets) as session:
        for outcome in session.swept:
            out.print(f"left by a killed drill: {outcome.kind}: {escape(outcome.detail)}")
        with session.injected(fault):
            out.print(f"[bold]injected[/] {fault.kind} on {escape(fault.target)}: in effect")
            try:
                threading.Event().wait(hold)
            except KeyboardInterrupt:
                out.print("interrupted: removing the fault")
        out.print(f"[green]removed[/] {fault.kind} from {escape(fault.target)}")
    return ExitCode.OK
