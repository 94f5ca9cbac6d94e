"""PostgreSQL diagnostics and mitigations (runbooks 000 sc. 2, 001 pattern 1, 004 DB issues).

Every statement is bounded by the target's statement_timeout and connect timeout (a Prefect
timeout cannot interrupt a blocking call in a worker thread). Reads retry on transient
failures and end as an ``unreachable`` finding in the assessment if the server never
answers; the one write, ``terminate_backends``, is destructive.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from blocks.postgres import PostgresTarget
from incident.errors import PermanentError, TransientError
from incident.models import Action, ActionStatus, Approval, Finding, FindingStatus, Plan
from incident.redact import redact
from tasks.destructive import destructive
from tasks.retrying import retry_only_transient

__all__ = [
    "count_connections_by_state",
    "list_lock_waits",
    "list_long_running_queries",
    "measure_connection_headroom",
    "terminate_backends",
]

READ_OPTIONS: dict[str, Any] = {
    "retries": 3,
    "retry_delay_seconds": exponential_backoff(backoff_factor=0.5),
    "retry_jitter_factor": 0.5,
    "retry_condition_fn": retry_only_transient,
    "cache_policy": NO_CACHE,
}

_BACKEND_COLUMNS = """
    a.pid, a.usename, a.datname, a.application_name, host(a.client_addr) AS client_addr,
    a.state, a.backend_start, a.xact_start, a.query_start, a.state_change,
    a.wait_event_type, a.wait_event, left(a.query, 500) AS query,
    round(extract(epoch FROM now() - CASE WHEN a.state = 'active' THEN a.query_start
                                          ELSE a.state_change END))::int AS age_seconds
"""


def _query(target: PostgresTarget, sql: str, params: Any = None) -> list[dict[str, Any]]:
    """One read on a fresh connection; query errors are classified here."""
    with target.connect() as conn:
        try:
            return conn.execute(sql, params).fetchall()
        except psycopg.errors.QueryCanceled:
            raise TransientError(
                f"a diagnostic on {target.label} hit its statement timeout: the server is "
                "overloaded; raise statement_timeout_ms in its block if this persists"
            ) from None
        except psycopg.OperationalError as exc:
            raise TransientError(
                f"lost {target.label} mid-query: {redact(str(exc), target.dsn.get_secret_value())}"
            ) from None
        except psycopg.errors.InsufficientPrivilege as exc:
            raise PermanentError(
                f"the role in {target.label}'s DSN lacks a privilege ({exc}): grant it "
                "pg_read_all_stats and pg_signal_backend"
            ) from None


def _scope(target: PostgresTarget) -> str:
    return " AND a.datname = current_database()" if target.only_own_database else ""


def _jsonable(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
        for row in rows
    ]


@task(name="measure_connection_headroom", **READ_OPTIONS)
def measure_connection_headroom(target: PostgresTarget, min_headroom: float = 0.1) -> Finding:
    """Runbook 004: connections used against max_connections, and against role/database limits.

    A pool exhausts at the tightest limit, so every limit that is set is a scope of its own.
    """
    server = _query(
        target,
        "SELECT current_setting('max_connections')::int AS max_connections,"
        " current_setting('superuser_reserved_connections')::int AS reserved,"
        " (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')::int"
        " AS used",
    )[0]
    scopes: list[dict[str, Any]] = [
        {
            "scope": "server",
            "name": "max_connections",
            "limit": server["max_connections"] - server["reserved"],
            "used": server["used"],
        }
    ]
    scopes += _query(
        target,
        "SELECT 'role' AS scope, r.rolname AS name, r.rolconnlimit AS limit,"
        " count(a.pid)::int AS used FROM pg_roles r"
        " LEFT JOIN pg_stat_activity a ON a.usename = r.rolname"
        "  AND a.backend_type = 'client backend'"
        " WHERE r.rolconnlimit >= 0 GROUP BY r.rolname, r.rolconnlimit"
        " UNION ALL "
        "SELECT 'database', d.datname, d.datconnlimit, count(a.pid)::int FROM pg_database d"
        " LEFT JOIN pg_stat_activity a ON a.datname = d.datname"
        "  AND a.backend_type = 'client backend'"
        " WHERE d.datconnlimit >= 0 GROUP BY d.datname, d.datconnlimit",
    )
    for scope in scopes:
        scope["free"] = max(scope["limit"] - scope["used"], 0)
        scope["free_ratio"] = round(scope["free"] / scope["limit"], 3) if scope["limit"] else 0.0
    tightest = min(scopes, key=lambda s: s["free_ratio"])
    exhausted = [s for s in scopes if s["free"] == 0 or s["free_ratio"] < min_headroom]
    if exhausted:
        status = FindingStatus.CRITICAL
    elif tightest["free_ratio"] < 2 * min_headroom:
        status = FindingStatus.WARNING
    else:
        status = FindingStatus.OK
    summary = (
        f"tightest limit {tightest['scope']} {tightest['name']}: {tightest['used']}/"
        f"{tightest['limit']} used, {tightest['free']} free"
        + (f"; {len(exhausted)} limit(s) exhausted" if exhausted else "")
    )
    return Finding(
        check="connection_headroom",
        target=target.label,
        status=status,
        summary=summary,
        evidence={"scopes": scopes, "tightest": tightest, "min_headroom": min_headroom},
    )


@task(name="count_connections_by_state", **READ_OPTIONS)
def count_connections_by_state(target: PostgresTarget) -> Finding:
    """Runbook 000 phase 2: ``SELECT state, count(*) FROM pg_stat_activity GROUP BY state``."""
    rows = _query(
        target,
        "SELECT coalesce(state, 'unknown') AS state, count(*)::int AS count"
        " FROM pg_stat_activity WHERE backend_type = 'client backend'"
        " GROUP BY 1 ORDER BY 2 DESC",
    )
    by_state = {r["state"]: r["count"] for r in rows}
    idle_in_tx = sum(v for k, v in by_state.items() if k.startswith("idle in transaction"))
    return Finding(
        check="connections_by_state",
        target=target.label,
        status=FindingStatus.WARNING if idle_in_tx else FindingStatus.OK,
        summary=", ".join(f"{v} {k}" for k, v in by_state.items()) or "no client connections",
        evidence={"by_state": by_state, "idle_in_transaction": idle_in_tx},
    )


@task(name="list_long_running_queries", **READ_OPTIONS)
def list_long_running_queries(target: PostgresTarget, older_than: timedelta) -> Finding:
    """Runbooks 001/004: queries running, or transactions left idle, longer than the threshold."""
    rows = _query(
        target,
        f"SELECT {_BACKEND_COLUMNS} FROM pg_stat_activity a"
        " WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
        + _scope(target)
        + " AND ((a.state = 'active' AND a.query_start < now() - %(older)s)"
        "   OR (a.state LIKE 'idle in transaction%%' AND a.state_change < now() - %(older)s))"
        " ORDER BY age_seconds DESC",
        {"older": older_than},
    )
    backends = _jsonable(rows)
    return Finding(
        check="long_running_queries",
        target=target.label,
        status=FindingStatus.WARNING if backends else FindingStatus.OK,
        summary=(
            f"{len(backends)} backend(s) active or idle in transaction for more than "
            f"{int(older_than.total_seconds())} s"
        ),
        evidence={"backends": backends, "older_than_seconds": older_than.total_seconds()},
    )


@task(name="list_lock_waits", **READ_OPTIONS)
def list_lock_waits(target: PostgresTarget) -> Finding:
    """Runbook 004's blocking-lock query, as a tree: who waits on whom, and who is at the root."""
    waiting = _jsonable(
        _query(
            target,
            f"SELECT {_BACKEND_COLUMNS}, pg_blocking_pids(a.pid) AS blocked_by"
            " FROM pg_stat_activity a WHERE cardinality(pg_blocking_pids(a.pid)) > 0"
            + _scope(target),
        )
    )
    waiter_pids = {w["pid"] for w in waiting}
    blocker_pids = sorted({p for w in waiting for p in w["blocked_by"]})
    roots = (
        _jsonable(
            _query(
                target,
                f"SELECT {_BACKEND_COLUMNS} FROM pg_stat_activity a WHERE a.pid = ANY(%s)",
                ([p for p in blocker_pids if p not in waiter_pids],),
            )
        )
        if blocker_pids
        else []
    )
    for root in roots:
        root["blocks"] = sorted(w["pid"] for w in waiting if root["pid"] in w["blocked_by"])
        root["longest_wait_seconds"] = max(
            (w["age_seconds"] or 0 for w in waiting if root["pid"] in w["blocked_by"]), default=0
        )
    return Finding(
        check="lock_waits",
        target=target.label,
        status=FindingStatus.WARNING if waiting else FindingStatus.OK,
        summary=(
            f"{len(waiting)} backend(s) waiting on locks held by {len(roots)} root blocker(s)"
            if waiting
            else "no lock waits"
        ),
        evidence={"waiting": waiting, "roots": roots},
    )


