"""A Redis client flood: from the client groups to a decision (runbook 000's Redis checks).

Pure functions over findings. A group of connections from one client name (or unnamed, one
host) idle past the policy's age, at least ``client_flood_size`` of them, is a leak: its
idle connections are planned for ``CLIENT KILL``, one plan item per group listing each
connection as it was seen (id, address, name, age), so the apply can spare one that woke
up or is not the same connection any more. Busy connections of the same group, protected
client names, replicas, subscribers and monitors are never planned.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from incident.decision import Decision, by_check
from incident.models import Finding, FindingStatus, Plan
from incident.plan_text import ItemView, clock, register_item_view

__all__ = ["KILL_CLIENTS", "decide_client_relief", "kill_clients_view"]

KILL_CLIENTS = "kill_redis_clients"


def decide_client_relief(
    findings: list[Finding], target: str, protected_names: Collection[str]
) -> Decision:
    clients = by_check(findings).get("redis_clients")
    if clients is None or clients.status is FindingStatus.UNREACHABLE:
        why = clients.summary if clients else "the client check did not run"
        return Decision.escalate(f"cannot list Redis' clients: {why}")
    notes: list[str] = []
    items = []
    for group in clients.evidence.get("groups", []):
        if not group.get("flood"):
            continue
        if group.get("name") and group["name"] in protected_names:
            notes.append(f"{group['idle']} idle client(s) named {group['name']}: protected")
            continue
        busy = group["connections"] - group["idle"]
        items.append(
            {
                "group": group["group"],
                "name": group.get("name", ""),
                "host": group.get("host", ""),
                "idle_at_least": clients.evidence["idle_seconds"],
                "clients": [
                    {k: c[k] for k in ("id", "addr", "name", "age_seconds", "idle_seconds")}
                    for c in group["idle_clients"]
                ],
                "reason": (
                    f"{group['idle']} connection(s) idle for more than "
                    f"{clients.evidence['idle_seconds']:g} s"
                    + (f"; its {busy} busy one(s) are left alone" if busy else "")
                ),
                "as_of": clients.observed_at.isoformat(),
            }
        )
    if not items:
        why = "; ".join(notes) or f"no client group floods Redis ({clients.summary})"
        return Decision.escalate(why, notes=notes)
    total = sum(len(i["clients"]) for i in items)
    plan = Plan(
        action=KILL_CLIENTS,
        target=target,
        reason=f"{total} idle connection(s) from {len(items)} leaking client group(s)",
        items=tuple(sorted(items, key=lambda i: i["group"])),
    )
    return Decision.mitigate(f"Redis client flood: {clients.summary}", [plan], notes=notes)


@register_item_view(KILL_CLIENTS)
def kill_clients_view(item: dict[str, Any]) -> ItemView:
    clients = item.get("clients", [])
    ids = [str(c["id"]) for c in clients]
    shown = ", ".join(ids[:12]) + (f", … ({len(ids) - 12} more)" if len(ids) > 12 else "")
    ages = [int(c.get("age_seconds", 0)) for c in clients] or [0]
    return ItemView(
        heading=f"{item['group']} — disconnect {len(clients)} idle connection(s)",
        facts=[
            ("client", f"name `{item.get('name') or '(none)'}` from {item.get('host')}"),
            ("why", str(item.get("reason", ""))),
            ("connected for", f"{min(ages)} to {max(ages)} s, as of {clock(item.get('as_of'))}"),
            ("client ids", shown),
            ("spared", "any that is busy again, or not the same connection, when applied"),
        ],
    )
