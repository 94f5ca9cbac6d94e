"""Redis cache health over an interval (runbook 003 "Examine cache hit rates", 000 phase 1).

``evicted_keys``, ``rejected_connections`` and the keyspace hit/miss counters of INFO count
since the server started: a cache that evicted a million keys last week and none since is
healthy now. So the check reads INFO twice, ``interval_seconds`` apart, and judges what
happened in between; the lifetime totals are kept as evidence only. The hit rate is the
interval's when it saw at least ``min_reads`` reads, else the lifetime one (the evidence says
which).
"""

from __future__ import annotations

import time

from blocks.redis import RedisTarget
from incident.models import Finding, FindingStatus
from tasks.diagnostic import diagnostic
from tasks.redis import read_info

__all__ = ["read_redis_stats"]

_COUNTERS = (
    "keyspace_hits",
    "keyspace_misses",
    "evicted_keys",
    "rejected_connections",
    "expired_keys",
    "total_commands_processed",
)


def _hit_rate(hits: int, misses: int) -> float | None:
    return round(hits / (hits + misses), 4) if hits + misses else None


@diagnostic("redis_stats", tags=("redis",))
def read_redis_stats(
    target: RedisTarget,
    interval_seconds: float = 1.0,
    min_hit_rate: float = 0.8,
    max_memory_ratio: float = 0.9,
    min_reads: int = 20,
) -> Finding:
    """Hit rate, ops/s, evictions, rejected connections and memory against maxmemory.

    Warnings: hit rate below ``min_hit_rate``, keys evicted in the interval, memory above
    ``max_memory_ratio`` of maxmemory; critical: connections rejected in the interval
    (maxclients reached: clients are being turned away now).
    """
    client = target.client()
    try:
        first = read_info(client, target)
        started = time.monotonic()
        time.sleep(interval_seconds)
        second = read_info(client, target)
        elapsed = time.monotonic() - started
    finally:
        client.close()
    restarted = first.get("run_id") != second.get("run_id")
    delta = {
        name: second.get(name, 0) - (0 if restarted else first.get(name, 0)) for name in _COUNTERS
    }
    lifetime = {name: second.get(name, 0) for name in _COUNTERS}
    reads = delta["keyspace_hits"] + delta["keyspace_misses"]
    if reads >= min_reads:  # fewer reads in the interval say little: the lifetime rate then
        hit_rate, hit_rate_over = (
            _hit_rate(delta["keyspace_hits"], delta["keyspace_misses"]),
            "interval",
        )
    else:
        hit_rate = _hit_rate(lifetime["keyspace_hits"], lifetime["keyspace_misses"])
        hit_rate_over = "lifetime" if hit_rate is not None else None
    used, limit = second.get("used_memory", 0), second.get("maxmemory", 0)
    memory_ratio = round(used / limit, 4) if limit else None
    seconds = f"{elapsed:.1f} s"
    critical, warnings = [], []
    if delta["rejected_connections"]:
        critical.append(
            f"{delta['rejected_connections']} connection(s) rejected in {seconds} "
            f"(maxclients {second.get('maxclients', '?')} reached)"
        )
    if delta["evicted_keys"]:
        warnings.append(
            f"{delta['evicted_keys']} key(s) evicted in {seconds} "
            f"(policy {second.get('maxmemory_policy', '?')})"
        )
    if hit_rate is not None and hit_rate < min_hit_rate:
        warnings.append(f"hit rate {hit_rate:.0%} ({hit_rate_over}), below {min_hit_rate:.0%}")
    if memory_ratio is not None and memory_ratio > max_memory_ratio:
        warnings.append(f"memory at {memory_ratio:.0%} of maxmemory")
    ops = second.get("instantaneous_ops_per_sec", 0)
    if critical or warnings:
        summary = "; ".join(critical + warnings)
    else:
        rate = "no reads yet" if hit_rate is None else f"hit rate {hit_rate:.0%} ({hit_rate_over})"
        memory = f"memory {memory_ratio:.0%} of maxmemory" if limit else "no maxmemory set"
        summary = f"{rate}, {ops} ops/s, no evictions or rejections in {seconds}, {memory}"
    status = (
        FindingStatus.CRITICAL
        if critical
        else FindingStatus.WARNING
        if warnings
        else FindingStatus.OK
    )
    return Finding(
        check="redis_stats",
        target=target.label,
        status=status,
        summary=summary,
        evidence={
            "interval_seconds": round(elapsed, 3),
            "delta": delta,
            "lifetime": lifetime,
            "restarted": restarted,
            "hit_rate": hit_rate,
            "hit_rate_over": hit_rate_over,
            "instantaneous_ops_per_sec": ops,
            "ops_per_sec_measured": round(delta["total_commands_processed"] / elapsed, 1),
            "used_memory": used,
            "maxmemory": limit,
            "memory_ratio": memory_ratio,
            "maxmemory_policy": second.get("maxmemory_policy"),
            "connected_clients": second.get("connected_clients"),
            "min_hit_rate": min_hit_rate,
            "max_memory_ratio": max_memory_ratio,
        },
    )
