"""Start the DB-pool flow in the background with this test's real components as defaults."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from blocks.postgres import PostgresTarget
from tests.fixtures.prefect_api import Background
from tests.flows.support import fast_policy, run_flow


@pytest.fixture
def respond(
    prefect_api: None, background: type[Background], postgres_target: Any, incident_store: Any
) -> Callable[..., Background]:
    """respond(**overrides) -> the running flow; defaults: this test's database and record,
    no Slack, the compressed policy."""

    def start(**overrides: Any) -> Background:
        params: dict[str, Any] = {
            "database": postgres_target,
            "store": incident_store,
            "slack": None,
            "policy": fast_policy(),
        }
        params.update(overrides)
        return run_flow(background, **params)

    return start


@pytest.fixture
def blind_target(scratch_database: str, admin_dsn: str) -> Iterator[PostgresTarget]:
    """A role that may log in and nothing more: other roles' backends are hidden from it."""
    role = "fb_blind_" + scratch_database.rsplit("_", 1)[-1][-8:]
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    params = conninfo_to_dict(scratch_database)
    params["user"] = role
    yield PostgresTarget(dsn=make_conninfo(**params), name="orders-db")
    with psycopg.connect(admin_dsn, autocommit=True) as conn:
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = %s", (role,)
        )
        conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
