"""PostgreSQL diagnostics (runbooks 000 sc. 2, 001 pattern 1, 004 "Database Connectivity").

Each check is one `diagnostic`: retried when the server may answer next time, an
``unreachable`` finding when it never does. Statements are bounded by the target's
statement_timeout and connect timeout. Queries of one assessment share one connection
(`tasks.postgres_session.hold`). Query text is masked (`redact_sql`) before it leaves here.
The one write, ``terminate_backends``, is in `tasks.postgres_actions`.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from blocks.postgres import PostgresTarget
from incident.models import Finding, FindingStatus
from incident.pool_planning import excluded_because
from incident.redact import redact_sql
from tasks.diagnostic import diagnostic
from tasks.postgres_session import query

__all__ = [
    "BACKEND_COLUMNS",
    "check_monitoring_privileges",
    "count_connections_by_state",
    "list_idle_connections",
    "list_lock_waits",
    "list_long_running_queries",
    "measure_connection_headroom",
    "rows_for_people",
]

# What a plan needs to find a backend again and know it is still the same piece of work.
BACKEND_COLUMNS = """
    a.pid, a.usename, a.datname, a.application_name, host(a.client_addr) AS client_addr,
    a.backend_type, coalesce(r.rolsuper, false) AS superuser,
    a.state, a.backend_start, a.xact_start, a.query_start, a.state_change,
    a.wait_event_type, a.wait_event, left(a.query, 500) AS query,
    round(extract(epoch FROM now() - CASE WHEN a.state = 'active' THEN a.query_start
                                          ELSE a.state_change END))::int AS age_seconds
