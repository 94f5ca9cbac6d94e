"""The slowest statements from ``pg_stat_statements`` (runbook 003 "review query performance").

The extension has to be both preloaded (``shared_preload_libraries``, a restart) and created
in the database (``CREATE EXTENSION``); when either is missing the finding says which, and
what to run, instead of failing. Counters are cumulative since the extension's last reset, so
the ranking is of statements' history, not of the last minute. Query text is masked with
`redact_sql`: pg_stat_statements replaces constants of plannable statements with ``$n``, but
keeps utility statements (``DO`` blocks, ``ALTER ROLE ... PASSWORD``) as they were sent.
Needs PostgreSQL 13+ (the ``*_exec_time`` columns).
"""

from __future__ import annotations

from typing import Literal

from psycopg import sql

from blocks.postgres import PostgresTarget
from incident.models import Finding, FindingStatus
from incident.redact import redact_sql
from tasks.diagnostic import diagnostic
from tasks.postgres_session import query

__all__ = ["list_slow_statements"]

_ORDER = {"mean": "mean_exec_time", "total": "total_exec_time"}
_SETUP = (
    "add pg_stat_statements to shared_preload_libraries (a server restart), then run "
    "CREATE EXTENSION pg_stat_statements in database {db}"
)


def _preloaded(setting: str) -> bool:
    names = (name.strip().strip('"').strip() for name in setting.split(","))
    return "pg_stat_statements" in names


@diagnostic("slow_statements", tags=("postgres",))
def list_slow_statements(
    target: PostgresTarget,
    top: int = 10,
    order_by: Literal["mean", "total"] = "mean",
    max_mean_ms: float = 500.0,
    min_calls: int = 1,
) -> Finding:
    """The ``top`` statements by mean (or total) execution time; a warning when any of them
    takes longer than ``max_mean_ms`` on average. Only this database's statements when the
    target is limited to its own database."""
    [setup] = query(
        target,
        "SELECT current_database() AS database,"
        " current_setting('server_version_num')::int AS version_num,"
        " current_setting('shared_preload_libraries') AS preload,"
        " (SELECT extnamespace::regnamespace::text FROM pg_extension"
        "   WHERE extname = 'pg_stat_statements') AS schema,"
        " (SELECT extversion FROM pg_extension WHERE extname = 'pg_stat_statements') AS version",
    )
    preloaded, installed = _preloaded(setup["preload"]), setup["schema"] is not None
    if setup["version_num"] < 130000:
        return Finding(
            check="slow_statements",
            target=target.label,
            status=FindingStatus.SKIPPED,
            summary="slowest statements need PostgreSQL 13 or later (the *_exec_time columns)",
            evidence={"server_version_num": setup["version_num"]},
        )
    if not (preloaded and installed):
        missing = [
            *([] if preloaded else ["is not in shared_preload_libraries"]),
            *([] if installed else [f"is not created in database {setup['database']}"]),
        ]
        return Finding(
            check="slow_statements",
            target=target.label,
            status=FindingStatus.SKIPPED,
            summary=(
                f"no statement statistics: pg_stat_statements {' and '.join(missing)}; to "
                + _SETUP.format(db=setup["database"])
            ),
            evidence={
                "preloaded": preloaded,
                "installed": installed,
                "database": setup["database"],
            },
        )
    own = " AND s.dbid = (SELECT oid FROM pg_database WHERE datname = current_database())"
    rows = query(
        target,
        sql.SQL(
            "SELECT s.queryid::text AS queryid, s.userid::regrole::text AS role,"
            " d.datname AS database, s.calls::bigint AS calls,"
            " round(s.mean_exec_time::numeric, 2)::float AS mean_ms,"
            " round(s.total_exec_time::numeric, 2)::float AS total_ms,"
            " round(s.max_exec_time::numeric, 2)::float AS max_ms, s.rows::bigint AS rows,"
            " left(s.query, 1000) AS query"
            " FROM {schema}.pg_stat_statements s LEFT JOIN pg_database d ON d.oid = s.dbid"
            " WHERE s.calls >= %(min_calls)s{own}"
            " ORDER BY {order} DESC LIMIT %(top)s"
        ).format(
            schema=sql.Identifier(setup["schema"]),
            own=sql.SQL(own if target.only_own_database else ""),
            order=sql.Identifier("s", _ORDER[order_by]),
        ),
        {"min_calls": min_calls, "top": top},
    )
    statements = [{**row, "query": redact_sql(row["query"])} for row in rows]
    slow = [s for s in statements if s["mean_ms"] > max_mean_ms]
    if not statements:
        summary = "no statements recorded yet"
    elif slow:
        worst = max(slow, key=lambda s: s["mean_ms"])
        summary = (
            f"{len(slow)} statement(s) average more than {max_mean_ms:g} ms; the slowest "
            f"takes {worst['mean_ms']:g} ms over {worst['calls']} call(s)"
        )
    else:
        first = statements[0]
        summary = (
            f"no statement averages more than {max_mean_ms:g} ms; the top one by {order_by} "
            f"time takes {first['mean_ms']:g} ms on average over {first['calls']} call(s)"
        )
    return Finding(
        check="slow_statements",
        target=target.label,
        status=FindingStatus.WARNING if slow else FindingStatus.OK,
        summary=summary,
        evidence={
            "statements": statements,
            "order_by": order_by,
            "max_mean_ms": max_mean_ms,
            "extension_version": setup["version"],
        },
    )
