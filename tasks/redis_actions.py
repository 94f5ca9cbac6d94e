"""The Redis mitigation: disconnect exactly the approved idle connections, as approved.

Each planned connection is looked up again by its id (Redis never reuses one) in one fresh
``CLIENT LIST`` and disconnected with ``CLIENT KILL ID`` only if it is still the same
connection (address, name, at least as old as planned) and still idle past the plan's age:
one that woke up and took work is spared and reported, as is one already gone. Nothing but
the listed ids is ever touched, and never this task's own connection.
"""

from __future__ import annotations

from typing import Any

import redis
from prefect.cache_policies import NO_CACHE

import incident.redis_planning  # noqa: F401  (registers how a kill item reads)
from blocks.redis import RedisTarget
from incident.errors import TransientError
from incident.models import Action, ActionStatus, Approval, Plan
from incident.redact import redact
from tasks.destructive import destructive, settled
from tasks.redis import read_info
from tasks.retrying import retry_only_transient

__all__ = ["CLIENT_OUTCOMES", "kill_redis_clients"]

KILLED, WOULD, BUSY, NOT_SAME, GONE = (
    "disconnected",
    "would disconnect",
    "busy again",
    "not the same connection",
    "already gone",
)
FAILED, NOT_ATTEMPTED = "refused", "not attempted"
CLIENT_OUTCOMES = (KILLED, WOULD, BUSY, NOT_SAME, GONE, FAILED, NOT_ATTEMPTED)


def _outcome(planned: dict[str, Any], now: dict[str, Any] | None, idle_at_least: float) -> str:
    if now is None:
        return GONE
    same = (
        now.get("addr") == planned["addr"]
        and (now.get("name") or "") == (planned.get("name") or "")
        and int(now.get("age", 0)) >= int(planned["age_seconds"])
    )
    if not same:
        return NOT_SAME
    if int(now.get("idle", 0)) < idle_at_least:
        return BUSY
    return ""


def _summary(results: list[dict[str, Any]], dry_run: bool) -> tuple[ActionStatus, str]:
    count = {o: sum(r["outcome"] == o for r in results) for o in CLIENT_OUTCOMES}
    text = f"of {len(results)} planned connection(s): " + ", ".join(
        f"{n} {o}" for o, n in count.items() if n
    )
    if dry_run:
        return ActionStatus.DRY_RUN, "dry run " + text
    failed = count[FAILED] + count[NOT_ATTEMPTED]
    return settled(count[KILLED], failed, text, "nothing disconnected")


@destructive(
    "kill_redis_clients", retries=2, retry_condition_fn=retry_only_transient, cache_policy=NO_CACHE
)
def kill_redis_clients(
    target: RedisTarget, plan: Plan, approval: Approval | None, *, dry_run: bool = False
) -> Action:
    """``CLIENT KILL ID`` for exactly the approved connections still idle as planned."""
    results: list[dict[str, Any]] = []
    client = target.client()
    try:
        read_info(client, target)  # unreachable: TransientError before anything is done
        own = int(client.client_id())
        now = {int(c["id"]): c for c in client.client_list()}
        planned = [(item, c) for item in plan.items for c in item["clients"]]
        for n, (item, conn) in enumerate(planned):
            cid = int(conn["id"])
            outcome = (
                NOT_SAME if cid == own else _outcome(conn, now.get(cid), item["idle_at_least"])
            )
            detail = ""
            if not outcome:
                try:
                    if dry_run:
                        outcome = WOULD
                    else:
                        killed = client.client_kill_filter(_id=str(cid), skipme=True)
                        outcome = KILLED if killed else GONE
                except redis.ConnectionError as exc:
                    lost = redact(str(exc), target.url.get_secret_value())
                    results.append({"id": cid, "outcome": FAILED, "detail": f"lost: {lost}"})
                    results += [
                        {"id": int(c["id"]), "outcome": NOT_ATTEMPTED, "detail": "connection lost"}
                        for _, c in planned[n + 1 :]
                    ]
                    break
                except redis.ResponseError as exc:
                    outcome, detail = FAILED, redact(str(exc), target.url.get_secret_value())
            results.append(
                {"id": cid, "group": item["group"], "outcome": outcome, "detail": detail}
            )
    finally:
        client.close()
    if not results and plan.items:
        raise TransientError(f"nothing reached Redis {target.label}: nothing was done")
    status, summary = _summary(results, dry_run)
    return Action(
        plan=plan,
        status=status,
        summary=summary,
        results=tuple(results),
        approver=approval.approver if approval else "",
    )
