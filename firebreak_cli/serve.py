"""``firebreak serve``: the one-command local setup — the receiver plus the deployments.

The deployments are served from this process with Prefect's ``serve`` (no worker or work
pool needed), configured by the settings' block names. The alert receiver is started beside
them when its package is installed; until then ``serve`` says so and serves the flows alone
(``--no-receiver`` silences that). Add a flow to `SERVED` to serve it too.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from firebreak_cli.console import err, fail
from firebreak_cli.settings import FirebreakSettings

__all__ = ["SERVED", "Served", "local_deployments", "receiver_app", "serve_local"]


@dataclass(frozen=True)
class Served:
    flow: str  # "module:flow object"
    name: str  # deployment name
    tags: tuple[str, ...] = ()
    parameters: Callable[[FirebreakSettings], dict[str, Any]] = field(default=lambda s: {})


SERVED: list[Served] = [
    Served(
        "flows.scenarios.db_pool_exhaustion:db_pool_exhaustion",
        "db-pool-exhaustion",
        ("firebreak", "scenario", "database"),
        lambda s: {
            "database": s.database_block,
            "store": s.store_block,
            "slack": s.slack_block,
            "policy": s.policy_block,
        },
    ),
    Served("flows.drill_schedule:drill", "drill", ("firebreak", "drill")),
]


def _import(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def local_deployments(settings: FirebreakSettings) -> list[Any]:
    """Runner deployments for every entry of `SERVED`, with the settings' block names."""
    return [
        _import(s.flow).to_deployment(
            name=s.name, tags=list(s.tags), parameters=s.parameters(settings)
        )
        for s in SERVED
    ]


def receiver_app(settings: FirebreakSettings) -> Any | None:
    """The receiver's ASGI app from ``<receiver_module>.create_app()``, if installed."""
    try:
        module = importlib.import_module(settings.receiver_module)
    except ModuleNotFoundError as exc:
        if exc.name != settings.receiver_module:
            raise
        return None
    factory = getattr(module, "create_app", None)
    if factory is None:
        fail(f"{settings.receiver_module} has no create_app(): cannot start the receiver")
    return factory()


def serve_local(
    settings: FirebreakSettings, *, receiver: bool, host: str, port: int, limit: int
) -> None:
    """Serve the deployments (blocking until interrupted) and the receiver beside them."""
    from prefect import serve

    if receiver:
        app = receiver_app(settings)
        if app is None:
            err.print(
                f"[yellow]note:[/] the alert receiver ({settings.receiver_module}) is not "
                "installed yet: serving the deployments only"
            )
        else:
            import uvicorn

            server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_level="info"))
            threading.Thread(target=server.run, name="receiver", daemon=True).start()
    with settings.prefect():
        serve(*local_deployments(settings), limit=limit)
