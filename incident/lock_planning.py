"""Lock contention: from the lock tree to a decision (runbooks 000 "Check for locks", 001
"Check lock waits", 004 "blocking locks" then "terminate long-running queries").

Pure functions over findings. Only the *roots* of the tree are ever planned: a waiter goes
on by itself once its blocker ends, so terminating it too would lose its work for nothing.
A root is planned only when its waiters have waited past the policy's threshold (a lock
held for a moment is normal) and only within the target's termination scope; every root
outside it is named in the notes, so the person who takes over knows whom to ask.
"""

from __future__ import annotations

from incident.decision import Decision, by_check
from incident.models import Finding, FindingStatus, Plan
from incident.pool_planning import ACTION, TerminationScope, excluded_because, plan_item

__all__ = ["decide_lock_relief"]


def decide_lock_relief(
    findings: list[Finding], scope: TerminationScope, min_wait_seconds: float
) -> Decision:
    """Terminate the lock roots in scope whose waiters waited ``min_wait_seconds`` or more."""
    locks = by_check(findings).get("lock_waits")
    if locks is None or locks.status is FindingStatus.UNREACHABLE:
        why = locks.summary if locks else "the lock-waits check did not run"
        return Decision.escalate(f"cannot read the lock tree: {why}")
    roots = locks.evidence.get("roots", [])
    if not roots:
        return Decision.escalate(
            "no backend waits on a lock: the slowness is elsewhere (runbook 001: long-running "
            "queries, the application's own pool)"
        )
    notes: list[str] = []
    items = []
    for root in roots:
        blocks = f"blocks {len(root['blocks'])} backend(s) (pids {root['blocks']})"
        waited = float(root.get("longest_wait_seconds") or 0)
        if waited < min_wait_seconds:
            notes.append(
                f"lock root pid {root['pid']} {blocks} for {waited:.0f} s, under the "
                f"{min_wait_seconds:.0f} s threshold: left to finish"
            )
            continue
        if why_not := excluded_because(root, scope):
            notes.append(f"lock root pid {root['pid']} {blocks}, not planned: {why_not}")
            continue
        reason = f"{root.get('state') or 'holding'}; {blocks}, the longest waiting {waited:.0f} s"
        items.append(plan_item(root, reason, locks.observed_at.isoformat()))
    if not items:
        return Decision.escalate(
            f"lock contention ({locks.summary}) but no root Firebreak may end: " + "; ".join(notes),
            notes=notes,
        )
    plan = Plan(
        action=ACTION,
        target=scope.target,
        reason=(
            f"{len(items)} lock root(s) keep others waiting for more than "
            f"{min_wait_seconds:.0f} s: end the root, the waiters go on by themselves"
        ),
        items=tuple(sorted(items, key=lambda i: i["pid"])),
        params={"older_than_seconds": min_wait_seconds, "kind": "lock-roots"},
    )
    return Decision.mitigate(f"lock contention: {locks.summary}", [plan], notes=notes)
