"""What the PostgreSQL scenarios share: their targets and how a check reads the database.

Every check of one run shares one monitoring session on the database (`hold`): at 3 a.m.
the pool is full, and a responder that opened a connection per check would take the slots
it is trying to free.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from prefect import Task

from blocks.kubernetes import KubernetesTarget
from blocks.loading import resolve_block
from blocks.postgres import PostgresTarget
from flows.phases.assess import Check
from tasks.postgres_session import hold, session_key

__all__ = ["PostgresTargets", "pg_check"]


@dataclass(frozen=True)
class PostgresTargets:
    database: PostgresTarget
    cluster: KubernetesTarget | None = None

    @classmethod
    def of(cls, p: Mapping[str, Any]) -> PostgresTargets:
        cluster = p.get("cluster")
        return cls(
            database=resolve_block(PostgresTarget, p["database"]),
            cluster=resolve_block(KubernetesTarget, cluster) if cluster is not None else None,
        )


def pg_check(db: PostgresTarget, name: str, task: Task[..., Any], **kwargs: Any) -> Check:
    """The check ``name`` on ``db``, through the run's one monitoring session."""
    return Check(name, db.label, task, {"target": db, **kwargs}, lambda: hold(db), session_key(db))
