"""Redis hit rate, evictions, rejections and memory over an interval, on throwaway servers."""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest
import redis

from blocks.redis import RedisTarget
from incident.models import FindingStatus
from tasks.redis_stats import read_redis_stats
from tests.fixtures.receiver import wait_for
from tests.fixtures.redis import throwaway_redis

pytestmark = pytest.mark.prefect

SECRET = "Hunter2-redis-secret"


@contextmanager
def meanwhile(step: Callable[[], object]) -> Iterator[None]:
    """Run ``step`` over and over in a thread until the block ends: load during the check."""
    done = threading.Event()

    def loop() -> None:
        while not done.is_set():
            step()

    worker = threading.Thread(target=loop, daemon=True)
    worker.start()
    try:
        yield
    finally:
        done.set()
        worker.join(timeout=30)


def stat(client: redis.Redis, name: str) -> int:
    return int(client.info()[name])


def test_a_fresh_server_has_no_reads_yet_and_is_not_flagged(prefect_api, small_redis):
    finding = read_redis_stats(RedisTarget(url=small_redis, name="cache"), interval_seconds=0.2)
    assert finding.status is FindingStatus.OK, finding.summary
    assert finding.evidence["hit_rate"] is None and "no reads yet" in finding.summary
    assert finding.target.startswith("cache (127.0.0.1:")


def test_hit_rate_over_the_interval_judges_now_not_the_servers_history(prefect_api, small_redis):
    client = redis.Redis.from_url(small_redis)
    client.set("user:1", "x")
    for _ in range(90):
        client.get("user:1")
    for n in range(10):
        client.get(f"missing:{n}")
    target = RedisTarget(url=small_redis)
    calm = read_redis_stats(target, interval_seconds=0.2)
    assert calm.status is FindingStatus.OK, calm.summary  # no reads in the interval: lifetime
    assert (calm.evidence["hit_rate"], calm.evidence["hit_rate_over"]) == (0.9, "lifetime")
    reader = redis.Redis.from_url(small_redis)
    with meanwhile(lambda: reader.get(f"missing:{secrets.token_hex(4)}")):
        wait_for(lambda: stat(client, "keyspace_misses") > 50, what="misses under way")
        cold = read_redis_stats(target, interval_seconds=0.5)
    assert cold.status is FindingStatus.WARNING, cold.summary
    assert cold.evidence["hit_rate_over"] == "interval" and cold.evidence["hit_rate"] < 0.1
    assert cold.evidence["delta"]["keyspace_misses"] > 0 and "below 80%" in cold.summary
    assert cold.evidence["lifetime"]["keyspace_hits"] == 90
    reader.close()
    client.close()


def test_evictions_in_the_interval_warn_and_past_ones_do_not(prefect_api, small_redis):
    client = redis.Redis.from_url(small_redis)
    writer = redis.Redis.from_url(small_redis)
    value = "v" * 4096
    target = RedisTarget(url=small_redis)
    with meanwhile(lambda: writer.set(f"k:{secrets.token_hex(8)}", value)):
        wait_for(lambda: stat(client, "evicted_keys") > 0, what="the first eviction")
        full = read_redis_stats(target, interval_seconds=0.5)
    assert full.status is FindingStatus.WARNING, full.summary
    assert full.evidence["delta"]["evicted_keys"] > 0
    assert "evicted" in full.summary and "allkeys-lru" in full.summary
    assert full.evidence["maxmemory"] == 2 * 1024 * 1024
    client.flushall()  # the cache has room again; its lifetime counter still says otherwise
    since = read_redis_stats(target, interval_seconds=0.3)
    assert since.status is FindingStatus.OK, since.summary
    assert since.evidence["delta"]["evicted_keys"] == 0
    assert since.evidence["lifetime"]["evicted_keys"] >= full.evidence["delta"]["evicted_keys"]
    assert since.evidence["memory_ratio"] < 0.9 and "no evictions" in since.summary
    writer.close()
    client.close()


def test_memory_near_maxmemory_is_a_warning(prefect_api, small_redis):
    client = redis.Redis.from_url(small_redis)
    client.config_set("maxmemory-policy", "noeviction")  # fills up without evicting
    value = "v" * 4096
    with pytest.raises(redis.ResponseError, match="maxmemory"):
        for n in range(10_000):
            client.set(f"k:{n}", value)
    finding = read_redis_stats(RedisTarget(url=small_redis), interval_seconds=0.2)
    assert finding.status is FindingStatus.WARNING, finding.summary
    assert finding.evidence["memory_ratio"] > 0.9 and "of maxmemory" in finding.summary
    assert finding.evidence["delta"]["evicted_keys"] == 0
    client.close()


def test_connections_rejected_in_the_interval_are_critical(prefect_api, small_redis):
    admin = redis.Redis.from_url(small_redis)
    limit = 6
    admin.config_set("maxclients", limit)
    held = [redis.Redis.from_url(small_redis) for _ in range(limit - 2)]  # admin + check: 2
    for client in held:
        client.ping()

    def knock() -> None:  # only while every slot is taken, so never the check's own slot
        if admin.info("clients")["connected_clients"] >= limit:
            newcomer = redis.Redis.from_url(small_redis)
            try:
                newcomer.ping()
            except redis.ConnectionError:
                pass  # turned away: what the check must see
            finally:
                newcomer.close()
        else:
            threading.Event().wait(0.01)

    with meanwhile(knock):
        finding = read_redis_stats(RedisTarget(url=small_redis), interval_seconds=1.0)
    assert finding.status is FindingStatus.CRITICAL, finding.summary
    assert finding.evidence["delta"]["rejected_connections"] > 0
    assert "rejected" in finding.summary and f"maxclients {limit}" in finding.summary
    for client in [*held, admin]:
        client.close()


def test_a_wrong_password_is_unreachable_at_once_and_secret_free(prefect_api):
    with throwaway_redis("--requirepass", "right-redis-pw") as url:
        wrong = url.replace("redis://", f"redis://:{SECRET}@")
        finding = read_redis_stats(RedisTarget(url=wrong), interval_seconds=0.1)
        assert finding.status is FindingStatus.UNREACHABLE, finding.summary
        assert finding.evidence["attempts"] == 1 and finding.evidence["transient"] is False
        assert "refused the credentials" in finding.summary
        none = read_redis_stats(RedisTarget(url=url), interval_seconds=0.1)
        assert none.status is FindingStatus.UNREACHABLE and none.evidence["attempts"] == 1
        for f in (finding, none):
            dump = f.model_dump_json()
            assert SECRET not in dump and "right-redis-pw" not in dump


@pytest.mark.parametrize("port", ["closed_port", "silent_port"])
def test_a_closed_or_silent_port_is_unreachable_after_retries(prefect_api, request, port):
    number = request.getfixturevalue(port)
    target = RedisTarget(url=f"redis://:{SECRET}@127.0.0.1:{number}/0", timeout_seconds=0.5)
    finding = read_redis_stats(target, interval_seconds=0.1)
    assert finding.status is FindingStatus.UNREACHABLE, finding.summary
    assert finding.evidence["transient"] is True and finding.evidence["attempts"] == 4
    assert f"127.0.0.1:{number}" in finding.summary and "RedisTarget block" in finding.summary
    assert SECRET not in finding.model_dump_json()
