"""N sandboxed pool exhaustions at once, one database each, for the paused-incidents benchmark.

Each incident needs a target of its own so that its plan, its approval and its action are
its own: a mitigation is bound to the database's identity (`PostgresTarget.identity`), so
two incidents on one database would plan the same backends. Every fault is the smallest
real one (`sandbox.postgres_faults.PoolExhaustion` with one idle transaction holding an
application role at its limit of one): N faults cost N server connections, which is what
bounds N on a shared PostgreSQL (`headroom` says how many are free before starting).
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blocks.postgres import PostgresTarget
from sandbox.postgres_faults import PoolExhaustion

__all__ = ["Sandbox", "fleet", "headroom"]


@dataclass(frozen=True)
class Sandbox:
    """One incident's world: its database, the fault in it, the target block's name."""

    database: str
    fault: PoolExhaustion
    block: str

    def target(self) -> PostgresTarget:
        return PostgresTarget(dsn=self.fault.admin_dsn, name=self.block)


def headroom(admin_dsn: str) -> int:
    """Connections the server can still open for non-superusers."""
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        row = conn.execute(
            "SELECT current_setting('max_connections')::int"
            " - current_setting('superuser_reserved_connections')::int"
            " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
        ).fetchone()
    return int(row[0]) if row else 0


def _dsn(admin_dsn: str, database: str) -> str:
    params = conninfo_to_dict(admin_dsn)
    params["dbname"] = database
    return make_conninfo(**params)


@contextlib.contextmanager
def fleet(admin_dsn: str, count: int, age_seconds: float) -> Iterator[list[Sandbox]]:
    """``count`` exhausted pools, offenders older than ``age_seconds``; all undone after."""
    prefix = f"fb_bench_pi_{secrets.token_hex(2)}"
    names = [f"{prefix}_{n:03d}" for n in range(count)]
    created: list[str] = []
    faults: list[PoolExhaustion] = []
    try:
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            for name in names:  # one at a time: CREATE DATABASE copies template1
                conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                created.append(name)
        faults = [
            PoolExhaustion(
                _dsn(admin_dsn, name),
                idle_in_transaction=1,
                long_queries=0,
                lock_waiters=0,
                healthy=0,
                hazards=False,
                age_seconds=age_seconds,
            )
            for name in names
        ]
        with ThreadPoolExecutor(8) as pool:  # each start waits for its offender to age
            list(pool.map(lambda f: f.start(), faults))
        yield [
            Sandbox(database=name, fault=fault, block=f"bench-db-{n:03d}")
            for n, (name, fault) in enumerate(zip(names, faults, strict=True))
        ]
    finally:
        for fault in faults:
            with contextlib.suppress(Exception):
                fault.stop()
        with psycopg.connect(admin_dsn, autocommit=True) as conn:
            for name in created:
                conn.execute(
                    sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
                )
