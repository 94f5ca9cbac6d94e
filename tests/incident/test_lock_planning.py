"""The lock-contention decision from the lock tree alone: only roots are planned, only in
scope, only past the threshold; everything left out is named for the person taking over."""

from __future__ import annotations

from typing import Any

from incident.decision import Verdict
from incident.lock_planning import decide_lock_relief
from incident.models import Finding, FindingStatus
from incident.pool_planning import TerminationScope

SCOPE = TerminationScope(
    target="postgresql://db:5432/orders", database="orders", protected_roles=frozenset({"ops"})
)


def backend(pid: int, **extra: Any) -> dict[str, Any]:
    row = {
        "pid": pid,
        "usename": "app",
        "datname": "orders",
        "state": "idle in transaction",
        "backend_type": "client backend",
        "superuser": False,
        "backend_start": "2026-12-04T03:00:00+00:00",
        "xact_start": "2026-12-04T03:01:00+00:00",
        "state_change": "2026-12-04T03:01:01+00:00",
        "query": "UPDATE orders SET n = n + 1 WHERE id = 1",
    }
    return {**row, **extra}


def tree(*roots: dict[str, Any], waiting: list[dict[str, Any]] | None = None) -> list[Finding]:
    return [
        Finding(
            check="lock_waits",
            target="orders-db",
            status=FindingStatus.WARNING if roots else FindingStatus.OK,
            summary=f"{len(waiting or [])} waiting on {len(roots)} root(s)",
            evidence={"roots": list(roots), "waiting": waiting or []},
        )
    ]


def root(pid: int, blocks: list[int], waited: float, **extra: Any) -> dict[str, Any]:
    return backend(pid, blocks=blocks, longest_wait_seconds=waited, **extra)


def test_only_the_roots_past_the_threshold_in_scope_are_planned_and_never_a_waiter():
    waiters = [backend(p, state="active", blocked_by=[10]) for p in (11, 12)]
    findings = tree(
        root(10, [11, 12], waited=40),
        root(20, [21], waited=1),  # a moment's lock: normal traffic
        root(30, [31], waited=50, superuser=True, usename="postgres"),
        root(40, [41], waited=50, usename="ops"),
        root(50, [51], waited=50, datname="billing"),
        waiting=waiters,
    )

    decision = decide_lock_relief(findings, SCOPE, min_wait_seconds=5)

    assert decision.verdict is Verdict.MITIGATE
    [plan] = decision.plans
    assert [i["pid"] for i in plan.items] == [10]
    item = plan.items[0]
    assert (item["backend_start"], item["xact_start"]) == (
        "2026-12-04T03:00:00+00:00",
        "2026-12-04T03:01:00+00:00",
    ), "the condition it was planned in, for the apply-time check"
    assert "blocks 2 backend(s)" in item["reason"]
    notes = " | ".join(decision.notes)
    assert "pid 20" in notes and "under the 5 s threshold" in notes
    assert "pid 30" in notes and "superuser" in notes
    assert "pid 40" in notes and "protected" in notes
    assert "pid 50" in notes and "billing" in notes


def test_roots_all_out_of_scope_escalate_naming_them():
    findings = tree(root(30, [31], waited=50, superuser=True, usename="postgres"))
    decision = decide_lock_relief(findings, SCOPE, min_wait_seconds=5)
    assert decision.verdict is Verdict.ESCALATE
    assert "no root Firebreak may end" in decision.why and "pid 30" in decision.why


def test_no_lock_waits_is_not_this_scenario():
    decision = decide_lock_relief(tree(), SCOPE, min_wait_seconds=5)
    assert decision.verdict is Verdict.ESCALATE
    assert "no backend waits on a lock" in decision.why


def test_an_unreadable_lock_tree_escalates_with_the_reason():
    unreachable = Finding(
        check="lock_waits",
        target="orders-db",
        status=FindingStatus.UNREACHABLE,
        summary="connection refused: check the DSN",
    )
    decision = decide_lock_relief([unreachable], SCOPE, min_wait_seconds=5)
    assert decision.verdict is Verdict.ESCALATE
    assert "connection refused" in decision.why
    missing = decide_lock_relief([], SCOPE, min_wait_seconds=5)
    assert "did not run" in missing.why
