"""Who holds Redis' connections (runbook 000's Redis checks, 003's client counts).

``CLIENT LIST`` grouped by client name, or by host for unnamed clients: a leaking
application shows up as one group of many connections, all idle. Replicas, a master link,
subscribers and monitors are reported apart (they are idle by design), and so is the
connection this check itself uses.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from blocks.redis import RedisTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.redis import read_info

__all__ = ["EXEMPT_FLAGS", "list_redis_clients", "read_clients"]

# S replica, M master, P pub/sub subscriber, O monitor: idle connections by design
EXEMPT_FLAGS = frozenset("SMPO")


def _host(addr: str) -> str:
    return addr.rsplit(":", 1)[0] if ":" in addr else addr


def read_clients(target: RedisTarget) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """(every client but our own, our own client id, INFO) from one connection."""
    client = target.client()
    try:
        info = read_info(client, target)  # classifies an unreachable or refusing server
        own = int(client.client_id())
        rows = [
            {
                "id": int(c["id"]),
                "addr": str(c.get("addr", "")),
                "name": str(c.get("name", "")),
                "age_seconds": int(c.get("age", 0)),
                "idle_seconds": int(c.get("idle", 0)),
                "flags": str(c.get("flags", "N")),
                "cmd": str(c.get("cmd", "")),
            }
            for c in client.client_list()
            if int(c["id"]) != own
        ]
    finally:
        client.close()
    return rows, own, info


@diagnostic("redis_clients", tags=("redis",))
def list_redis_clients(target: RedisTarget, idle_seconds: float, flood_size: int) -> Finding:
    """Groups of connections idle past ``idle_seconds``; ``flood_size`` of one is a flood."""
    rows, own, info = read_clients(target)
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    exempt = []
    for row in rows:
        if set(row["flags"]) & EXEMPT_FLAGS:
            exempt.append(row)
            continue
        groups[row["name"] or _host(row["addr"])].append(row)
    summary_groups = []
    for key, members in sorted(groups.items(), key=lambda kv: -len(kv[1])):
        idle = [m for m in members if m["idle_seconds"] >= idle_seconds]
        summary_groups.append(
            {
                "group": key,
                "name": members[0]["name"],
                "host": _host(members[0]["addr"]),
                "connections": len(members),
                "idle": len(idle),
                "idle_clients": idle,
                "flood": len(idle) >= flood_size,
            }
        )
    floods = [g for g in summary_groups if g["flood"]]
    maxclients = int(info.get("maxclients", 0) or 0)  # INFO clients has it since Redis 7
    connected = int(info.get("connected_clients", len(rows) + 1))
    summary = f"{connected} connected of maxclients {maxclients or '?'}"
    if floods:
        summary += "; " + "; ".join(
            f"{g['group']}: {g['idle']} of {g['connections']} idle > {idle_seconds:g} s"
            for g in floods
        )
    return Finding(
        check="redis_clients",
        target=target.label,
        status=FindingStatus.WARNING if floods else FindingStatus.OK,
        summary=summary,
        evidence={
            "connected": connected,
            "maxclients": maxclients,
            "own_client_id": own,
            "groups": summary_groups,
            "exempt": exempt,
            "idle_seconds": idle_seconds,
            "flood_size": flood_size,
        },
    )
