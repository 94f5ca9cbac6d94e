"""The PostgreSQL mitigation: terminate exactly the approved backends, as they were approved.

A pooled connection keeps its pid and ``backend_start`` for hours, so a pid is not a piece
of work: one planned while idle in a transaction may have committed and started a healthy
request by the time a person says yes. Each backend is therefore terminated only if it is
still in the condition that put it in the plan — same pid, start, state, transaction start,
query start and state change — checked in the very statement that terminates it. One that
moved on is spared and reported. Backends are handled one statement each, so a refusal
(a superuser's backend, a missing privilege) or a lost connection leaves every other
backend's outcome known.
"""

from __future__ import annotations

from typing import Any

import psycopg
from prefect.cache_policies import NO_CACHE

from blocks.postgres import PostgresTarget
from incident.errors import TransientError
from incident.models import Action, ActionStatus, Approval, Plan
from incident.redact import redact
from tasks.destructive import destructive, settled
from tasks.retrying import retry_only_transient

__all__ = ["OUTCOMES", "terminate_backends"]

TERMINATED, WOULD, MOVED_ON, GONE = "terminated", "would terminate", "moved on", "already gone"
REFUSED, NOT_EXITED, NOT_ATTEMPTED = "refused", "signalled, still running", "not attempted"
UNKNOWN = "outcome unknown"
OUTCOMES = (TERMINATED, WOULD, MOVED_ON, GONE, REFUSED, NOT_EXITED, UNKNOWN, NOT_ATTEMPTED)

_SAME_WORK = (
    " a.pid = %(pid)s AND a.backend_start = %(backend_start)s"
    " AND a.backend_type = 'client backend'"
    " AND a.state IS NOT DISTINCT FROM %(state)s"
    " AND a.xact_start IS NOT DISTINCT FROM %(xact_start)s"
    " AND a.query_start IS NOT DISTINCT FROM %(query_start)s"
    " AND a.state_change IS NOT DISTINCT FROM %(state_change)s"
)


def _condition(item: dict[str, Any]) -> dict[str, Any]:
    return {
        k: item.get(k)
        for k in ("pid", "backend_start", "state", "xact_start", "query_start", "state_change")
    }


def _one(conn: psycopg.Connection[Any], item: dict[str, Any], dry_run: bool) -> str:
    """Terminate (or, dry, look at) one backend if it is still the planned piece of work."""
    signal = "false" if dry_run else "pg_terminate_backend(a.pid, 5000)"
    if not dry_run and conn.info.server_version < 140000:
        signal = "pg_terminate_backend(a.pid)"  # no wait-for-exit before PostgreSQL 14
    row = conn.execute(
        f"SELECT {signal} AS signalled FROM pg_stat_activity a WHERE" + _SAME_WORK,
        _condition(item),
    ).fetchone()
    if row is not None:
        return WOULD if dry_run else (TERMINATED if row["signalled"] else NOT_EXITED)
    still_there = conn.execute(
        "SELECT 1 FROM pg_stat_activity a WHERE a.pid = %(pid)s"
        " AND a.backend_start = %(backend_start)s",
        _condition(item),
    ).fetchone()
    return MOVED_ON if still_there else GONE


def _summary(results: list[dict[str, Any]], dry_run: bool) -> tuple[ActionStatus, str]:
    """Counts by outcome, each with its pids: what was and was not done, exactly."""
    pids = {o: [r["pid"] for r in results if r["outcome"] == o] for o in OUTCOMES}
    count = {o: len(p) for o, p in pids.items()}
    parts = [
        f"{len(p)} {o} (pid{'s' if len(p) > 1 else ''} {', '.join(map(str, p))})"
        for o, p in pids.items()
        if p
    ]
    total = len(results)
    if dry_run:
        return ActionStatus.DRY_RUN, f"dry run of {total} planned backend(s): " + ", ".join(parts)
    failed = count[REFUSED] + count[NOT_ATTEMPTED] + count[NOT_EXITED] + count[UNKNOWN]
    text = f"of {total} planned backend(s): " + ", ".join(parts)
    return settled(count[TERMINATED], failed, text, "nothing terminated")


@destructive(
    "terminate_backends", retries=2, retry_condition_fn=retry_only_transient, cache_policy=NO_CACHE
)
def terminate_backends(
    target: PostgresTarget, plan: Plan, approval: Approval | None, *, dry_run: bool = False
) -> Action:
    """Runbook 000 sc. 2 / 004: ``pg_terminate_backend`` for exactly the approved backends.

    Idempotent: a backend already gone is a no-op, so a retry after a failed connect is
    safe. A connection lost half-way is not retried here: what was done is reported and the
    engine escalates, rather than acting on a plan that is getting older.
    """
    items = sorted(plan.items, key=lambda i: int(i["pid"]))
    results: list[dict[str, Any]] = []
    secret = target.dsn.get_secret_value()
    with target.connect() as conn:  # a failure here did nothing: TransientError, retried
        for n, item in enumerate(items):
            pid = int(item["pid"])
            try:
                outcome, detail = _one(conn, item, dry_run), ""
            except psycopg.errors.InsufficientPrivilege as exc:
                outcome, detail = REFUSED, redact(str(exc).splitlines()[0], secret)
            except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
                lost = redact(str(exc).strip().splitlines()[0] if str(exc).strip() else "", secret)
                results.append(
                    {"pid": pid, "outcome": UNKNOWN, "detail": f"connection lost: {lost}"}
                )
                results += [
                    {"pid": int(i["pid"]), "outcome": NOT_ATTEMPTED, "detail": "connection lost"}
                    for i in items[n + 1 :]
                ]
                break
            results.append({"pid": pid, "outcome": outcome, "detail": detail})
    if not results and items:
        raise TransientError(f"no statement reached {target.label}: nothing was done")
    status, summary = _summary(results, dry_run)
    return Action(
        plan=plan,
        status=status,
        summary=summary,
        results=tuple(results),
        approver=approval.approver if approval else "",
    )