"""
_FROM = " FROM pg_stat_activity a LEFT JOIN pg_roles r ON r.oid = a.usesysid"
_CLIENTS = " WHERE a.backend_type = 'client backend' AND a.pid <> pg_backend_pid()"
_HIDDEN = "<insufficient privilege>"
# A row a role without pg_read_all_stats may not read shows no backend type or database,
# only its user: counted as a client (what takes a connection slot) rather than missed.
_CLIENT_OR_HIDDEN = (
    "(a.backend_type = 'client backend' OR (a.backend_type IS NULL AND a.usesysid IS NOT NULL))"
)


def _own_database(target: PostgresTarget) -> str:
    return " AND a.datname = current_database()" if target.only_own_database else ""


def rows_for_people(
    rows: list[dict[str, Any]], target: PostgresTarget | None = None
) -> list[dict[str, Any]]:
    """Rows as JSON-ready evidence: times as ISO text, query text masked, and, given the
    target, why a backend is outside what Firebreak may touch (``excluded``)."""
    scope = target.termination_scope() if target is not None else None
    out = []
    for row in rows:
        item = {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}
        if "query" in item:
            item["query"] = redact_sql(item["query"])
        if scope is not None:
            item["excluded"] = excluded_because(item, scope)
        out.append(item)
    return out


def _outside(backends: list[dict[str, Any]]) -> str:
    n = sum(1 for b in backends if b.get("excluded"))
    return f" ({n} outside what Firebreak may touch, reported only)" if n else ""


@diagnostic("connection_headroom", tags=("postgres",))
def measure_connection_headroom(target: PostgresTarget, min_headroom: float = 0.1) -> Finding:
    """Runbook 004: connections in use against every limit that binds this database.

    A pool exhausts at the tightest of: the server's max_connections (less the slots reserved
    for superusers), this database's CONNECTION LIMIT, and the CONNECTION LIMIT of each role
    that uses this database (or that the target names as an application role). Limits of 0
    (logins disabled on purpose) and roles that never connect here are reported, not judged.
    """
    [server] = query(
        target,
        "SELECT current_setting('max_connections')::int AS max_connections,"
        " current_setting('superuser_reserved_connections')::int"
        "  + coalesce(current_setting('reserved_connections', true), '0')::int AS reserved,"
        f" (SELECT count(*) FROM pg_stat_activity a WHERE {_CLIENT_OR_HIDDEN})::int AS used,"
        " (SELECT count(*) FROM pg_stat_activity a WHERE a.backend_type IS NULL"
        "   AND a.usesysid IS NOT NULL)::int AS hidden",
    )
    scopes: list[dict[str, Any]] = [
        {
            "scope": "server",
            "name": "max_connections",
            "limit": server["max_connections"] - server["reserved"],
            "used": server["used"],
        }
    ]
    limited = query(
        target,
        "SELECT 'database' AS scope, d.datname AS name, d.datconnlimit AS limit,"
        " (SELECT count(*) FROM pg_stat_activity a WHERE a.datname = d.datname"
        "   AND a.backend_type = 'client backend')::int AS used"
        " FROM pg_database d WHERE d.datname = current_database() AND d.datconnlimit >= 0"
        " UNION ALL "
        "SELECT 'role', r.rolname, r.rolconnlimit,"
        f" (SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid = r.oid"
        f"   AND {_CLIENT_OR_HIDDEN})::int"
        " FROM pg_roles r WHERE r.rolconnlimit >= 0 AND (r.rolname = ANY(%s) OR EXISTS ("
        "   SELECT 1 FROM pg_stat_activity a WHERE a.usesysid = r.oid"
        "   AND (a.datname = current_database() OR a.datname IS NULL)"
        f"   AND {_CLIENT_OR_HIDDEN}))",
        (list(target.application_roles),),
    )
    scopes += [s for s in limited if s["limit"] > 0]
    ignored = [
        {**s, "why": "connection limit 0: logins disabled"} for s in limited if not s["limit"]
    ]
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
        evidence={
            "scopes": scopes,
            "hidden": server["hidden"],
            "tightest": tightest,
            "exhausted": [f"{s['scope']} {s['name']}" for s in exhausted],
            "ignored": ignored,
            "min_headroom": min_headroom,
        },
    )


@diagnostic("connections_by_state", tags=("postgres",))
def count_connections_by_state(target: PostgresTarget) -> Finding:
    """Runbook 000 phase 2: ``SELECT state, count(*) FROM pg_stat_activity GROUP BY state``."""
    rows = query(
        target,
        "SELECT coalesce(a.state, CASE WHEN a.query = %s THEN 'hidden' ELSE 'unknown' END)"
        " AS state, count(*)::int AS count" + _FROM + _CLIENTS + _own_database(target) + ""
        " GROUP BY 1 ORDER BY 2 DESC",
        (_HIDDEN,),
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


@diagnostic("long_running_queries", tags=("postgres",))
def list_long_running_queries(target: PostgresTarget, older_than: timedelta) -> Finding:
    """Runbooks 001/004: queries running, or transactions left idle, longer than the threshold.

    Every client backend of this database in that condition is listed, whoever owns it; the
    planner decides which of them may be touched.
    """
    rows = query(
        target,
        f"SELECT {BACKEND_COLUMNS}" + _FROM + _CLIENTS + _own_database(target) + ""
        " AND ((a.state = 'active' AND a.query_start < now() - %(older)s)"
        "   OR (a.state LIKE 'idle in transaction%%' AND a.state_change < now() - %(older)s))"
        " ORDER BY age_seconds DESC",
        {"older": older_than},
    )
    backends = rows_for_people(rows, target)
    ours = [b for b in backends if not b["excluded"]]
    return Finding(
        check="long_running_queries",
        target=target.label,
        status=FindingStatus.WARNING if ours else FindingStatus.OK,
        summary=(
            f"{len(backends)} backend(s) active or idle in transaction for more than "
            f"{int(older_than.total_seconds())} s" + _outside(backends)
        ),
        evidence={"backends": backends, "older_than_seconds": older_than.total_seconds()},
    )


@diagnostic("idle_connections", tags=("postgres",))
def list_idle_connections(target: PostgresTarget, older_than: timedelta) -> Finding:
    """Runbook 001 pattern 1, "kill idle connections": sessions idle (no transaction) too long.

    Not a problem by itself (a pool keeps idle connections on purpose), so the verdict is OK;
    the planner offers them only when a limit is exhausted and nothing worse holds it.
    """
    rows = query(
        target,
        f"SELECT {BACKEND_COLUMNS}" + _FROM + _CLIENTS + _own_database(target) + ""
        " AND a.state = 'idle' AND a.state_change < now() - %(older)s ORDER BY age_seconds DESC",
        {"older": older_than},
    )
    backends = rows_for_people(rows, target)
    return Finding(
        check="idle_connections",
        target=target.label,
        status=FindingStatus.OK,
        summary=(
            f"{len(backends)} connection(s) idle for more than {int(older_than.total_seconds())} s"
        ),
        evidence={"backends": backends, "older_than_seconds": older_than.total_seconds()},
    )


@diagnostic("lock_waits", tags=("postgres",))
def list_lock_waits(target: PostgresTarget) -> Finding:
    """Runbook 004's blocking-lock query, as a tree: who waits on whom, and who is at the root.

    Roots are listed wherever they are (another database, a superuser, autovacuum): the
    planner reports those it may not touch instead of planning them.
    """
    waiting = rows_for_people(
        query(
            target,
            f"SELECT {BACKEND_COLUMNS}, pg_blocking_pids(a.pid) AS blocked_by"
            + _FROM
            + " WHERE cardinality(pg_blocking_pids(a.pid)) > 0"
            + _own_database(target),
        )
    )
    waiter_pids = {w["pid"] for w in waiting}
    blocker_pids = sorted({p for w in waiting for p in w["blocked_by"]})
    roots = (
        rows_for_people(
            query(
                target,
                f"SELECT {BACKEND_COLUMNS}" + _FROM + " WHERE a.pid = ANY(%s)",
                ([p for p in blocker_pids if p not in waiter_pids],),
            ),
            target,
        )
        if blocker_pids
        else []
    )
    for root in roots:
        root["blocks"] = sorted(w["pid"] for w in waiting if root["pid"] in w["blocked_by"])
        root["longest_wait_seconds"] = max(
            (w["age_seconds"] or 0 for w in waiting if root["pid"] in w["blocked_by"]), default=0
        )
    ours = [r for r in roots if not r["excluded"]]
    return Finding(
        check="lock_waits",
        target=target.label,
        status=FindingStatus.WARNING if ours else FindingStatus.OK,
        summary=(
            f"{len(waiting)} backend(s) waiting on locks held by {len(roots)} root blocker(s)"
            + _outside(roots)
            if waiting
            else "no lock waits"
        ),
        evidence={"waiting": waiting, "roots": roots},
    )


@diagnostic("monitoring_privileges", tags=("postgres",))
def check_monitoring_privileges(target: PostgresTarget) -> Finding:
    """Can the DSN's role see every backend's query and terminate backends? (runbook 004)

    Without ``pg_read_all_stats`` other roles' rows show no state, times or query, so a
    plan built from them would be empty for the wrong reason; this says so, and what to grant.
    """
    [row] = query(
        target,
        "SELECT current_user AS role, r.rolsuper AS superuser,"
        " pg_has_role(current_user, 'pg_read_all_stats', 'USAGE') AS read_all_stats,"
        " pg_has_role(current_user, 'pg_signal_backend', 'USAGE') AS signal_backend,"
        " (SELECT count(*) FROM pg_stat_activity a WHERE a.usesysid IS NOT NULL"
        "   AND a.query = %s)::int AS hidden"
        " FROM pg_roles r WHERE r.rolname = current_user",
        (_HIDDEN,),
    )
    missing = []
    if not (row["superuser"] or row["read_all_stats"]):
        missing.append("pg_read_all_stats")
    if not (row["superuser"] or row["signal_backend"]):
        missing.append("pg_signal_backend")
    if row["hidden"] or missing:
        grant = f"GRANT {', '.join(missing)} TO {row['role']}" if missing else "(none missing)"
        summary = (
            f"role {row['role']} cannot see {row['hidden']} backend(s) of other roles"
            if row["hidden"]
            else f"role {row['role']} sees every backend"
        ) + (f"; it lacks {', '.join(missing)}: {grant}" if missing else "")
        status = FindingStatus.WARNING
    else:
        summary = f"role {row['role']} sees every backend and may terminate them"
        status = FindingStatus.OK
    return Finding(
        check="monitoring_privileges",
        target=target.label,
        status=status,
        summary=summary,
        evidence={**row, "missing": missing},
    )
