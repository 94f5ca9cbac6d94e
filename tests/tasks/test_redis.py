"""Redis INFO diagnostics against the real local Redis."""

from __future__ import annotations

import threading

import pytest
import redis

from blocks.redis import RedisTarget
from incident.models import FindingStatus
from tasks.redis import read_redis_info
from tests.fixtures.redis import REDIS_URL

pytestmark = pytest.mark.prefect


def test_a_healthy_redis_reports_its_clients(prefect_api, redis_sandbox):
    finding = read_redis_info(redis_sandbox.target)
    assert finding.status is FindingStatus.OK
    assert finding.evidence["connected_clients"] >= 1


def test_a_client_blocked_on_a_list_is_a_warning(prefect_api, redis_sandbox):
    blocker = redis.Redis.from_url(REDIS_URL)
    waiting = threading.Thread(
        target=blocker.blpop, args=([redis_sandbox.key("queue")],), kwargs={"timeout": 5}
    )
    waiting.start()
    try:
        for _ in range(50):
            if redis_sandbox.client.info()["blocked_clients"]:
                break
            threading.Event().wait(0.05)
        finding = read_redis_info(redis_sandbox.target, max_blocked_clients=1)
    finally:
        redis_sandbox.client.rpush(redis_sandbox.key("queue"), "wake")
        waiting.join()
        blocker.close()
    assert finding.status is FindingStatus.WARNING
    assert "blocked" in finding.summary


def test_an_unreachable_redis_fails_with_what_to_check_and_no_password(prefect_api):
    target = RedisTarget(url="redis://:Hunter2-secret@127.0.0.1:1/0", timeout_seconds=0.5)
    state = read_redis_info.with_options(retries=0)(target, return_state=True)
    assert state.is_failed()
    message = str(state.result(raise_on_failure=False))
    assert "unreachable" in message and "RedisTarget block" in message
    assert "Hunter2-secret" not in message
