"""The slowest statements, from a real pg_stat_statements fed real slow and fast statements."""

from __future__ import annotations

import secrets

import psycopg
import pytest

from blocks.postgres import PostgresTarget
from incident.models import FindingStatus
from tasks.postgres_statements import list_slow_statements
from tests.fixtures.postgres_cluster import small_database

pytestmark = pytest.mark.prefect

SECRET = "tok-Hunter2-secret"


@pytest.fixture(scope="module")
def busy_database(diagnosed_postgres) -> str:
    """A database of the cluster with pg_stat_statements, after one slow DO block (a utility
    statement: its text is kept as sent, literal and all), a slower-in-total sleep called
    three times, and many fast statements; another database's slow statement beside it."""
    dsn = small_database(diagnosed_postgres.dsn, f"fb_stmts_{secrets.token_hex(3)}")
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE EXTENSION pg_stat_statements")
        conn.execute(f"DO $$BEGIN PERFORM pg_sleep(0.5); PERFORM '{SECRET}'; END$$")
        for _ in range(3):
            conn.execute("SELECT pg_sleep(0.25)")
        for n in range(40):
            conn.execute(f"SELECT {n} AS n, 'fast-{SECRET}' AS token")
            conn.execute("SELECT count(*) FROM pg_class WHERE relname = %s", (f"x{n}",))
    elsewhere = small_database(diagnosed_postgres.dsn, f"fb_other_{secrets.token_hex(3)}")
    with psycopg.connect(elsewhere, autocommit=True) as conn:
        conn.execute("SELECT pg_sleep(0.8)")
    return dsn


def test_the_slow_statement_ranks_first_by_mean_and_no_literal_leaks(prefect_api, busy_database):
    finding = list_slow_statements(PostgresTarget(dsn=busy_database), max_mean_ms=300)
    assert finding.status is FindingStatus.WARNING, finding.summary
    statements = finding.evidence["statements"]
    first, second = statements[:2]
    assert first["query"].startswith("DO ") and first["mean_ms"] >= 500 and first["calls"] == 1
    assert "pg_sleep" in second["query"] and second["calls"] == 3
    fast = [s for s in statements if "pg_class" in s["query"] or "AS token" in s["query"]]
    assert fast and all(s["mean_ms"] < 50 and s["calls"] == 40 for s in fast)
    assert min(statements.index(s) for s in fast) > 1
    assert all(s["database"] == first["database"] for s in statements)  # not the other db's
    assert SECRET not in finding.model_dump_json() and "fast-" not in finding.model_dump_json()
    assert "1 statement(s) average more than 300 ms" in finding.summary


def test_by_total_time_the_repeated_sleep_comes_first_and_nothing_slow_is_ok(
    prefect_api, busy_database
):
    target = PostgresTarget(dsn=busy_database)
    finding = list_slow_statements(target, order_by="total", max_mean_ms=5000, top=3)
    assert finding.status is FindingStatus.OK, finding.summary
    totals = [s["total_ms"] for s in finding.evidence["statements"]]
    assert len(totals) == 3 and totals == sorted(totals, reverse=True)
    assert "pg_sleep" in finding.evidence["statements"][0]["query"]
    assert "no statement averages more than 5000 ms" in finding.summary


def test_without_the_extension_the_finding_says_what_to_do(prefect_api, postgres_target):
    finding = list_slow_statements(postgres_target)
    assert finding.status is FindingStatus.SKIPPED
    assert "shared_preload_libraries" in finding.summary
    assert "CREATE EXTENSION pg_stat_statements" in finding.summary
    assert finding.evidence["installed"] is False


def test_created_but_not_preloaded_says_so(prefect_api, postgres_target, scratch_database):
    with psycopg.connect(scratch_database, autocommit=True) as conn:
        if conn.execute("SHOW shared_preload_libraries").fetchone()[0]:
            pytest.skip("the shared server preloads libraries: not a server without it")
        conn.execute("CREATE EXTENSION pg_stat_statements")
    finding = list_slow_statements(postgres_target)
    assert finding.status is FindingStatus.SKIPPED
    assert finding.evidence == {**finding.evidence, "installed": True, "preloaded": False}
    assert "is not in shared_preload_libraries" in finding.summary
    assert "is not created" not in finding.summary


def test_preloaded_but_not_created_names_the_database(prefect_api, diagnosed_postgres):
    dsn = small_database(diagnosed_postgres.dsn, f"fb_noext_{secrets.token_hex(3)}")
    finding = list_slow_statements(PostgresTarget(dsn=dsn))
    assert finding.status is FindingStatus.SKIPPED
    assert finding.evidence == {**finding.evidence, "installed": False, "preloaded": True}
    assert "is not created in database" in finding.summary
    assert "is not in shared_preload_libraries" not in finding.summary
