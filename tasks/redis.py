"""Redis diagnostics (runbook 000 phase 1: ``redis-cli INFO stats``)."""

from __future__ import annotations

from typing import Any

import redis
from prefect import task
from prefect.cache_policies import NO_CACHE
from prefect.tasks import exponential_backoff

from blocks.redis import RedisTarget
from incident.errors import PermanentError, TransientError
from incident.models import Finding, FindingStatus
from incident.redact import redact
from tasks.retrying import retry_only_transient

__all__ = ["read_info", "read_redis_info"]

_FIELDS = (
    "connected_clients",
    "blocked_clients",
    "rejected_connections",
    "evicted_keys",
    "used_memory",
    "maxmemory",
    "keyspace_hits",
    "keyspace_misses",
)


def read_info(client: redis.Redis, target: RedisTarget) -> dict[str, Any]:
    """INFO (default sections) on ``client``; connection failures are classified here, once,
    for every Redis check."""
    try:
        return dict(client.info())
    except redis.AuthenticationError:
        raise PermanentError(
            f"Redis {target.label} refused the credentials: check the URL in its RedisTarget block"
        ) from None
    except (redis.ConnectionError, redis.TimeoutError) as exc:
        raise TransientError(
            f"Redis {target.label} is unreachable "
            f"({redact(str(exc), target.url.get_secret_value())}): check the URL in its "
            "RedisTarget block and that the server is up"
        ) from None
    except redis.ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc):
            raise PermanentError(
                f"Redis {target.label} requires a password the URL does not give: set it in "
                "its RedisTarget block"
            ) from None
        raise


def _info(target: RedisTarget) -> dict[str, Any]:
    client = target.client()
    try:
        return read_info(client, target)
    finally:
        client.close()


@task(
    name="read_redis_info",
    retries=3,
    retry_delay_seconds=exponential_backoff(backoff_factor=0.5),
    retry_jitter_factor=0.5,
    retry_condition_fn=retry_only_transient,
    cache_policy=NO_CACHE,
)
def read_redis_info(
    target: RedisTarget, max_memory_ratio: float = 0.9, max_blocked_clients: int = 50
) -> Finding:
    """Clients, blocked clients, rejected connections, evictions and memory against maxmemory.

    A few blocked clients are how queue consumers (BLPOP, XREADGROUP BLOCK: Prefect's own
    Redis messaging among them) wait, so they are evidence, not a problem; a pile of them
    (``max_blocked_clients`` or more) means consumers wait on producers that stopped.
    """
    info = _info(target)
    stats = {name: info.get(name, 0) for name in _FIELDS}
    problems = []
    if stats["blocked_clients"] >= max_blocked_clients:
        problems.append(f"{stats['blocked_clients']} client(s) blocked")
    if stats["rejected_connections"]:
        problems.append(f"{stats['rejected_connections']} connection(s) rejected since start")
    if stats["maxmemory"] and stats["used_memory"] > max_memory_ratio * stats["maxmemory"]:
        problems.append(f"memory at {stats['used_memory'] / stats['maxmemory']:.0%} of maxmemory")
    return Finding(
        check="redis_info",
        target=target.name or "redis",
        status=FindingStatus.WARNING if problems else FindingStatus.OK,
        summary="; ".join(problems)
        or f"{stats['connected_clients']} clients ({stats['blocked_clients']} waiting on a "
        "blocking read), no rejections",
        evidence=stats,
    )
