"""Connection-pool exhaustion: from findings to a decision (runbooks 000 sc. 2, 001, 004).

Pure functions over findings. The ladder, best first: terminate what holds the pool (long
transactions and queries, and the roots of lock trees), else terminate idle connections past
an age (runbook 001's "kill idle connections"), else escalate naming what a person should do
(restart the application to reset its pools, raise the pool or the limit). A backend is only
ever planned when it is a client backend of the target's own database whose role may be
touched; everything else the evidence shows is reported in the decision's notes.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from incident.decision import Decision, by_check
from incident.models import Finding, FindingStatus, Plan

__all__ = ["ACTION", "TerminationScope", "decide_pool_relief", "excluded_because", "plan_item"]

ACTION = "terminate_backends"
# What a plan item carries: enough to find the backend again and to know, at apply time,
# that it is still in the condition it was planned for.
_KEPT = (
    "pid",
    "backend_start",
    "usename",
    "datname",
    "application_name",
    "client_addr",
    "state",
    "xact_start",
    "query_start",
    "state_change",
    "age_seconds",
    "query",
)


class TerminationScope(BaseModel):
    """Which backends a plan may name on this target (from its block)."""

    model_config = ConfigDict(frozen=True)

    target: str = Field(description="The target's identity, e.g. postgresql://host:5432/orders")
    database: str | None = Field(description="Only this database's backends; None: any")
    protected_roles: frozenset[str] = frozenset()
    include_superusers: bool = False


def excluded_because(backend: dict[str, Any], scope: TerminationScope) -> str | None:
    """Why this backend may not be planned, or None if it may."""
    if backend.get("backend_type", "client backend") != "client backend":
        return f"it is a {backend.get('backend_type')} process, not a client"
    if scope.database is not None and backend.get("datname") != scope.database:
        return f"it belongs to database {backend.get('datname')}, not {scope.database}"
    if backend.get("usename") in scope.protected_roles:
        return f"role {backend.get('usename')} is protected"
    if backend.get("superuser") and not scope.include_superusers:
        return f"role {backend.get('usename')} is a superuser"
    return None


def plan_item(backend: dict[str, Any], reason: str, as_of: str) -> dict[str, Any]:
    """A backend as a plan item: what finds it again, and the condition it was planned in."""
    return {**{k: backend.get(k) for k in _KEPT}, "reason": reason, "as_of": as_of}


def _released_waiters(checks: dict[str, Finding], scope: TerminationScope) -> dict[int, list[int]]:
    """Waiters whose every blocker is a root this plan terminates: they will go on by
    themselves once it ends, so terminating them too would only lose their work."""
    locks = checks.get("lock_waits")
    if locks is None:
        return {}
    roots = {
        r["pid"] for r in locks.evidence.get("roots", []) if excluded_because(r, scope) is None
    }
    return {
        w["pid"]: w["blocked_by"]
        for w in locks.evidence.get("waiting", [])
        if w.get("blocked_by") and set(w["blocked_by"]) <= roots
    }


def _offenders(checks: dict[str, Finding], scope: TerminationScope, notes: list[str]) -> Plan:
    threshold = 0.0
    chosen: dict[int, dict[str, Any]] = {}
    released = _released_waiters(checks, scope)
    long_running = checks.get("long_running_queries")
    if long_running is not None:
        threshold = float(long_running.evidence.get("older_than_seconds", 0))
        as_of = long_running.observed_at.isoformat()
        for backend in long_running.evidence.get("backends", []):
            kind = "active query" if backend["state"] == "active" else backend["state"]
            why_not = excluded_because(backend, scope)
            if why_not:
                notes.append(f"pid {backend['pid']} ({kind}) not planned: {why_not}")
                continue
            if backend["pid"] in released:
                notes.append(
                    f"pid {backend['pid']} waits on {released[backend['pid']]}, which the plan "
                    "terminates: it will go on by itself, not planned"
                )
                continue
            reason = f"{kind} for {backend.get('age_seconds')} s"
            chosen[backend["pid"]] = plan_item(backend, reason, as_of)
    locks = checks.get("lock_waits")
    for root in locks.evidence.get("roots", []) if locks else []:
        if root.get("longest_wait_seconds", 0) < threshold:
            continue
        blocks = f"blocks {len(root['blocks'])} backend(s) (pids {root['blocks']})"
        why_not = excluded_because(root, scope)
        if why_not:
            notes.append(f"lock root pid {root['pid']} {blocks}, not planned: {why_not}")
            continue
        if root["pid"] in chosen:
            chosen[root["pid"]]["reason"] += f"; {blocks}"
        else:
            chosen[root["pid"]] = plan_item(root, blocks, locks.observed_at.isoformat())
    return Plan(
        action=ACTION,
        target=scope.target,
        reason=(
            f"{len(chosen)} backend(s) hold connections or locks for more than "
            f"{int(threshold)} s while the pool is exhausted"
        ),
        items=tuple(chosen[pid] for pid in sorted(chosen)),
        params={"older_than_seconds": threshold, "kind": "offenders"},
    )


def _idle(checks: dict[str, Finding], scope: TerminationScope, notes: list[str]) -> Plan:
    idle = checks.get("idle_connections")
    items = []
    age = float(idle.evidence.get("older_than_seconds", 0)) if idle else 0.0
    for backend in idle.evidence.get("backends", []) if idle else []:
        why_not = excluded_because(backend, scope)
        if why_not:
            notes.append(f"idle pid {backend['pid']} not planned: {why_not}")
            continue
        reason = f"idle for {backend.get('age_seconds')} s"
        items.append(plan_item(backend, reason, idle.observed_at.isoformat()))
    return Plan(
        action=ACTION,
        target=scope.target,
        reason=f"{len(items)} connection(s) idle for more than {int(age)} s while the pool is full",
        items=tuple(sorted(items, key=lambda i: i["pid"])),
        params={"idle_older_than_seconds": age, "kind": "idle"},
    )


def decide_pool_relief(findings: list[Finding], scope: TerminationScope) -> Decision:
    """The DB-pool scenario's decision, from its findings alone."""
    checks = by_check(findings)
    headroom = checks.get("connection_headroom")
    if headroom is None or headroom.status is FindingStatus.UNREACHABLE:
        why = headroom.summary if headroom else "the headroom check did not run"
        return Decision.escalate(f"cannot assess the pool: {why}")
    if not headroom.is_problem:
        return Decision.escalate(
            f"the database has room ({headroom.summary}): the exhaustion is in the "
            "application's own pool (runbook 001 pattern 1). Restart the application pods to "
            "reset their pools (runbook 004) or raise the pool size (runbook 000)"
        )
    notes: list[str] = []
    ladder = [_offenders(checks, scope, notes), _idle(checks, scope, notes)]
    blind = [
        f.summary
        for f in findings
        if f.status is FindingStatus.UNREACHABLE
        or (f.check == "monitoring_privileges" and f.is_problem)
    ]
    if any(not p.is_empty for p in ladder):
        return Decision.mitigate(
            f"pool exhausted ({headroom.summary})", ladder, notes=[*notes, *blind]
        )
    if blind:
        return Decision.escalate(
            f"pool exhausted ({headroom.summary}) but Firebreak cannot see what holds it: "
            + "; ".join(blind),
            notes=notes,
        )
    older = checks.get("long_running_queries")
    threshold = int(older.evidence.get("older_than_seconds", 0)) if older else 0
    return Decision.escalate(
        f"pool exhausted ({headroom.summary}) but no backend Firebreak may terminate is "
        f"older than {threshold} s or idle past the idle age: restart the application to "
        "reset its pools (runbook 004) or raise the pool limit (runbook 000)",
        notes=notes,
    )