@destructive(
    "terminate_backends", retries=2, retry_condition_fn=retry_only_transient, cache_policy=NO_CACHE
)
def terminate_backends(
    target: PostgresTarget, plan: Plan, approval: Approval | None, *, dry_run: bool = False
) -> Action:
    """Runbook 000 sc. 2 / 004: ``pg_terminate_backend`` for exactly the approved backends.

    A backend is matched by pid *and* start time, so a pid the server has since reused for a
    new connection is never touched; one already gone is a no-op, so a retry is safe.
    """
    pids = [int(item["pid"]) for item in plan.items]
    starts = [item["backend_start"] for item in plan.items]
    with target.connect() as conn:
        wait = conn.info.server_version >= 140000 and not dry_run
        terminate = "pg_terminate_backend(a.pid, 5000)" if wait else "pg_terminate_backend(a.pid)"
        rows = conn.execute(
            "SELECT p.pid, a.pid IS NOT NULL AS present, "
            + ("false" if dry_run else f"CASE WHEN a.pid IS NOT NULL THEN {terminate} END")
            + " AS terminated"
            " FROM unnest(%s::int[], %s::timestamptz[]) AS p(pid, started)"
            " LEFT JOIN pg_stat_activity a ON a.pid = p.pid AND a.backend_start = p.started"
            " ORDER BY p.pid",
            (pids, starts),
        ).fetchall()
    results = tuple(
        {
            "pid": r["pid"],
            "outcome": (
                "would terminate"
                if dry_run and r["present"]
                else "terminated"
                if r["terminated"]
                else "already gone"
                if not r["present"]
                else "not terminated"
            ),
        }
        for r in rows
    )
    done = [r for r in results if r["outcome"] == "terminated"]
    if dry_run:
        status = ActionStatus.DRY_RUN
        summary = f"dry run: would terminate {sum(r['present'] for r in rows)} backend(s)"
    elif done:
        status = ActionStatus.APPLIED
        summary = f"terminated {len(done)} of {len(results)} planned backend(s)"
    else:
        status = ActionStatus.NOOP
        summary = "every planned backend was already gone: nothing to do"
    return Action(
        plan=plan,
        status=status,
        summary=summary,
        results=results,
        approver=approval.approver if approval else "",
    )
