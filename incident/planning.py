"""From findings to a plan: which backends to terminate, and why each one.

Pure functions over findings, so what an approver sees is exactly what the evidence said.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from incident.models import Finding, Plan

__all__ = ["by_check", "plan_backend_termination"]

_SHOWN = ("pid", "backend_start", "usename", "datname", "application_name", "state", "query")


def by_check(findings: Iterable[Finding]) -> dict[str, Finding]:
    return {f.check: f for f in findings}


def plan_backend_termination(
    findings: Iterable[Finding],
    *,
    target: str,
    older_than: timedelta,
    protected_roles: Iterable[str] = (),
) -> Plan:
    """Backends idle in a transaction or running longer than ``older_than``, plus lock roots.

    A root blocker is included once its waiters have waited longer than the threshold, even
    if it is itself younger: it is what holds the pool. Protected roles are never included.
    """
    checks = by_check(findings)
    protected = set(protected_roles)
    threshold = older_than.total_seconds()
    chosen: dict[int, dict[str, Any]] = {}

    long_running = checks.get("long_running_queries")
    for backend in long_running.evidence.get("backends", []) if long_running else []:
        if backend["usename"] in protected:
            continue
        kind = "active query" if backend["state"] == "active" else backend["state"]
        chosen[backend["pid"]] = {
            **{k: backend.get(k) for k in _SHOWN},
            "age_seconds": backend.get("age_seconds"),
            "reason": f"{kind} for {backend.get('age_seconds')} s",
        }

    locks = checks.get("lock_waits")
    for root in locks.evidence.get("roots", []) if locks else []:
        if root["usename"] in protected or root.get("longest_wait_seconds", 0) < threshold:
            continue
        reason = f"blocks {len(root['blocks'])} backend(s) (pids {root['blocks']})"
        if root["pid"] in chosen:
            chosen[root["pid"]]["reason"] += f"; {reason}"
        else:
            chosen[root["pid"]] = {
                **{k: root.get(k) for k in _SHOWN},
                "age_seconds": root.get("age_seconds"),
                "reason": reason,
            }

    items = tuple(chosen[pid] for pid in sorted(chosen))
    return Plan(
        action="terminate_backends",
        target=target,
        reason=(
            f"{len(items)} backend(s) hold connections or locks for more than "
            f"{int(threshold)} s while the pool is exhausted"
        ),
        items=items,
        params={"older_than_seconds": threshold},
    )
